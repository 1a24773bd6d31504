/**
 * `npm test` / `npm run test:dev`: runs every *.test.{js,ts} under the folder given, one file at
 * a time, with node's test runner (TAP), passes its output through, and before node's closing
 * summary lists what was skipped, where and why. A suite skipped for a missing server or
 * ../shared does not count in node's "# skipped" at all, so the skips are collected by a
 * reporter of our own (below). The last lines stay node's own ("# pass N", "# fail N") for CI
 * tools; the exit code is node's.
 *
 *   node dist/test/run-tests.js dist/test        node --import tsx test/run-tests.ts test
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...testFiles(p));
    else if (/\.test\.(js|ts|mjs)$/.test(entry.name)) out.push(p);
  }
  return out.sort();
}

/** node's closing summary lines (`# tests 12`, `# pass 10`, …). */
const SUMMARY_LINE = /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /;

export interface Skip {
  file: string;
  name: string;
  reason: string;
}

/** The skip report printed above node's summary. */
export function skipReport(skips: readonly Skip[]): string[] {
  if (skips.length === 0) return ['# skip report: nothing skipped'];
  const byReason = new Map<string, Skip[]>();
  for (const s of skips) byReason.set(s.reason, [...(byReason.get(s.reason) ?? []), s]);
  const lines = [`# skip report: ${skips.length} test${skips.length === 1 ? '' : 's'} or suite${skips.length === 1 ? '' : 's'} skipped`];
  for (const [reason, list] of byReason) {
    lines.push(`#   ${list.length} × ${reason}`);
    for (const s of list) lines.push(`#       ${s.file}: ${s.name}`);
  }
  return lines;
}

/**
 * A node:test reporter writing one JSON line per skipped test or suite, with its file (which
 * the TAP output does not carry; node does not report a skipped suite's tests). Passed to node
 * as a data: URL because node loads reporters before `--import tsx` applies, so a .ts module
 * could not be one under `npm run test:dev`.
 */
const SKIP_REPORTER = `
export default async function* (source) {
  for await (const event of source) {
    const skip = event.data?.skip;
    if (event.type !== 'test:pass' || skip === undefined || skip === false) continue;
    const reason = typeof skip === 'string' ? skip.replace(/^skipped:\\s*/, '').trim() : '';
    yield JSON.stringify({ file: event.data.file ?? '?', name: event.data.name ?? '?', reason: reason || '(no reason given)' }) + '\\n';
  }
}`;

async function main(): Promise<number> {
  const dir = process.argv[2] ?? 'dist/test';
  const files = testFiles(dir);
  const underTsx = fileURLToPath(import.meta.url).endsWith('.ts');
  const skipsFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'sipcapture-skips-')), 'skips.jsonl');
  const args = [
    // Resolved here: the tests may run from another folder (cwd) than the project's.
    ...(underTsx ? ['--import', import.meta.resolve('tsx')] : []),
    '--test',
    '--test-concurrency=1',
    '--test-reporter=tap',
    '--test-reporter-destination=stdout',
    `--test-reporter=data:text/javascript,${encodeURIComponent(SKIP_REPORTER)}`,
    `--test-reporter-destination=${skipsFile}`,
    ...files,
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const summary: string[] = [];
  for await (const line of createInterface({ input: child.stdout })) {
    if (SUMMARY_LINE.test(line)) summary.push(line);
    else process.stdout.write(`${line}\n`);
  }
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  const skips = existsSync(skipsFile)
    ? readFileSync(skipsFile, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Skip)
        .map((skip) => ({ ...skip, file: path.relative(process.cwd(), skip.file) }))
    : [];
  rmSync(path.dirname(skipsFile), { recursive: true, force: true });
  process.stdout.write(`${[...skipReport(skips), ...summary].join('\n')}\n`);
  return code;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main();
}
