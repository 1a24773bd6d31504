/**
 * One throughput step of the daemon, shared by `npm run bench` (bench/system/run.ts) and the Kamailio
 * side-by-side run (bench/system/kamailio.ts): a fresh daemon (child process, default config, its own
 * table), a warm-up, `sipcapture send` at the step's rate, the wait until rows stop arriving,
 * and the figures (sent, stored, lost and why, CPU, RSS, latency, start-up).
 *
 * The sending and settling part (`sendAndSettle`) and the sender itself (`runSender`) are also
 * what the Kamailio step uses, so both receivers get exactly the same traffic and the same
 * end-of-step rule.
 */
import { ViewerLoad, type ViewerLoadResult } from './viewer-load.js';
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PARAM_NAMES } from '../../src/config/params.js';
import type { SendSummary } from '../../src/loadgen/sender.js';
import type { BackendName, BenchBackend } from './backends.js';
import { startDaemonProcess, type DaemonProcess } from './daemon.js';
import { LatencyPoller, SampledLatencyPoller, type StepPoller } from './latency.js';
import { cpuDelta, cpuSeconds, cpuSnapshot, load1, machineCpu, statusMiB, udpSnmp, udpSocketDrops } from './proc.js';
import { summarizeProfile, type ProfileSummary } from './profile.js';

/** What a step needs to know about the run (from the command line). */
export interface StepSettings {
  /** The CLI entry of the daemon and the sender (dist/src/cli.js). */
  entry: string;
  /** Node flags needed to run `entry` (the tsx loader when it is a .ts file). */
  nodeArgsForEntry: readonly string[];
  /** Further node flags for the daemon (the loop probe, --node-args). */
  daemonNodeArgs: readonly string[];
  /** Scratch directory: configs, spools, the daemon's working directory. */
  workDir: string;
  /** Short unique tag of the run, part of every table name. */
  runId: string;
  /** Daemon config overrides (--set KEY=VALUE). */
  overrides: Readonly<Record<string, unknown>>;
  stepSeconds: number;
  minCount: number;
  warmup: number;
  warmupRate: number;
  pollMs: number;
  settleMs: number;
  transport: string;
  hep: string;
  mix: string;
  senderWorkers: string;
  /** Keep the step tables instead of dropping them. */
  keep: boolean;
  /** Query the daemon's viewer API back to back while the step sends (viewer-load.ts). */
  viewerLoad?: boolean;
  /**
   * Called with a clean-up (stop the daemon, drop its table) while a step runs; returns the
   * function that unregisters it. Lets a caller clean up on Ctrl-C.
   */
  track?: (cleanup: () => Promise<void>) => () => void;
}

export interface StepResult {
  backend: BackendName;
  rate: number;
  count: number;
  sent: number;
  achievedRate: number;
  stored: number;
  lost: number;
  sendErrors: number;
  daemonDrops: Record<string, number>;
  socketDrops: number;
  snmpRcvbufErrors: number;
  /** Lost rows not explained by the daemon's counters or the socket's drops. */
  unexplained: number;
  daemonCpuPct: number;
  daemonUsPerMsg: number;
  dbCpuPct: number | null;
  senderCpuPct: number;
  machineBusyPct: number;
  peakRssMiB: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  startupMs: number;
  /** Warm-up messages sent and lost (not part of the step's figures). */
  warmupSent: number;
  warmupLost: number;
  /** Longest event-loop stall and GC pause in the daemon (loop-probe), ms; NaN without the probe. */
  loopMaxMs: number;
  loopP99Ms: number;
  gcMaxMs: number;
  /** GC time as a share of the step window, %. */
  gcPct: number;
  windowS: number;
  drainS: number;
  load1: number;
  exitCode: number | null;
  notable: string[];
  profile?: ProfileSummary[];
  /** With `viewerLoad`: the viewer queries answered during the step. */
  viewer?: ViewerLoadResult;
  /** HOMER 7 steps: the rows the latency percentiles come from (a sample, latency.ts SampledLatencyPoller). */
  latencySampled?: number;
}

