/**
 * `npm run bench`: throughput of the daemon, end to end, per database.
 *
 * For each backend: measure the same-run ceilings (a bare client writing the same rows, and the
 * daemon's Store alone), then step the offered rate up. Each step starts a fresh daemon (child
 * process, default config, its own table), sends ≥ 50,000 messages with `sipcapture send`
 * (child process), waits until the rows stop arriving, and reports sent, stored, lost (the
 * daemon's drop reasons, the socket's kernel drops), CPU of daemon / database / sender, peak RSS,
 * latency p50/p99 (send time → row visible) and start-up time. Prints the highest rate with zero
 * loss, the ceiling, and the ratio.
 *
 *   npm run build && npm run bench -- [options]           (compiled JS; never measure under tsx)
 *   node dist/bench/system/run.js --backends postgres --steps 10000,20000,30000 --step-seconds 10
 *   node dist/bench/system/run.js --quick                         (CI-sized: a few short steps)
 *   node dist/bench/system/run.js --backends postgres --schema homer5,homer7   (both schemas, steps interleaved)
 *
 * Run with --help for every option.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { mysqlBackend, postgresBackend, postgresHomer7Backend, sqliteBackend, type BackendName, type BenchBackend, type Ceiling } from '../harness/backends.js';
import { PARAMS } from '../../src/config/params.js';
import { machineInfo } from '../harness/proc.js';
import { generateRows } from '../harness/rows.js';
import { numberArg } from '../harness/args.js';
import { benchPaths, fmt, fmtMs, runDaemonStep, runSender, STEP_HEADER, stepLine, zeroLoss, type StepResult, type StepSettings } from '../harness/step.js';

const HELP = `Usage: node dist/bench/system/run.js [options]

  --backends LIST       sqlite,postgres,mysql (default: all; unreachable servers are skipped)
  --schema LIST         homer5, homer7 or homer5,homer7 (default homer5). homer7: a \`schema: homer7\` daemon writing
                        the hep_proto_* tables, PostgreSQL only (needs --backends postgres), a fresh PostgreSQL schema
                        per step; its latency comes from a 1 % sample of the rows (by create_date). Both: the two
                        daemons take turns at each rate (homer5 step, homer7 step, next rate, ...)
  --steps LIST          offered rates, msg/s (default 2000,5000,10000,20000,30000,40000,50000,60000,80000,100000)
  --step-seconds N      each step sends max(--min-count, rate × N) messages (default 10)
  --min-count N         messages per step at least (default 50000: the zero-loss claim needs ≥ 50,000)
  --stop-after-loss N   stop stepping after N steps with loss (default 1)
  --refine N            then bisect between the best zero-loss and the first lossy rate N times (default 2)
  --transport udp|tcp   (default udp)        --hep 1|2|3 (default 3)      --mix call|register|options|mixed (default mixed)
  --sender-workers N    sender threads (default 1)
  --warmup N            before each step, N messages at --warmup-rate (default 20000 at 5000/s; 0 = none) into the
                        same daemon and table, not counted: the step measures a warm daemon (JIT, connections)
  --ceiling-rows N      rows per ceiling measurement (default 100000; 0 = skip ceilings)
  --ceiling-rounds N    best of N (default 2)
  --set KEY=VALUE       daemon config override, repeatable (e.g. --set batch_size=5000); default config otherwise
  --profile RATE|best   after the steps, one more step with node --cpu-prof at RATE (best: the best zero-loss rate)
  --poll-ms N           latency poll interval (default 100)
  --settle-ms N         a step ends when no new row arrived for N ms (default 3000)
  --p99-ms N            the latency a step may have and still "keep up" (default 1000)
  --pg-url URL          (default $SIPCAPTURE_TEST_PG_URL or postgres://postgres@127.0.0.1:5432/test)
  --mysql-url URL       (default $SIPCAPTURE_TEST_MYSQL_URL or mysql://root@127.0.0.1:3306/test)
  --entry FILE          CLI entry of the daemon and sender (default: ../src/cli.js next to this script)
  --node-args "ARGS"    extra node flags for the daemon (e.g. "--max-semi-space-size=64")
  --out FILE            also write all results as JSON
  --keep                keep the step tables (default: dropped)
  --quick               CI-sized: steps 2000,10000, 2 s steps, 5000 messages min, 10000 ceiling rows, 2000 warm-up, no refine
  --viewer-load         during each step, one client queries the daemon's viewer API back to back (the last
                        hour's 1,000 newest rows, a From-user search, the live view): does reading disturb capture?
  --calibrate-sender    first measure the sender alone (into a socket that only counts): unlimited with 1 and 2
                        threads, and 100,000/s with 1 thread
`;

interface BackendReport {
  backend: BackendName;
  schema: BenchBackend['schema'];
  server: string;
  ceilings: Ceiling[];
  steps: StepResult[];
  profile: StepResult | null;
  bestZeroLoss: number | null;
  bestZeroLossP99Ok: number | null;
}

const args = parseArgs({
  options: {
    backends: { type: 'string', default: 'sqlite,postgres,mysql' },
    schema: { type: 'string', default: 'homer5' },
    steps: { type: 'string' },
    'step-seconds': { type: 'string' },
    'min-count': { type: 'string' },
    'stop-after-loss': { type: 'string', default: '1' },
    refine: { type: 'string' },
    transport: { type: 'string', default: 'udp' },
    hep: { type: 'string', default: '3' },
    mix: { type: 'string', default: 'mixed' },
    'sender-workers': { type: 'string', default: '1' },
    'ceiling-rows': { type: 'string' },
    'ceiling-rounds': { type: 'string', default: '2' },
    set: { type: 'string', multiple: true, default: [] },
    profile: { type: 'string' },
    'poll-ms': { type: 'string', default: '100' },
    'settle-ms': { type: 'string', default: '3000' },
    'p99-ms': { type: 'string', default: '1000' },
    'pg-url': { type: 'string', default: process.env['SIPCAPTURE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test' },
    'mysql-url': { type: 'string', default: process.env['SIPCAPTURE_TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test' },
    entry: { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    'calibrate-sender': { type: 'boolean', default: false },
    'viewer-load': { type: 'boolean', default: false },
    'node-args': { type: 'string', default: '' },
    warmup: { type: 'string' },
    'warmup-rate': { type: 'string', default: '5000' },
    help: { type: 'boolean', default: false },
  },
  allowPositionals: false,
});
const o = args.values;
if (o.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const num = numberArg;
const quick = o.quick === true;
const steps = (o.steps ?? (quick ? '2000,10000' : '2000,5000,10000,20000,30000,40000,50000,60000,80000,100000')).split(',').map((s) => num(s.trim(), 0)).filter((n) => n > 0);
const stepSeconds = num(o['step-seconds'], quick ? 2 : 10);
const minCount = num(o['min-count'], quick ? 5000 : 50_000);
const stopAfterLoss = Math.max(1, num(o['stop-after-loss'], 1));
const refine = num(o.refine, quick ? 0 : 2);
const ceilingRows = num(o['ceiling-rows'], quick ? 10_000 : 100_000);
const warmup = num(o.warmup, quick ? 2000 : 20_000);
const warmupRate = Math.max(1, num(o['warmup-rate'], 5000));
const ceilingRounds = Math.max(1, num(o['ceiling-rounds'], 2));
const pollMs = Math.max(10, num(o['poll-ms'], 100));
const settleMs = num(o['settle-ms'], 3000);
const p99LimitMs = num(o['p99-ms'], 1000);
const p99Text = p99LimitMs % 1000 === 0 ? `${p99LimitMs / 1000} s` : `${p99LimitMs} ms`;
const paths = benchPaths();
const entry = o.entry ?? paths.entry;
const nodeArgsForEntry = entry.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
const extraNodeArgs = (o['node-args'] ?? '').split(/\s+/).filter((a) => a !== '');
const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`.slice(-10);
const workDir = mkdtempSync(path.join(os.tmpdir(), 'sipcapture-bench-'));

const overrides: Record<string, unknown> = {};
for (const kv of o.set ?? []) {
  const eq = kv.indexOf('=');
  if (eq <= 0) throw new RangeError(`--set needs KEY=VALUE, got ${kv}`);
  const key = kv.slice(0, eq);
  const raw = kv.slice(eq + 1);
  overrides[key] = /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

const settings: StepSettings = {
  entry,
  nodeArgsForEntry,
  daemonNodeArgs: [...paths.probeArgs, ...extraNodeArgs],
  workDir,
  runId,
  overrides,
  stepSeconds,
  minCount,
  warmup,
  warmupRate,
  pollMs,
  settleMs,
  transport: o.transport ?? 'udp',
  hep: o.hep ?? '3',
  mix: o.mix ?? 'mixed',
  senderWorkers: o['sender-workers'] ?? '1',
  keep: o.keep === true,
  viewerLoad: o['viewer-load'] === true,
};

function median(sorted: readonly number[]): number {
  const m = sorted.length / 2;
  return sorted.length % 2 === 1 ? sorted[Math.floor(m)]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

const schemas = [...new Set((o.schema ?? 'homer5').split(',').map((x) => x.trim()))];
for (const x of schemas) if (x !== 'homer5' && x !== 'homer7') throw new RangeError(`unknown --schema ${x} (homer5, homer7)`);
const backendNames = (o.backends ?? '').split(',').map((x) => x.trim());
if (schemas.includes('homer7') && backendNames.some((b) => b !== 'postgres')) {
  process.stderr.write(`--schema homer7 writes HOMER 7 tables (hep_proto_*), which sipcapture writes to PostgreSQL only: run it with --backends postgres (got --backends ${o.backends})\n`);
  process.exit(2);
}
/** The daemon's homer7_partition_minutes (the HOMER 7 poller reads partitions by name). */
const partitionMinutes = Number(overrides['homer7_partition_minutes'] ?? PARAMS.find((p) => p.name === 'homer7_partition_minutes')?.default ?? 120);

