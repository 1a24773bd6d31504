/**
 * The short fuzz run (fixed seed, the counts of `npm run fuzz`) inside the test suite: every
 * target must finish without an exception escaping, a broken invariant, an unnamed rejection,
 * a confirmed hang or unbounded memory. A failure prints the table and the saved input's path.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs, runFuzz } from './runner.js';
import { loadSeeds, type Seeds } from './seeds.js';
import { TARGETS } from './targets.js';

describe('fuzz (short run, fixed seed)', () => {
  let seeds: Seeds;
  let crashDir: string;
  before(async () => {
    // The live-heap check needs a full GC; node --test does not pass --expose-gc.
    if ((globalThis as { gc?: unknown }).gc === undefined) {
      setFlagsFromString('--expose-gc');
      (globalThis as { gc?: unknown }).gc = runInNewContext('gc');
    }
    seeds = await loadSeeds();
    crashDir = mkdtempSync(join(tmpdir(), 'sipcapture-fuzz-test-'));
  });
  after(() => rmSync(crashDir, { recursive: true, force: true }));

  for (const spec of TARGETS) {
    test(`${spec.name}: ${spec.short.toLocaleString('en-US')} inputs, no failure`, async () => {
      const lines: string[] = [];
      const { reports, failures } = await runFuzz({ ...parseArgs(['--target', spec.name, '--crash-dir', crashDir]) }, (l) => lines.push(l), seeds);
      const report = reports[0]!;
      console.log(lines.join('\n'));
      assert.equal(report.inputs, spec.short);
      assert.equal(failures, 0, lines.join('\n'));
      // The run must reach both sides of the decoder, or the mutations are not doing their job.
      assert.ok(report.accepted > 0, 'nothing accepted');
      assert.ok(report.rejections.size >= 4, `only ${report.rejections.size} distinct rejection reasons`);
      assert.ok(report.liveHeapLast >= 0, 'the live heap was not measured');
    });
  }
});