/** Where the compiled (or tsx-run) benchmark finds the CLI and the loop probe. */
export function benchPaths(): { entry: string; nodeArgsForEntry: string[]; probeArgs: string[] } {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const ts = import.meta.url.endsWith('.ts');
  return {
    entry: path.resolve(here, '..', '..', 'src', ts ? 'cli.ts' : 'cli.js'),
    // Absolute, because the daemon runs with the step's temp dir as its working directory.
    nodeArgsForEntry: ts ? ['--import', import.meta.resolve('tsx')] : [],
    /** Preloaded into every daemon: event-loop stalls and GC pauses (bench/harness/loop-probe.ts). */
    probeArgs: ['--import', pathToFileURL(path.join(here, `loop-probe.${ts ? 'ts' : 'js'}`)).href],
  };
}

export const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
export const fmtMs = (n: number): string => (!Number.isFinite(n) ? '-' : n >= 100 ? fmt(n) : n.toFixed(1));

/**
 * A port free for TCP and UDP on 127.0.0.1, and not one of `taken`: the kernel may hand the port
 * it just gave (and we closed) out again, and a daemon whose HEP TCP listener and control server
 * got the same port refuses its config ("daemon did not start").
 */
export async function freePort(taken: readonly number[] = []): Promise<number> {
  const net = await import('node:net');
  const dgram = await import('node:dgram');
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
      });
    });
    const ok = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (ok && !taken.includes(port)) return port;
  }
}

/**
 * The daemon's JSON-RPC `sipcapture.stats` result, typed by the caller to the fields it reads
 * (null when there is no control server or it did not answer within 2 s).
 */
