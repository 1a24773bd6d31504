/**
 * `npm run fuzz`: the fuzz targets with a fixed seed, short (CI, ≤ ~60 s) or long (≥ 1 M inputs
 * per target). Prints one table per target; exits 1 on any failure, after writing each failing
 * input to the crash folder.
 *
 *   node dist/test/fuzz/run.js [--long] [--seed N] [--target NAME[,NAME]] [--count N]
 *                              [--budget-ms N] [--crash-dir DIR] [--json FILE]
 *   node dist/test/fuzz/run.js --replay FILE…      run saved inputs again (crashes, regressions)
 */
import { writeFileSync } from 'node:fs';
import { parseArgs, replay, runFuzz } from './runner.js';
import { loadSeeds } from './seeds.js';

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.replay.length > 0) {
    process.exitCode = (await replay(args.replay)) > 0 ? 1 : 0;
    return;
  }
  const seeds = await loadSeeds();
  console.log(`fuzz ${args.long ? 'long' : 'short'} run, seed ${args.seed}; seeds: ${seeds.sources.join('; ')}`);
  const started = Date.now();
  const result = await runFuzz(args, console.log, seeds);
  console.log(`\n${result.failures === 0 ? 'no failures' : `${result.failures} FAILURES (inputs in ${args.crashDir})`} — ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (args.json !== null) {
    writeFileSync(args.json, JSON.stringify(result.reports.map((r) => ({ ...r, rejections: Object.fromEntries(r.rejections) })), null, 2));
  }
  process.exitCode = result.failures > 0 ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 2;
});
