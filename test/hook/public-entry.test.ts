/**
 * The published hook entry: what a hook author gets with `import type { HookRequest } from
 * 'sipcapture/hook'`. The declarations are emitted as `npm run build` does (tsconfig.hook.json)
 * into a scratch package that has this package.json's `exports`, and a hook module is compiled
 * against it in a project of its own, with strict settings: it must compile, and a misspelt
 * field must not (the types are real, not `any`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../helpers/env.js';
import { makeTmpDir } from '../helpers/daemon.js';

const tsc = path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function run(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [tsc, ...args], { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('sipcapture/hook: a TypeScript hook compiles against the published declarations, and a wrong field does not', () => {
  const dir = makeTmpDir('hook-entry');
  const pkg = path.join(dir, 'node_modules', 'sipcapture');
  mkdirSync(pkg, { recursive: true });
  const built = run(['-p', path.join(PROJECT_ROOT, 'tsconfig.hook.json'), '--outDir', path.join(pkg, 'dist')], PROJECT_ROOT);
  assert.equal(built.status, 0, built.out);

  const own = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { name: string; type: string; exports: unknown };
  writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: own.name, type: own.type, exports: own.exports }));
  mkdirSync(path.join(dir, 'node_modules', '@types'));
  symlinkSync(path.join(PROJECT_ROOT, 'node_modules', '@types', 'node'), path.join(dir, 'node_modules', '@types', 'node'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', types: ['node'], skipLibCheck: false }, files: ['hook.ts'] }),
  );
  const hook = (field: string): string =>
    `import type { HookRequest } from 'sipcapture/hook';\n` +
    `export function onPacket(_event: string, hep: HookRequest): number {\n` +
    `  return hep.${field} === 100 ? hep.report_capture('logs', hep.correlationId ?? '') : 1;\n}\n`;

  writeFileSync(path.join(dir, 'hook.ts'), hook('protoType'));
  const ok = run(['-p', dir], dir);
  assert.equal(ok.status, 0, ok.out);

  writeFileSync(path.join(dir, 'hook.ts'), hook('protoTyp'));
  const bad = run(['-p', dir], dir);
  assert.notEqual(bad.status, 0);
  assert.match(bad.out, /Property 'protoTyp' does not exist on type 'HookRequest'/);
});
