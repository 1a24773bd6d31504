/**
 * `npm run bench:kamailio`: Kamailio 5.6.3's sipcapture module on the same traffic as the daemon.
 *
 * For each offered rate: a fresh PostgreSQL table made by the store's own DDL (the 44 columns and
 * indexes the daemon writes), a fresh Kamailio with a minimal kamailio.cfg (HEP over UDP,
 * `sip_capture()` in request_route and onreply_route, 8 UDP workers), the same warm-up and the
 * same `sipcapture send` traffic as `npm run bench`, the wait until rows stop arriving, and the
 * figures in the columns of bench/system/run.ts that apply to Kamailio. With --with-sipcapture the daemon
 * runs the same steps (bench/harness/step.ts, as in `npm run bench`) right after Kamailio at
 * each rate, and a side-by-side summary follows. A parity check sends the same few hundred
 * packets (fixed timestamps) to both and compares columns of the rows they wrote.
 *
 * Without Kamailio (not on PATH nor at /usr/sbin/kamailio, or without sipcapture.so /
 * db_postgres.so) it says why and exits 0.
 *
 *   npm run build && node dist/bench/system/kamailio.js --with-sipcapture
 *   node dist/bench/system/kamailio.js --steps 1000,2000 --min-count 10000 --warmup 2000 --parity 200
 */
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { MixName } from '../../src/loadgen/mix.js';
import { PacketFactory } from '../../src/loadgen/packets.js';
import { createPostgresStore } from '../../src/store/postgres/index.js';
import { numberArg } from '../harness/args.js';
import { postgresBackend, type Homer5Backend } from '../harness/backends.js';
import { startDaemonProcess } from '../harness/daemon.js';
import { findKamailio, kamailioConfig, kamailioDbUrl, startKamailio, type KamailioInstall, type KamailioProcess } from '../harness/kamailio-process.js';
import { LatencyPoller } from '../harness/latency.js';
import { cpuDelta, cpuSnapshot, load1, machineCpu, machineInfo, pssMiB, statusMiB, udpSnmp, udpSocketDrops } from '../harness/proc.js';
import {
  benchPaths,
  daemonTableName,
  fmt,
  fmtMs,
  freePort,
  runDaemonStep,
  sendAndSettle,
  STEP_HEADER,
  stepCount,
  stepLine,
  warmUp,
  writeDaemonConfig,
  zeroLoss,
  type StepResult,
  type StepSettings,
} from '../harness/step.js';

const HELP = `Usage: node dist/bench/system/kamailio.js [options]     (npm run bench:kamailio -- [options])

Kamailio's sipcapture (PostgreSQL) on the traffic of \`npm run bench\`; needs kamailio on PATH or at
/usr/sbin/kamailio with sipcapture.so and db_postgres.so (Debian: kamailio, kamailio-postgres-modules).

  --steps LIST          offered rates, msg/s (default 1000,2000,3000,4000,6000,10000,20000)
  --step-seconds N      each step sends max(--min-count, rate × N) messages (default 10)
  --min-count N         messages per step at least (default 50000)
  --warmup N            before each step, N messages at min(--warmup-rate, rate) into the same process and
                        table, not counted (default 20000 at 5000/s, as npm run bench; 0 = none)
  --warmup-rate N
  --settle-ms N         a step ends when no new row arrived for N ms (default 3000)
  --poll-ms N           latency poll interval (default 100)
  --with-sipcapture     at each rate, the same step for the daemon (default config, as npm run bench), then a
                        side-by-side summary
  --parity N            send the same N packets to Kamailio and the daemon and compare columns (default 300; 0 = skip)
  --children N          Kamailio's UDP worker processes (default 8, Kamailio's default)
  --kamailio-core LINE  extra kamailio.cfg core line, repeatable (e.g. maxbuffer=8388608)
  --kamailio PATH       the kamailio binary (default: PATH, then /usr/sbin/kamailio)
  --set KEY=VALUE       daemon config override, repeatable
  --sender-workers N    sender threads (default 1)
  --pg-url URL          (default $SIPCAPTURE_TEST_PG_URL or postgres://postgres@127.0.0.1:5432/test)
  --out FILE            also write all results as JSON
  --keep                keep the step tables (default: dropped)
  --print-config        print the kamailio.cfg a step uses (port 9060, table sip_capture) and exit
`;