export async function rpcStats<T>(httpPort: number): Promise<T | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/RPC`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'sipcapture.stats', id: 1 }),
      signal: AbortSignal.timeout(2000),
    });
    return ((await res.json()) as { result?: T }).result ?? null;
  } catch {
    return null;
  }
}

/** The daemon's config for one step: defaults except what a benchmark must set. */
export function writeDaemonConfig(s: StepSettings, backend: BenchBackend, table: string, port: number, httpPort: number): string {
  const cfg: Record<string, unknown> = {
    db_url: backend.dbUrl(table),
    capture_on: 1,
    hep_capture_on: 1,
    listen: [`udp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port}`],
    table_name: table,
  };
  if (backend.schema === 'homer7') cfg['schema'] = 'homer7';
  // Keys that exist only in newer trees: keep the step's files in the temp dir, ports free.
  if (PARAM_NAMES.has('spool_dir')) cfg['spool_dir'] = path.join(s.workDir, 'spool', table);
  if (PARAM_NAMES.has('http_listen')) cfg['http_listen'] = `127.0.0.1:${httpPort}`;
  if (PARAM_NAMES.has('rpc_socket')) cfg['rpc_socket'] = '';
  Object.assign(cfg, s.overrides);
  const file = path.join(s.workDir, `${table}.json5`);
  writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

/** `sipcapture send` as a child process: HEP over UDP (or TCP) at a token-bucket rate; its JSON summary. */
export function runSender(s: StepSettings, port: number, rate: number, count: number): Promise<SendSummary> {
  const argv = [
    ...s.nodeArgsForEntry,
    s.entry,
    'send',
    '--json',
    '--port',
    String(port),
    '--rate',
    String(rate),
    '--count',
    String(count),
    '--transport',
    s.transport,
    '--hep',
    s.hep,
    '--mix',
    s.mix,
    '--workers',
    s.senderWorkers,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const untrack = s.track?.(() => {
      child.kill('SIGTERM');
      return Promise.resolve();
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      untrack?.();
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as SendSummary);
      } catch {
        reject(new Error(`sender exited ${code}: ${err || out}`));
      }
    });
  });
}

/**
 * The warm-up: `warmup` messages at min(warmupRate, rate) into the receiver, then wait until
 * every row is visible or none came for 2 s. Returns what was sent and the rows counted.
 */
export async function warmUp(s: StepSettings, port: number, rate: number, count: (() => Promise<number>)): Promise<{ sent: number; stored: number }> {
  const w = await runSender(s, port, Math.min(s.warmupRate, rate), s.warmup);
  const until = performance.now() + 30_000;
  let last = -1;
  let stableSince = performance.now();
  for (;;) {
    const n = await count();
    if (n !== last) {
      last = n;
      stableSince = performance.now();
    }
    if (n >= w.sent || performance.now() - stableSince > 2000 || performance.now() > until) break;
    await sleep(100);
  }
  return { sent: w.sent, stored: last };
}

/**
 * Sends the step's traffic and waits until every sent row was seen by the poller, or no new row
 * came for `settleMs` (then the rest is lost). Starts the poller; the caller stops it.
 */
export async function sendAndSettle(
  s: StepSettings,
  port: number,
  rate: number,
  count: number,
  poller: StepPoller,
): Promise<{ summary: SendSummary; t0: number; sentAt: number }> {
  const t0 = performance.now();
  poller.start();
  const summary = await runSender(s, port, rate, count);
  const sentAt = performance.now();
  const deadline = sentAt + 180_000;
  while (performance.now() < deadline) {
    const { seen, lastNewAt } = await poller.progress();
    if (seen >= summary.sent) break;
    const quietFor = performance.timeOrigin + performance.now() - Math.max(lastNewAt, performance.timeOrigin + sentAt);
    if (quietFor > s.settleMs) break;
    await sleep(s.pollMs);
  }
  return { summary, t0, sentAt };
}

/** Messages a step at `rate` sends. */
export function stepCount(s: StepSettings, rate: number): number {
  return Math.max(s.minCount, Math.round(rate * s.stepSeconds));
}

/** One step of the daemon: fresh process and table, warm-up, traffic, settle, figures. */
export async function runDaemonStep(s: StepSettings, backend: BenchBackend, rate: number, profileDir?: string): Promise<StepResult> {
  const count = stepCount(s, rate);
  const table = daemonTableName(s, backend.schema === 'homer7' ? 'h7' : backend.name, rate, profileDir !== undefined);
  const loadBefore = load1();
  if (backend.schema === 'homer7') await backend.prepare(table);
  // A start that fails (a port taken between picking and binding, say) is retried once on new
  // ports, with the reason printed, instead of ending the whole run.
  let started: { daemon: DaemonProcess; port: number; httpPort: number } | null = null;
  for (let attempt = 1; started === null; attempt++) {
    const port = await freePort();
    const httpPort = await freePort([port]);
    const configFile = writeDaemonConfig(s, backend, table, port, httpPort);
    try {
      const daemon = await startDaemonProcess({
        entry: s.entry,
        configFile,
        nodeArgs: [...s.nodeArgsForEntry, ...s.daemonNodeArgs, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
        cwd: s.workDir,
      });
      started = { daemon, port, httpPort };
    } catch (err) {
      if (attempt >= 2) {
        if (backend.schema === 'homer7' && !s.keep) await backend.dropTable(table);
        throw err;
      }
      process.stderr.write(`# ${backend.name} ${rate}/s: ${err instanceof Error ? err.message : String(err)}; retrying on new ports\n`);
    }
  }
  const { daemon, port, httpPort } = started;
  const untrack = s.track?.(async () => {
    await daemon.stop(5000);
    if (!s.keep) await backend.dropTable(table);
  });
  try {
    return await measureDaemonStep(s, backend, rate, count, table, port, httpPort, daemon, loadBefore, profileDir);
  } finally {
    untrack?.();
  }
}

/** The step's table for the daemon (lower case: PostgreSQL folds unquoted names); `h7`: a HOMER 7 step's schema. */
export function daemonTableName(s: StepSettings, backend: BackendName | 'h7', rate: number | string, profile = false): string {
  return `bench_${s.runId}_${backend.slice(0, 2)}_${rate}${profile ? 'p' : ''}`;
}

