/**
 * The test runner wrapper behind `npm test`: skipped suites and tests are listed with their file
 * and reason right above node's own closing summary, which stays last; a failure still fails.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './helpers/env.js';
import { makeTmpDir } from './control/helpers.js';

const underTsx = import.meta.url.endsWith('.ts');
const RUNNER = underTsx ? path.join(PROJECT_ROOT, 'test', 'run-tests.ts') : path.join(PROJECT_ROOT, 'dist', 'test', 'run-tests.js');

function runRunner(dir: string): { code: number | null; lines: string[] } {
  const r = spawnSync(process.execPath, [...(underTsx ? ['--import', import.meta.resolve('tsx')] : []), RUNNER, dir], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
    // Inside a test, node marks child runners as part of this run (NODE_TEST_CONTEXT); this one must stand alone.
    env: { ...process.env, NODE_TEST_CONTEXT: undefined },
  });
  return { code: r.status, lines: r.stdout.trimEnd().split('\n') };
}

describe('test/run-tests', () => {
  test('lists every skip with its file and reason before node\'s summary', () => {
    const dir = makeTmpDir('sipcapture-runner-');
    try {
      mkdirSync(path.join(dir, 'sub'));
      writeFileSync(
        path.join(dir, 'a.test.mjs'),
        "import { describe, test } from 'node:test';\n" +
          "describe('needs pg', { skip: 'skipped: PostgreSQL is not available' }, () => { test('x', () => {}); });\n" +
          "test('runs', () => {});\n" +
          "test('inner', (t) => t.skip('root is not available'));\n",
      );
      writeFileSync(path.join(dir, 'sub', 'b.test.mjs'), "import { test } from 'node:test';\ntest('pg too', { skip: 'skipped: PostgreSQL is not available' }, () => {});\n");
      const { code, lines } = runRunner(dir);
      assert.equal(code, 0);
      const report = lines.indexOf('# skip report: 3 tests or suites skipped');
      assert.ok(report > 0, lines.slice(-20).join('\n'));
      assert.deepEqual(lines.slice(report + 1, report + 6), [
        '#   2 × PostgreSQL is not available',
        '#       a.test.mjs: needs pg',
        '#       sub/b.test.mjs: pg too',
        '#   1 × root is not available',
        '#       a.test.mjs: inner',
      ]);
      // node's own summary closes the output.
      assert.match(lines.slice(report + 6).join('\n'), /^# tests 3\n# suites 1\n# pass 1\n# fail 0\n/);
      assert.match(lines.at(-1) ?? '', /^# duration_ms /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a failing test fails the run', () => {
    const dir = makeTmpDir('sipcapture-runner-');
    try {
      writeFileSync(path.join(dir, 'c.test.mjs'), "import { test } from 'node:test';\ntest('fails', () => { throw new Error('no'); });\n");
      const { code, lines } = runRunner(dir);
      assert.equal(code, 1);
      assert.ok(lines.includes('# skip report: nothing skipped'));
      assert.ok(lines.includes('# fail 1'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