async function openBackend(name: BackendName, schema: string): Promise<BenchBackend | null> {
  try {
    if (schema === 'homer7') return await postgresHomer7Backend(o['pg-url'], partitionMinutes);
    if (name === 'sqlite') return sqliteBackend(mkdirAndReturn(path.join(workDir, 'sqlite')));
    if (name === 'postgres') return await postgresBackend(o['pg-url']);
    return await mysqlBackend(o['mysql-url']);
  } catch (err) {
    log(`# ${name}: skipped, server not usable: ${(err as Error).message}`);
    return null;
  }
}

function mkdirAndReturn(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

const labelOf = (b: BenchBackend): string => (b.schema === 'homer7' ? `${b.name}/homer7` : b.name);

/** One backend and schema stepping through the rates, next to the others (--schema homer5,homer7). */
interface Lane {
  backend: BenchBackend;
  label: string;
  server: string;
  ceilings: Ceiling[];
  results: StepResult[];
  good: number | null;
  bad: number | null;
  losses: number;
  /** Stepping (then the first refinement, then the second) is over for this lane. */
  done: boolean;
}

/**
 * Steps every lane through the same rates, taking turns at each rate, then refines each lane's
 * zero-loss rate (and its zero-loss-and-p99 ≤ --p99-ms rate) by bisection, also taking turns. One
 * lane is the plain run: ceilings, steps, refinement, profile.
 */
async function benchLanes(backends: readonly BenchBackend[]): Promise<BackendReport[]> {
  const lanes: Lane[] = [];
  for (const backend of backends) {
    const label = labelOf(backend);
    const server = await backend.describe();
    log(`\n## ${label}: ${server}`);
    let ceilings: Ceiling[] = [];
    if (ceilingRows > 0) {
      log(`# ceilings: ${fmt(ceilingRows)} rows from the same traffic, best of ${ceilingRounds}`);
      const rows = generateRows(ceilingRows, (o.mix ?? 'mixed') as 'mixed');
      ceilings = await backend.ceilings(rows, `bench_${runId}_${backend.name.slice(0, 2)}${backend.schema === 'homer7' ? '7' : ''}_ceil`, ceilingRounds);
      for (const c of ceilings) log(`#   ${c.name.padEnd(50)} ${fmt(c.rowsPerSec).padStart(8)} rows/s  (${c.batching})`);
    }
    lanes.push({ backend, label, server, ceilings, results: [], good: null, bad: null, losses: 0, done: false });
  }
  const several = lanes.length > 1;
  const width = Math.max(...lanes.map((l) => l.label.length));
  log(several ? `${'schema'.padEnd(width)} ${STEP_HEADER}` : STEP_HEADER);
  const run = async (lane: Lane, rate: number): Promise<StepResult> => {
    const r = await runDaemonStep(settings, lane.backend, rate);
    lane.results.push(r);
    log(several ? `${lane.label.padEnd(width)} ${stepLine(r)}` : stepLine(r));
    for (const line of r.notable.slice(0, 3)) log(`#     ${line.slice(0, 300)}`);
    if (r.unexplained !== 0) log(`#     ${fmt(r.unexplained)} lost rows not explained by daemon drops or socket drops`);
    if (r.warmupLost !== 0) log(`#     warm-up: ${fmt(r.warmupLost)} of ${fmt(r.warmupSent)} lost (not counted in the step)`);
    if (r.viewer) log(`#     viewer: ${fmt(r.viewer.queries)} queries, ${fmt(r.viewer.errors)} failed, mean ${fmtMs(r.viewer.meanMs)} ms, max ${fmtMs(r.viewer.maxMs)} ms${r.viewer.firstError === null ? '' : ` (${r.viewer.firstError})`}`);
    if (r.latencySampled !== undefined) log(`#     latency from ${fmt(r.latencySampled)} sampled rows`);
    return r;
  };
  for (const rate of steps) {
    for (const lane of lanes) {
      if (lane.done) continue;
      const r = await run(lane, rate);
      if (zeroLoss(r)) lane.good = Math.max(lane.good ?? 0, rate);
      else {
        lane.bad = lane.bad === null ? rate : Math.min(lane.bad, rate);
        if (++lane.losses >= stopAfterLoss) lane.done = true;
      }
    }
  }
  for (const lane of lanes) lane.done = false;
  for (let i = 0; i < refine; i++) {
    for (const lane of lanes) {
      const { good, bad } = lane;
      if (lane.done || good === null || bad === null || bad - good <= 1000) {
        lane.done = true;
        continue;
      }
      const mid = Math.round((good + bad) / 2 / 1000) * 1000;
      if (mid <= good || mid >= bad) {
        lane.done = true;
        continue;
      }
      const r = await run(lane, mid);
      if (zeroLoss(r)) lane.good = mid;
      else lane.bad = mid;
    }
  }
  // Then the same for "zero loss and p99 ≤ --p99-ms": a backlog can hide behind the queue for a 10 s step.
  const keepsUp = (r: StepResult): boolean => zeroLoss(r) && r.p99Ms <= p99LimitMs;
  for (const lane of lanes) lane.done = false;
  for (let i = 0; i < refine; i++) {
    for (const lane of lanes) {
      if (lane.done) continue;
      const okRates = lane.results.filter(keepsUp).map((r) => r.rate);
      const ok = okRates.length > 0 ? Math.max(...okRates) : null;
      const notOk = lane.results.filter((r) => !keepsUp(r) && (ok === null || r.rate > ok)).map((r) => r.rate);
      const lo = notOk.length > 0 ? Math.min(...notOk) : null;
      const mid = ok === null || lo === null ? 0 : Math.round((ok + lo) / 2 / 1000) * 1000;
      if (ok === null || lo === null || lo - ok <= 1000 || mid <= ok || mid >= lo || lane.results.some((r) => r.rate === mid)) {
        lane.done = true;
        continue;
      }
      await run(lane, mid);
    }
  }
  const reports: BackendReport[] = [];
  for (const lane of lanes) {
    const { backend, results } = lane;
    const zero = results.filter(zeroLoss);
    const bestZeroLoss = zero.length > 0 ? Math.max(...zero.map((r) => r.rate)) : null;
    const p99ok = zero.filter((r) => r.p99Ms <= p99LimitMs);
    const bestZeroLossP99Ok = p99ok.length > 0 ? Math.max(...p99ok.map((r) => r.rate)) : null;
    let profile: StepResult | null = null;
    if (o.profile !== undefined) {
      const rate = o.profile !== '' && o.profile !== 'best' ? num(o.profile, 0) : (bestZeroLoss ?? steps[0] ?? 10_000);
      const dir = mkdirAndReturn(path.join(workDir, `profile-${backend.name}${backend.schema === 'homer7' ? '-homer7' : ''}`));
      log(`# ${several ? `${lane.label}: ` : ''}profile step at ${fmt(rate)}/s (node --cpu-prof; not counted above)`);
      profile = await runDaemonStep(settings, backend, rate, dir);
      log(stepLine(profile));
      for (const p of profile.profile ?? []) {
        log(`#   ${path.basename(p.file)}: busy ${fmt(p.busyMs)} ms of ${fmt(p.totalMs)} ms`);
        for (const f of p.functions.slice(0, 20)) log(`#     ${f.share.toFixed(1).padStart(5)} %  ${f.name}`);
        log('#   by file:');
        for (const f of p.files.slice(0, 12)) log(`#     ${f.share.toFixed(1).padStart(5)} %  ${f.name}`);
      }
    }
    reports.push({ backend: backend.name, schema: backend.schema, server: lane.server, ceilings: lane.ceilings, steps: results, profile, bestZeroLoss, bestZeroLossP99Ok });
  }
  return reports;
}

/** What `sipcapture send` can do on this machine when the receiver does nothing but count. */
async function calibrateSender(): Promise<void> {
  const dgram = await import('node:dgram');
  const sink = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 2 ** 20 });
  await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
  const port = sink.address().port;
  let received = 0;
  sink.on('message', () => received++);
  log('\n## sender calibration: into a socket of this process that only counts (8 MiB receive buffer at most)');
  try {
    for (const [rate, workers, count] of [
      [0, 1, 300_000],
      [0, 2, 300_000],
      [100_000, 1, 500_000],
      [30_000, 1, 150_000],
    ] as const) {
      received = 0;
      const s = await runSender({ ...settings, senderWorkers: String(workers) }, port, rate, count);
      await sleep(200);
      const cpu = s.cpuUserS + s.cpuSystemS;
      log(
        `#   rate ${rate === 0 ? 'unlimited' : fmt(rate)} × ${workers} thread(s): sent ${fmt(s.sent)} at ${fmt(s.achievedRate)}/s, ` +
          `CPU ${cpu.toFixed(2)} s (${((cpu * 1e6) / Math.max(1, s.sent)).toFixed(1)} µs/msg, user ${s.cpuUserS.toFixed(2)} s, sys ${s.cpuSystemS.toFixed(2)} s), errors ${s.sendErrors}, received ${fmt(received)}`,
      );
    }
  } finally {
    sink.close();
  }
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const started = new Date().toISOString();
  const command = `node ${path.relative(process.cwd(), fileURLToPath(import.meta.url))} ${process.argv.slice(2).join(' ')}`.trim();
  log(`# sipcapture throughput benchmark ${started}`);
  log(`# ${command}`);
  log(`# machine: ${machine.nproc} CPU (${machine.cpuModel}), ${machine.memGiB} GiB, ${machine.kernel}, node ${machine.node}, rmem_max ${machine.rmemMax}, loadavg ${machine.loadavg}`);
  log(`# steps ${steps.join(',')} msg/s; each ≥ ${fmt(minCount)} messages and ≥ ${stepSeconds} s after a warm-up of ${fmt(warmup)} at ${fmt(warmupRate)}/s; ${o.transport}/HEP${o.hep}, mix ${o.mix}; config overrides ${JSON.stringify(overrides)}${schemas.includes('homer7') ? `; schema ${schemas.join(' and ')}` : ''}`);
  log('# columns: kernel so/sys = drops on the daemon socket / system-wide RcvbufErrors; dCPU, dbCPU, sCPU = daemon, database, sender CPU (% of one core)');
  log('#          over the step; mach = whole machine busy (of 200 % on 2 cores); RSS = daemon peak (VmHWM, MiB); latency = send → row visible (poll every ' + String(pollMs) + ' ms)');
  log('#          start = spawn → listening (ms); loop / gc = longest event-loop stall / GC pause in the daemon (ms); gc% = GC time / step time; load = 1-min loadavg before the step');
  if (o['calibrate-sender']) await calibrateSender();
  const reports: BackendReport[] = [];
  for (const name of backendNames as BackendName[]) {
    if (!['sqlite', 'postgres', 'mysql'].includes(name)) throw new RangeError(`unknown backend ${name}`);
    const opened: BenchBackend[] = [];
    try {
      for (const schema of schemas) {
        const backend = await openBackend(name, schema);
        if (backend !== null) opened.push(backend);
      }
      if (opened.length > 0) reports.push(...(await benchLanes(opened)));
    } finally {
      for (const b of opened) await b.close();
    }
  }
  log('\n# summary');
  for (const r of reports) {
    const bare = r.ceilings.find((c) => c.name.startsWith('bare'));
    const store = r.ceilings.find((c) => c.name.startsWith('store'));
    const ratio = r.bestZeroLoss !== null && bare ? `${((100 * r.bestZeroLoss) / bare.rowsPerSec).toFixed(0)} % of the bare ceiling` : 'ratio n/a';
    const starts = r.steps.map((s) => s.startupMs).sort((a, b) => a - b);
    const rss = Math.max(0, ...r.steps.map((s) => s.peakRssMiB));
    const atBest = r.steps.find((s) => s.rate === r.bestZeroLoss);
    log(
      `${(r.schema === 'homer7' ? `${r.backend}/homer7` : r.backend).padEnd(9)} highest zero-loss rate ${r.bestZeroLoss === null ? 'none' : `${fmt(r.bestZeroLoss)} msg/s`}` +
        ` (with p99 ≤ ${p99Text}: ${r.bestZeroLossP99Ok === null ? 'none' : fmt(r.bestZeroLossP99Ok)}${r.bestZeroLossP99Ok !== null && bare ? `, ${((100 * r.bestZeroLossP99Ok) / bare.rowsPerSec).toFixed(0)} % of bare` : ''})` +
        ` | bare ceiling ${bare ? `${fmt(bare.rowsPerSec)} rows/s` : 'n/a'} | store alone ${store ? `${fmt(store.rowsPerSec)} rows/s` : 'n/a'} | ${ratio}` +
        ` | at best: p50 ${atBest ? fmtMs(atBest.p50Ms) : '-'} ms, p99 ${atBest ? fmtMs(atBest.p99Ms) : '-'} ms` +
        ` | peak RSS ${fmt(rss)} MiB | start-up ${starts.length ? `${fmt(median(starts))} ms median, ${fmt(starts.at(-1)!)} max` : '-'}`,
    );
  }
  if (!quick && minCount < 50_000) log('# note: fewer than 50,000 messages per step; not a valid zero-loss claim');
  if (o.out) {
    writeFileSync(o.out, JSON.stringify({ started, finished: new Date().toISOString(), command, machine, options: o, overrides, reports }, null, 2));
    log(`# results written to ${o.out}`);
  }
}

try {
  await main();
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