const args = parseArgs({
  options: {
    steps: { type: 'string', default: '1000,2000,3000,4000,6000,10000,20000' },
    'step-seconds': { type: 'string', default: '10' },
    'min-count': { type: 'string', default: '50000' },
    warmup: { type: 'string', default: '20000' },
    'warmup-rate': { type: 'string', default: '5000' },
    'settle-ms': { type: 'string', default: '3000' },
    'poll-ms': { type: 'string', default: '100' },
    'with-sipcapture': { type: 'boolean', default: false },
    parity: { type: 'string', default: '300' },
    children: { type: 'string', default: '8' },
    'kamailio-core': { type: 'string', multiple: true, default: [] },
    kamailio: { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
    'sender-workers': { type: 'string', default: '1' },
    'pg-url': { type: 'string', default: process.env['SIPCAPTURE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'print-config': { type: 'boolean', default: false },
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
const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

const found = findKamailio(o.kamailio);
if ('missing' in found) {
  log(`# Kamailio side by side: skipped, ${found.missing}`);
  process.exit(0);
}
const install: KamailioInstall = found;
if (o['print-config']) {
  process.stdout.write(
    kamailioConfig({ port: 9060, table: 'sip_capture', dbUrl: kamailioDbUrl(o['pg-url'] ?? ''), children: num(o.children, 8), moduleDir: install.moduleDir, coreLines: o['kamailio-core'] ?? [] }),
  );
  process.exit(0);
}

const steps = (o.steps ?? '').split(',').map((s) => num(s.trim(), 0)).filter((n) => n > 0);
const children = Math.max(1, num(o.children, 8));
const parityCount = num(o.parity, 300);
const pgUrl = o['pg-url'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`.slice(-10);
const workDir = mkdtempSync(path.join(os.tmpdir(), 'sipcapture-bench-kam-'));
const overrides: Record<string, unknown> = {};
for (const kv of o.set ?? []) {
  const eq = kv.indexOf('=');
  if (eq <= 0) throw new RangeError(`--set needs KEY=VALUE, got ${kv}`);
  const raw = kv.slice(eq + 1);
  overrides[kv.slice(0, eq)] = /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

// ---- clean-up on Ctrl-C / SIGTERM: stop Kamailio and the daemon, drop the step tables ----

const cleanups = new Set<() => Promise<void>>();
function track(fn: () => Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}
let aborting = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (aborting) return;
    aborting = true;
    log(`\n# ${sig}: stopping Kamailio / the daemon and dropping the step tables`);
    void Promise.allSettled([...cleanups].map((f) => f())).finally(() => {
      rmSync(workDir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

const paths = benchPaths();
const settings: StepSettings = {
  entry: paths.entry,
  nodeArgsForEntry: paths.nodeArgsForEntry,
  daemonNodeArgs: paths.probeArgs,
  workDir,
  runId,
  overrides,
  stepSeconds: num(o['step-seconds'], 10),
  minCount: num(o['min-count'], 50_000),
  warmup: num(o.warmup, 20_000),
  warmupRate: Math.max(1, num(o['warmup-rate'], 5000)),
  pollMs: Math.max(10, num(o['poll-ms'], 100)),
  settleMs: num(o['settle-ms'], 3000),
  transport: 'udp',
  hep: '3',
  mix: 'mixed',
  senderWorkers: o['sender-workers'] ?? '1',
  keep: o.keep === true,
  track,
};

interface KamStepResult {
  rate: number;
  count: number;
  sent: number;
  achievedRate: number;
  stored: number;
  lost: number;
  socketDrops: number;
  snmpRcvbufErrors: number;
  /** Lost rows not explained by kernel drops on Kamailio's socket (failed inserts, parse errors). */
  unexplained: number;
  kamCpuPct: number;
  kamUsPerMsg: number;
  dbCpuPct: number;
  senderCpuPct: number;
  machineBusyPct: number;
  processes: number;
  /** Peak over the step of the sum of VmRSS (shared memory counted once per process) and of Pss. */
  peakRssSumMiB: number;
  peakPssSumMiB: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Step rows whose micro_ts lies outside the sender's first..last send time (0 = HEP timestamps). */
  microTsOutsideSend: number;
  startupMs: number;
  warmupSent: number;
  warmupLost: number;
  windowS: number;
  drainS: number;
  load1: number;
  errorLines: number;
  errorSamples: string[];
  /** Kamailio's shm and pkg sizes and its UDP receive buffer, from its start-up log. */
  memory: KamailioProcess['memory'];
  exit: { code: number | null; signal: NodeJS.Signals | null };
}

const q = (t: string): string => `"${t}"`;

/**
 * Kamailio's table for a step. Measured on Debian's 5.6.3: a `table_name` whose length is a
 * multiple of 8 picks up stray bytes after the name (the module keeps it without a terminating
 * NUL) and every insert fails ("invalid byte sequence", the name followed by garbage);
 * lengths 15, 17, 23, 25, 31 worked, 8, 16, 24, 32 failed. One more character avoids it.
 */
function kamailioTable(suffix: string | number): string {
  const t = `bench_${runId}_ka_${suffix}`;
  return t.length % 8 === 0 ? `${t}x` : t;
}

/** A table with the store's own DDL (the daemon's 44 columns and 9 indexes), as the ceilings do. */
async function createTable(table: string): Promise<void> {
  const store = await createPostgresStore(pgUrl, { poolSize: 1 });
  try {
    await store.ensureTable(table, 'sip');
  } finally {
    await store.close();
  }
}

/** One in-process packet of the load generator's traffic, stamped now: the readiness probe. */
function prober(port: number): { probe: () => Promise<void>; close: () => void } {
  const sock = dgram.createSocket('udp4');
  const factory = new PacketFactory({ mix: 'options', versions: [3], seed: 99 });
  return {
    probe: () =>
      new Promise<void>((resolve, reject) =>
        sock.send(factory.next(3, Math.round((performance.timeOrigin + performance.now()) * 1000)), port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
      ),
    close: () => sock.close(),
  };
}

async function launchKamailio(table: string, port: number, backend: Homer5Backend, dirName: string): Promise<KamailioProcess> {
  const p = prober(port);
  try {
    return await startKamailio({
      install,
      config: { port, table, dbUrl: kamailioDbUrl(pgUrl), children, moduleDir: install.moduleDir, coreLines: o['kamailio-core'] ?? [] },
      dir: path.join(workDir, dirName),
      probe: p.probe,
      count: () => backend.count(table),
      track,
    });
  } finally {
    p.close();
  }
}

async function runKamailioStep(backend: Homer5Backend, client: pg.Client, rate: number): Promise<KamStepResult> {
  const count = stepCount(settings, rate);
  const table = kamailioTable(rate);
  const port = await freePort();
  const loadBefore = load1();
  await createTable(table);
  let kam: KamailioProcess | null = null;
  const cleanup = async (): Promise<void> => {
    await kam?.stop(5000);
    if (!settings.keep) await backend.dropTable(table);
  };
  const untrack = track(cleanup);
  try {
    kam = await launchKamailio(table, port, backend, `kam-${rate}`);
    const k = kam;
    const poller = new LatencyPoller((after, limit) => backend.fetchAfter(table, after, limit), settings.pollMs);
    let warmupSent = 0;
    let warmupLost = 0;
    // The readiness probes are rows too; wait for stragglers before counting.
    await sleep(500);
    let baseStored = await backend.count(table);
    if (settings.warmup > 0) {
      const w = await warmUp(settings, port, rate, () => backend.count(table));
      warmupSent = w.sent;
      warmupLost = baseStored + w.sent - w.stored;
      baseStored = w.stored;
    }
    const baseId = await backend.maxId(table);
    poller.skipThrough(baseId);
    k.markErrors();
    const db0 = cpuSnapshot(backend.serverPids());
    const k0 = cpuSnapshot(k.pids);
    const m0 = machineCpu();
    const snmp0 = udpSnmp();
    const sock0 = udpSocketDrops(port)?.drops ?? 0;
    // Memory: sampled, because the workers' RSS grows as they touch shared memory.
    let peakRss = 0;
    let peakPss = 0;
    const sampleMemory = (): void => {
      peakRss = Math.max(peakRss, k.pids.reduce((a, p) => a + statusMiB(p, 'VmRSS'), 0));
      peakPss = Math.max(peakPss, k.pids.reduce((a, p) => a + pssMiB(p), 0));
    };
    sampleMemory();
    const sampler = setInterval(sampleMemory, 500);
    let sent: Awaited<ReturnType<typeof sendAndSettle>>;
    try {
      sent = await sendAndSettle(settings, port, rate, count, poller);
    } finally {
      clearInterval(sampler);
      await poller.stop();
    }
    const { summary, t0, sentAt } = sent;
    sampleMemory();
    const windowS = (performance.now() - t0) / 1000;
    const drainS = (performance.now() - sentAt) / 1000;
    const db1 = cpuSnapshot(backend.serverPids());
    const k1 = cpuSnapshot(k.pids);
    const m1 = machineCpu();
    const snmp1 = udpSnmp();
    const sock1 = udpSocketDrops(port)?.drops ?? sock0;
    await poller.pollOnce().catch(() => undefined);
    const [p50, p99, max] = poller.percentiles([50, 99, 100]);
    const errorLines = k.errorCount();
    const errorSamples = k.errorSamples();
    const exit = await k.stop();
    const stored = (await backend.count(table)) - baseStored;
    // Kamailio fills micro_ts from the HEP timestamp: every step row must carry a send time.
    const ts = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${q(table)} WHERE id > $1 AND (micro_ts < $2 OR micro_ts > $3)`, [
      baseId,
      summary.firstSendUs,
      summary.lastSendUs,
    ]);
    const lost = summary.sent - stored;
    const socketDrops = sock1 - sock0;
    const kamCpu = cpuDelta(k0, k1);
    return {
      rate,
      count,
      sent: summary.sent,
      achievedRate: summary.achievedRate,
      stored,
      lost,
      socketDrops,
      snmpRcvbufErrors: snmp1.rcvbufErrors - snmp0.rcvbufErrors,
      unexplained: lost - socketDrops,
      kamCpuPct: (100 * kamCpu) / windowS,
      kamUsPerMsg: summary.sent > 0 ? (kamCpu * 1e6) / summary.sent : 0,
      dbCpuPct: (100 * cpuDelta(db0, db1, backend.ownPids())) / windowS,
      senderCpuPct: (100 * (summary.cpuUserS + summary.cpuSystemS)) / Math.max(summary.durationS, 0.001),
      machineBusyPct: m1.total > m0.total ? (100 * os.availableParallelism() * (m1.busy - m0.busy)) / (m1.total - m0.total) : 0,
      processes: k.pids.length,
      peakRssSumMiB: peakRss,
      peakPssSumMiB: peakPss,
      p50Ms: p50!,
      p99Ms: p99!,
      maxMs: max!,
      microTsOutsideSend: Number(ts.rows[0]?.n ?? 0),
      startupMs: k.startupMs,
      warmupSent,
      warmupLost,
      windowS,
      drainS,
      load1: loadBefore,
      errorLines,
      errorSamples: errorSamples.slice(0, 5),
      memory: k.memory,
      exit,
    };
  } finally {
    untrack();
    await cleanup();
  }
}

const KAM_HEADER = [
  'offered'.padStart(8),
  'sent'.padStart(9),
  'sent/s'.padStart(8),
  'stored'.padStart(9),
  'lost'.padStart(8),
  'kernel so/sys'.padStart(13),
  'kCPU'.padStart(6),
  'µs/msg'.padStart(6),
  'dbCPU'.padStart(7),
  'sCPU'.padStart(6),
  'mach'.padStart(6),
  'ΣRSS'.padStart(5),
  'ΣPSS'.padStart(5),
  'p50 ms'.padStart(7),
  'p99 ms'.padStart(7),
  'start'.padStart(6),
  'errors'.padStart(6),
  'load'.padStart(5),
].join(' ');

function kamLine(r: KamStepResult): string {
  return [
    fmt(r.rate).padStart(8),
    fmt(r.sent).padStart(9),
    fmt(r.achievedRate).padStart(8),
    fmt(r.stored).padStart(9),
    fmt(r.lost).padStart(8),
    `${fmt(r.socketDrops)}/${fmt(r.snmpRcvbufErrors)}`.padStart(13),
    `${fmt(r.kamCpuPct)}%`.padStart(6),
    r.kamUsPerMsg.toFixed(1).padStart(6),
    `${fmt(r.dbCpuPct)}%`.padStart(7),
    `${fmt(r.senderCpuPct)}%`.padStart(6),
    `${fmt(r.machineBusyPct)}%`.padStart(6),
    fmt(r.peakRssSumMiB).padStart(5),
    fmt(r.peakPssSumMiB).padStart(5),
    fmtMs(r.p50Ms).padStart(7),
    fmtMs(r.p99Ms).padStart(7),
    fmt(r.startupMs).padStart(6),
    fmt(r.errorLines).padStart(6),
    r.load1.toFixed(2).padStart(5),
  ].join(' ');
}

// ---- parity: the same packets to both, columns compared ----

const PARITY_COLUMNS = ['method', 'callid', 'from_user', 'ruri_user', 'source_ip', 'to_user', 'cseq', 'source_port', 'date', 'node', 'msg_md5'] as const;

interface ParityReport {
  packets: number;
  kamailioRows: number;
  sipcaptureRows: number;
  /** Rows whose micro_ts is exactly one of the packets' HEP timestamps. */
  kamailioExactTs: number;
  sipcaptureExactTs: number;
  onlyKamailio: number;
  onlySipcapture: number;
  differences: Record<string, { rows: number; examples: string[] }>;
}

type ParityRow = Record<(typeof PARITY_COLUMNS)[number], string> & { micro_ts: string };

async function parityRows(client: pg.Client, table: string, from: number, to: number): Promise<ParityRow[]> {
  const r = await client.query<ParityRow>(
    `SELECT micro_ts::text, method, callid, from_user, ruri_user, source_ip, to_user, cseq, source_port::text, date::text, node, md5(msg) AS msg_md5
       FROM ${q(table)} WHERE micro_ts BETWEEN $1 AND $2 ORDER BY micro_ts`,
    [from, to],
  );
  return r.rows;
}

async function parity(backend: Homer5Backend, client: pg.Client, n: number): Promise<ParityReport> {
  const kTable = kamailioTable('parity');
  const dTable = daemonTableName(settings, 'postgres', 'parity');
  const kPort = await freePort();
  const dPort = await freePort([kPort]);
  const httpPort = await freePort([kPort, dPort]);
  await createTable(kTable);
  let kam: KamailioProcess | null = null;
  let stopDaemon: (() => Promise<unknown>) | null = null;
  const cleanup = async (): Promise<void> => {
    await kam?.stop(5000);
    await stopDaemon?.();
    if (!settings.keep) {
      await backend.dropTable(kTable);
      await backend.dropTable(dTable);
    }
  };
  const untrack = track(cleanup);
  try {
    kam = await launchKamailio(kTable, kPort, backend, 'kam-parity');
    const daemon = await startDaemonProcess({
      entry: settings.entry,
      configFile: writeDaemonConfig(settings, backend, dTable, dPort, httpPort),
      nodeArgs: settings.nodeArgsForEntry,
      cwd: workDir,
    });
    stopDaemon = () => daemon.stop(5000);
    // Fixed timestamps an hour back, 1 ms apart: a row's micro_ts is either a packet's HEP
    // timestamp or something else, and both receivers get byte-identical packets.
    const t0 = (Math.floor(Date.now() / 1000) - 3600) * 1e6 + 123;
    const tEnd = t0 + (n - 1) * 1000;
    const factory = new PacketFactory({ mix: settings.mix as MixName, versions: [3], seed: 7, runTag: 'a5a5a5' });
    const sock = dgram.createSocket('udp4');
    const send = (b: Buffer, port: number): Promise<void> => new Promise((resolve, reject) => sock.send(b, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    try {
      for (let i = 0; i < n; i++) {
        const pkt = factory.next(3, t0 + i * 1000);
        await Promise.all([send(pkt, kPort), send(pkt, dPort)]);
        if (i % 20 === 19) await sleep(20); // ~1,000/s: far below both receivers' limits
      }
    } finally {
      sock.close();
    }
    // Until both have every row, or nothing new came for 3 s.
    let last = -1;
    let stableSince = performance.now();
    for (;;) {
      const c = await client.query<{ k: string; d: string | null }>(
        `SELECT (SELECT count(*) FROM ${q(kTable)} WHERE micro_ts BETWEEN $1 AND $2) AS k, (SELECT count(*) FROM ${q(dTable)} WHERE micro_ts BETWEEN $1 AND $2) AS d`,
        [t0, tEnd],
      ).catch(() => ({ rows: [{ k: '0', d: null }] }));
      const total = Number(c.rows[0]?.k ?? 0) + Number(c.rows[0]?.d ?? 0);
      if (total !== last) {
        last = total;
        stableSince = performance.now();
      }
      if (total >= 2 * n || performance.now() - stableSince > 3000) break;
      await sleep(200);
    }
    await kam.stop();
    await daemon.stop();
    const kRows = await parityRows(client, kTable, t0, tEnd);
    const dRows = await parityRows(client, dTable, t0, tEnd).catch(() => []);
    const exact = (rows: ParityRow[]): number => rows.filter((r) => (Number(r.micro_ts) - t0) % 1000 === 0).length;
    const dByTs = new Map(dRows.map((r) => [r.micro_ts, r]));
    const kTs = new Set(kRows.map((r) => r.micro_ts));
    const differences: ParityReport['differences'] = {};
    for (const k of kRows) {
      const d = dByTs.get(k.micro_ts);
      if (d === undefined) continue;
      for (const c of PARITY_COLUMNS) {
        if (k[c] === d[c]) continue;
        const e = (differences[c] ??= { rows: 0, examples: [] });
        e.rows++;
        if (e.examples.length < 3) e.examples.push(`micro_ts ${k.micro_ts}: kamailio ${JSON.stringify(k[c])} / sipcapture ${JSON.stringify(d[c])}`);
      }
    }
    return {
      packets: n,
      kamailioRows: kRows.length,
      sipcaptureRows: dRows.length,
      kamailioExactTs: exact(kRows),
      sipcaptureExactTs: exact(dRows),
      onlyKamailio: kRows.filter((r) => !dByTs.has(r.micro_ts)).length,
      onlySipcapture: dRows.filter((r) => !kTs.has(r.micro_ts)).length,
      differences,
    };
  } finally {
    untrack();
    await cleanup();
  }
}

function bestZeroLoss(rs: readonly { rate: number; lost: number; sent: number; count: number }[]): number | null {
  const zero = rs.filter(zeroLoss).map((r) => r.rate);
  return zero.length > 0 ? Math.max(...zero) : null;
}

async function main(): Promise<void> {
  const kam = install;
  const machine = machineInfo();
  const started = new Date().toISOString();
  const command = `node ${path.relative(process.cwd(), fileURLToPath(import.meta.url))} ${process.argv.slice(2).join(' ')}`.trim();
  log(`# Kamailio sipcapture side by side ${started}`);
  log(`# ${command}`);
  log(`# machine: ${machine.nproc} CPU (${machine.cpuModel}), ${machine.memGiB} GiB, ${machine.kernel}, node ${machine.node}, rmem_max ${machine.rmemMax}, loadavg ${machine.loadavg}`);
  log(`# ${kam.version} (${kam.bin}, modules ${kam.moduleDir}); children ${children}; extra core lines ${JSON.stringify(o['kamailio-core'] ?? [])}`);
  let backend: Homer5Backend;
  try {
    backend = await postgresBackend(pgUrl);
  } catch (err) {
    log(`# Kamailio side by side: skipped, PostgreSQL not usable at ${pgUrl}: ${(err as Error).message}`);
    return;
  }
  const client = new pg.Client({ connectionString: pgUrl, application_name: 'sipcapture-bench-kamailio' });
  await client.connect();
  const kamResults: KamStepResult[] = [];
  const scResults: StepResult[] = [];
  let parityReport: ParityReport | null = null;
  try {
    const server = await backend.describe();
    log(`# ${server}`);
    log(
      `# steps ${steps.join(',')} msg/s; each ≥ ${fmt(settings.minCount)} messages and ≥ ${settings.stepSeconds} s after a warm-up of ${fmt(settings.warmup)} at ≤ ${fmt(settings.warmupRate)}/s; udp/HEP3, mix mixed` +
        (o['with-sipcapture'] ? `; sipcapture config overrides ${JSON.stringify(overrides)}` : ''),
    );
    log('# Kamailio columns: kernel so/sys = drops on its UDP socket / system-wide RcvbufErrors; kCPU = all Kamailio processes, dbCPU = PostgreSQL');
    log('#   (all its processes but the poller\'s), sCPU = sender, % of one core over the step; mach = whole machine (of 200 %); ΣRSS = peak of the sum');
    log('#   of VmRSS over its processes (counts the shared memory once per process: an overestimate), ΣPSS = peak of the sum of Pss (shared pages');
    log('#   split between the processes: its real footprint), MiB; latency = HEP timestamp (send time) → row visible; start = spawn → first row');
    log('#   stored; errors = its ERROR log lines during the step; load = 1-min loadavg before the step');
    if (parityCount > 0) {
      log(`\n## parity: ${parityCount} packets (HEP3, mix mixed, fixed timestamps) to Kamailio and to the daemon (default config)`);
      parityReport = await parity(backend, client, parityCount);
      const p = parityReport;
      log(`#   rows: Kamailio ${p.kamailioRows}, sipcapture ${p.sipcaptureRows} of ${p.packets}; only in one table: Kamailio ${p.onlyKamailio}, sipcapture ${p.onlySipcapture}`);
      log(`#   micro_ts = the packet's HEP timestamp: Kamailio ${p.kamailioExactTs} of ${p.kamailioRows} rows, sipcapture ${p.sipcaptureExactTs} of ${p.sipcaptureRows}`);
      log(`#   compared on rows matched by micro_ts: micro_ts, ${PARITY_COLUMNS.join(', ')}`);
      const diffs = Object.entries(p.differences);
      if (diffs.length === 0) log('#   differences: none');
      for (const [c, d] of diffs) {
        log(`#   differs: ${c} in ${d.rows} rows`);
        for (const e of d.examples) log(`#     ${e.slice(0, 300)}`);
      }
    }
    log(`\n## steps${o['with-sipcapture'] ? ' (K = Kamailio, S = sipcapture, one after the other at each rate)' : ''}`);
    log(`K ${KAM_HEADER}`);
    if (o['with-sipcapture']) log(`S ${STEP_HEADER}`);
    for (const rate of steps) {
      const r = await runKamailioStep(backend, client, rate);
      kamResults.push(r);
      log(`K ${kamLine(r)}`);
      if (r.unexplained !== 0) log(`#     ${fmt(r.unexplained)} lost rows not explained by socket drops`);
      if (r.microTsOutsideSend !== 0) log(`#     ${fmt(r.microTsOutsideSend)} rows with a micro_ts outside the send window (not the HEP timestamp)`);
      if (r.warmupLost !== 0) log(`#     warm-up: ${fmt(r.warmupLost)} of ${fmt(r.warmupSent)} lost (not counted in the step)`);
      for (const e of r.errorSamples.slice(0, 3)) log(`#     ${e.slice(0, 300)}`);
      if (o['with-sipcapture']) {
        const s = await runDaemonStep(settings, backend, rate);
        scResults.push(s);
        log(`S ${stepLine(s)}`);
        for (const line of s.notable.slice(0, 3)) log(`#     ${line.slice(0, 300)}`);
        if (s.unexplained !== 0) log(`#     ${fmt(s.unexplained)} lost rows not explained by daemon drops or socket drops`);
        if (s.warmupLost !== 0) log(`#     warm-up: ${fmt(s.warmupLost)} of ${fmt(s.warmupSent)} lost (not counted in the step)`);
      }
    }
  } finally {
    await client.end();
    await backend.close();
  }
  const memory = kamResults[0]?.memory ?? null;
  log('\n# summary');
  const kBest = bestZeroLoss(kamResults);
  const kAtBest = kamResults.find((r) => r.rate === kBest);
  log(
    `Kamailio   highest zero-loss rate ${kBest === null ? 'none' : `${fmt(kBest)} msg/s`}` +
      ` | at best: p50 ${kAtBest ? fmtMs(kAtBest.p50Ms) : '-'} ms, p99 ${kAtBest ? fmtMs(kAtBest.p99Ms) : '-'} ms, ${kAtBest ? kAtBest.kamUsPerMsg.toFixed(1) : '-'} µs/msg` +
      ` | ${kamResults[0]?.processes ?? '-'} processes, peak ΣPSS ${fmt(Math.max(0, ...kamResults.map((r) => r.peakPssSumMiB)))} MiB (ΣRSS ${fmt(Math.max(0, ...kamResults.map((r) => r.peakRssSumMiB)))} MiB)` +
      (memory ? ` | shm ${fmtBytes(memory.shmBytes)}, pkg ${fmtBytes(memory.pkgBytes)} per process, UDP receive buffer ${fmtBytes(memory.rcvbufBytes)}` : ''),
  );
  if (o['with-sipcapture']) {
    const sBest = bestZeroLoss(scResults);
    const sAtBest = scResults.find((r) => r.rate === sBest);
    log(
      `sipcapture highest zero-loss rate ${sBest === null ? 'none' : `${fmt(sBest)} msg/s`}` +
        ` | at best: p50 ${sAtBest ? fmtMs(sAtBest.p50Ms) : '-'} ms, p99 ${sAtBest ? fmtMs(sAtBest.p99Ms) : '-'} ms, ${sAtBest ? sAtBest.daemonUsPerMsg.toFixed(1) : '-'} µs/msg` +
        ` | peak RSS ${fmt(Math.max(0, ...scResults.map((r) => r.peakRssMiB)))} MiB`,
    );
    log('');
    log(`${'rate'.padStart(8)} | ${'Kamailio stored / lost'.padEnd(26)} | sipcapture stored / lost`);
    for (const k of kamResults) {
      const s = scResults.find((x) => x.rate === k.rate);
      log(`${fmt(k.rate).padStart(8)} | ${`${fmt(k.stored)} / ${fmt(k.lost)}`.padEnd(26)} | ${s ? `${fmt(s.stored)} / ${fmt(s.lost)}` : '-'}`);
    }
    const ratio = kBest !== null && sBest !== null ? `${(sBest / kBest).toFixed(1)}×` : 'n/a';
    const note = sBest !== null && sBest === Math.max(...steps) ? ' (sipcapture had no loss at the highest step: a floor)' : '';
    log(`zero-loss rate, sipcapture / Kamailio: ${ratio}${note}`);
  }
  if (settings.minCount < 50_000) log('# note: fewer than 50,000 messages per step; not a valid zero-loss claim');
  if (o.out) {
    writeFileSync(
      o.out,
      JSON.stringify({ started, finished: new Date().toISOString(), command, machine, kamailio: kam, children, memory, options: o, overrides, parity: parityReport, kamailio_steps: kamResults, sipcapture_steps: scResults }, null, 2),
    );
    log(`# results written to ${o.out}`);
  }
}

function fmtBytes(n: number | null): string {
  return n === null ? '?' : `${(n / 2 ** 20).toFixed(n % 2 ** 20 === 0 ? 0 : 2)} MiB`;
}

try {
  await main();
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