async function measureDaemonStep(
  s: StepSettings,
  backend: BenchBackend,
  rate: number,
  count: number,
  table: string,
  port: number,
  httpPort: number,
  daemon: DaemonProcess,
  loadBefore: number,
  profileDir: string | undefined,
): Promise<StepResult> {
  const byId = backend.schema === 'homer5' ? new LatencyPoller((after, limit) => backend.fetchAfter(table, after, limit), s.pollMs) : null;
  // Warm-up: the same daemon and table take some traffic first, so the step measures a warm
  // process (optimised code, open connections), not the first second after a cold start.
  let warmupSent = 0;
  let warmupLost = 0;
  let baseStored = 0;
  let baseDropped: Record<string, number> = {};
  let baseRpcStored = 0;
  if (s.warmup > 0) {
    try {
      const w = await warmUp(s, port, rate, () => backend.count(table));
      warmupSent = w.sent;
      baseStored = w.stored;
      warmupLost = w.sent - w.stored;
      if (backend.schema === 'homer5') byId?.skipThrough(await backend.maxId(table));
      const st = await rpcStats<{ dropped?: Record<string, number>; stored?: Record<string, number> }>(httpPort);
      baseDropped = st?.dropped ?? {};
      baseRpcStored = sum(st?.stored);
    } catch (err) {
      await daemon.stop();
      throw err;
    }
  }
  let sampled: SampledLatencyPoller | null = null;
  if (backend.schema === 'homer7') {
    // Rows still arriving: the daemon's count of rows committed (a count(*) of the partitions
    // would scan them at every poll); the database's own count when the daemon does not answer.
    const storedSoFar = async (): Promise<number> => {
      const st = await rpcStats<{ stored?: Record<string, number> }>(httpPort);
      return st?.stored !== undefined ? sum(st.stored) - baseRpcStored : (await backend.count(table)) - baseStored;
    };
    sampled = new SampledLatencyPoller((starts, widthUs) => backend.fetchSlices(table, starts, widthUs), storedSoFar, { intervalMs: s.pollMs });
  }
  const poller: StepPoller = byId ?? sampled!;
  const serverPids0 = backend.serverPids();
  const db0 = cpuSnapshot(serverPids0);
  const d0 = cpuSeconds(daemon.pid);
  const m0 = machineCpu();
  const snmp0 = udpSnmp();
  const sock0 = udpSocketDrops(port)?.drops ?? 0;
  let sent: Awaited<ReturnType<typeof sendAndSettle>>;
  const viewerLoad = s.viewerLoad === true ? new ViewerLoad(httpPort) : null;
  let viewer: ViewerLoadResult | undefined;
  try {
    sent = await sendAndSettle(s, port, rate, count, poller);
  } catch (err) {
    await poller.stop();
    await daemon.stop();
    throw err;
  } finally {
    viewer = await viewerLoad?.stop();
  }
  const { summary, t0, sentAt } = sent;
  const windowS = (performance.now() - t0) / 1000;
  const drainS = (performance.now() - sentAt) / 1000;
  const db1 = cpuSnapshot(backend.serverPids());
  const d1 = cpuSeconds(daemon.pid);
  const m1 = machineCpu();
  const snmp1 = udpSnmp();
  const sock1 = udpSocketDrops(port)?.drops ?? sock0;
  const peakRssMiB = statusMiB(daemon.pid, 'VmHWM');
  await poller.stop();
  await poller.pollOnce().catch(() => undefined);
  const [p50, p99, max] = poller.percentiles([50, 99, 100]);
  const exit = await daemon.stop();
  const stored = (await backend.count(table)) - baseStored;
  if (!s.keep) await backend.dropTable(table);
  const daemonDrops: Record<string, number> = {};
  for (const [k, v] of Object.entries(exit.stats?.dropped ?? {})) if (v - (baseDropped[k] ?? 0) > 0) daemonDrops[k] = v - (baseDropped[k] ?? 0);
  const droppedByDaemon = Object.values(daemonDrops).reduce((a, b) => a + b, 0);
  const lost = summary.sent - stored;
  const socketDrops = sock1 - sock0;
  const daemonCpu = d1 - d0;
  const dbCpu = backend.name === 'sqlite' ? null : cpuDelta(db0, db1, backend.ownPids());
  const profile = profileDir
    ? readdirSync(profileDir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => summarizeProfile(path.join(profileDir, f)))
    : undefined;
  return {
    backend: backend.name,
    rate,
    count,
    sent: summary.sent,
    achievedRate: summary.achievedRate,
    stored,
    lost,
    sendErrors: summary.sendErrors,
    daemonDrops,
    socketDrops,
    snmpRcvbufErrors: snmp1.rcvbufErrors - snmp0.rcvbufErrors,
    unexplained: lost - droppedByDaemon - (s.transport === 'tcp' ? 0 : socketDrops),
    daemonCpuPct: (100 * daemonCpu) / windowS,
    daemonUsPerMsg: summary.sent > 0 ? (daemonCpu * 1e6) / summary.sent : 0,
    dbCpuPct: dbCpu === null ? null : (100 * dbCpu) / windowS,
    senderCpuPct: (100 * (summary.cpuUserS + summary.cpuSystemS)) / Math.max(summary.durationS, 0.001),
    machineBusyPct: m1.total > m0.total ? (100 * os.availableParallelism() * (m1.busy - m0.busy)) / (m1.total - m0.total) : 0,
    peakRssMiB,
    p50Ms: p50!,
    p99Ms: p99!,
    maxMs: max!,
    startupMs: daemon.startupMs,
    warmupSent,
    warmupLost,
    loopMaxMs: exit.probe?.maxMs ?? Number.NaN,
    loopP99Ms: exit.probe?.p99Ms ?? Number.NaN,
    gcMaxMs: exit.probe?.gc.maxMs ?? Number.NaN,
    gcPct: exit.probe ? (100 * exit.probe.gc.totalMs) / 1000 / windowS : Number.NaN,
    windowS,
    drainS,
    load1: loadBefore,
    exitCode: exit.code,
    notable: exit.notable.slice(0, 10),
    ...(profile ? { profile } : {}),
    ...(viewer ? { viewer } : {}),
    ...(sampled ? { latencySampled: sampled.sampled } : {}),
  };
}

