/** Options, report tables, the run and the replay of the fuzz CLI (run.ts) and test (fuzz.test.ts). */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mib, readInputFile, runTarget, type FuzzOptions, type FuzzReport } from './harness.js';
import { loadSeeds, type Seeds } from './seeds.js';
import { DEFAULT_SEED, LONG_COUNT, TARGETS } from './targets.js';

export interface RunArgs {
  long: boolean;
  seed: number;
  targets: string[];
  count: number | null;
  budgetMs: number;
  crashDir: string;
  json: string | null;
  replay: string[];
}

export function parseArgs(argv: readonly string[]): RunArgs {
  const args: RunArgs = {
    long: false,
    seed: DEFAULT_SEED,
    targets: TARGETS.map((t) => t.name),
    count: null,
    budgetMs: 50,
    crashDir: join(tmpdir(), 'sipcapture-fuzz-crashes'),
    json: null,
    replay: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = value();
      if (!/^\d+$/.test(v)) throw new Error(`${a}: ${v} is not a non-negative integer`);
      return Number(v);
    };
    if (a === '--long') args.long = true;
    else if (a === '--seed') args.seed = int();
    else if (a === '--count') args.count = int();
    else if (a === '--budget-ms') args.budgetMs = int();
    else if (a === '--crash-dir') args.crashDir = value();
    else if (a === '--json') args.json = value();
    else if (a === '--target') {
      args.targets = value().split(',');
      for (const t of args.targets) if (!TARGETS.some((s) => s.name === t)) throw new Error(`unknown target ${t} (${TARGETS.map((s) => s.name).join(', ')})`);
    } else if (a === '--replay') {
      while (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) args.replay.push(argv[++i]!);
    } else throw new Error(`unknown option ${a}`);
  }
  return args;
}

export function formatReport(r: FuzzReport): string {
  const rows: [string, string][] = [
    ['inputs', r.inputs.toLocaleString('en-US')],
    ['accepted (messages/frames/rows)', r.accepted.toLocaleString('en-US')],
    ...[...r.rejections.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]): [string, string] => [`  rejected ${k}`, v.toLocaleString('en-US')]),
    ['duration', `${(r.durationMs / 1000).toFixed(1)} s (${Math.round(r.inputs / (r.durationMs / 1000)).toLocaleString('en-US')} inputs/s)`],
    ['max time of one call', `${r.maxInputMs.toFixed(2)} ms (input ${r.maxInputIndex}; a TCP chunk push or a frame for hep-tcp/raw)`],
    ['slow once, fast when re-timed', String(r.slowUnconfirmed)],
    ['peak heap used / RSS', `${mib(r.peakHeapBytes)} / ${mib(r.peakRssBytes)} (sampled every 2,000 inputs, garbage included)`],
    ...(r.liveHeapFirst < 0
      ? []
      : [['live heap after GC: first / peak / last', `${mib(r.liveHeapFirst)} / ${mib(r.liveHeapPeak)} / ${mib(r.liveHeapLast)}`] as [string, string]]),
    ...Object.entries(r.state).map(([k, v]): [string, string] => [k, v.toLocaleString('en-US')]),
    ['failures', String(r.failures.length)],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = [`== ${r.target} (seed ${r.seed})`, ...rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`)];
  for (const f of r.failures) lines.push(`  FAIL #${f.index} ${f.kind}: ${f.message.split('\n')[0]}${f.file === null ? '' : `\n       input: ${f.file}`}`);
  return lines.join('\n');
}

export interface RunResult {
  reports: FuzzReport[];
  failures: number;
}

/** Runs the chosen targets; used by the CLI and by test/fuzz/fuzz.test.ts. */
export async function runFuzz(args: RunArgs, log: (line: string) => void = console.log, seeds?: Seeds): Promise<RunResult> {
  const s = seeds ?? (await loadSeeds());
  const reports: FuzzReport[] = [];
  for (const name of args.targets) {
    const spec = TARGETS.find((t) => t.name === name)!;
    const count = args.count ?? (args.long ? LONG_COUNT : spec.short);
    const opts: FuzzOptions = {
      seed: args.seed,
      count,
      budgetMs: args.budgetMs,
      maxHeapBytes: 1024 * 1024 * 1024,
      sampleEvery: 2000,
      gcEvery: args.long ? 50_000 : 10_000,
      maxLiveGrowthBytes: 64 * 1024 * 1024,
      crashDir: args.crashDir,
      maxFailures: 20,
      progress: args.long ? (done) => { if (done % 100_000 === 0 && done > 0) log(`   ${name}: ${done.toLocaleString('en-US')} inputs`); } : undefined,
    };
    const report = await runTarget(spec.make(s), opts);
    reports.push(report);
    log(formatReport(report));
  }
  return { reports, failures: reports.reduce((n, r) => n + r.failures.length, 0) };
}

/** Runs saved inputs; returns the number that failed. */
export async function replay(files: readonly string[], log: (line: string) => void = console.log, seeds?: Seeds): Promise<number> {
  const s = seeds ?? (await loadSeeds());
  let failed = 0;
  for (const file of files) {
    const { target, input } = readInputFile(file);
    const spec = TARGETS.find((t) => t.name === target);
    if (spec === undefined) throw new Error(`${file}: unknown target ${target}`);
    const t = spec.make(s);
    try {
      const outcome = t.execute(input);
      t.checkState?.();
      const finish = t.finish?.();
      const reasons = [...outcome.rejections, ...(finish?.rejections ?? [])];
      const unknown = reasons.filter((r) => !t.reasons.has(r));
      if (unknown.length > 0) throw new Error(`unknown rejection reasons ${unknown.join(', ')}`);
      log(`ok   ${file}: ${target}, accepted ${outcome.accepted}, rejected ${reasons.length === 0 ? '-' : [...new Set(reasons)].join(' ')}`);
    } catch (err) {
      failed++;
      log(`FAIL ${file}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
  }
  return failed;
}