function sum(counts: Readonly<Record<string, number>> | undefined): number {
  return Object.values(counts ?? {}).reduce((a, b) => a + b, 0);
}

export function stepLine(r: StepResult): string {
  const drops = Object.entries(r.daemonDrops)
    .map(([k, v]) => `${k}:${fmt(v)}`)
    .join(' ');
  return [
    fmt(r.rate).padStart(8),
    fmt(r.sent).padStart(9),
    fmt(r.achievedRate).padStart(8),
    fmt(r.stored).padStart(9),
    fmt(r.lost).padStart(8),
    (drops || '-').padEnd(18),
    `${fmt(r.socketDrops)}/${fmt(r.snmpRcvbufErrors)}`.padStart(13),
    `${fmt(r.daemonCpuPct)}%`.padStart(6),
    r.daemonUsPerMsg.toFixed(1).padStart(6),
    (r.dbCpuPct === null ? 'in-proc' : `${fmt(r.dbCpuPct)}%`).padStart(7),
    `${fmt(r.senderCpuPct)}%`.padStart(6),
    `${fmt(r.machineBusyPct)}%`.padStart(6),
    fmt(r.peakRssMiB).padStart(5),
    fmtMs(r.p50Ms).padStart(7),
    fmtMs(r.p99Ms).padStart(7),
    fmt(r.startupMs).padStart(6),
    fmt(r.loopMaxMs).padStart(5),
    fmt(r.gcMaxMs).padStart(4),
    `${Number.isFinite(r.gcPct) ? r.gcPct.toFixed(0) : '-'}%`.padStart(4),
    r.load1.toFixed(2).padStart(5),
  ].join(' ');
}

export const STEP_HEADER = [
  'offered'.padStart(8),
  'sent'.padStart(9),
  'sent/s'.padStart(8),
  'stored'.padStart(9),
  'lost'.padStart(8),
  'daemon drops'.padEnd(18),
  'kernel so/sys'.padStart(13),
  'dCPU'.padStart(6),
  'µs/msg'.padStart(6),
  'dbCPU'.padStart(7),
  'sCPU'.padStart(6),
  'mach'.padStart(6),
  'RSS'.padStart(5),
  'p50 ms'.padStart(7),
  'p99 ms'.padStart(7),
  'start'.padStart(6),
  'loop'.padStart(5),
  'gc'.padStart(4),
  'gc%'.padStart(4),
  'load'.padStart(5),
].join(' ');

/** Every message sent was stored (and the sender sent them all). */
export function zeroLoss(r: { lost: number; sent: number; count: number }): boolean {
  return r.lost === 0 && r.sent === r.count;
}
