/**
 * Overload and soak benchmark (`npm run bench:overload`).
 *
 * Overload (default): one daemon (child process, default config plus `memory_limit_mb`, its own
 * table), the load generator at `--rate` (default 230,000 msg/s ≈ 10× the zero-loss rate; the
 * sender's achieved rate is reported — it may be lower on a small machine) for `--seconds`,
 * then `--low-rate` for `--low-seconds`. Daemon RSS is read from /proc every second. Reports:
 * peak RSS vs the cap, drops by reason (daemon counters) and kernel socket drops, per phase, and
 * the time from the start of the low phase to the last second with any drop (recovery to zero
 * loss).
 *
 * Soak (`--soak-minutes M --rate N`): N msg/s for M minutes; one line per minute with RSS (mean,
 * max), drops and kernel drops; then the RSS growth (mean of the first 5 minutes vs the last 5).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { SendSummary } from '../../src/loadgen/sender.js';
import { mysqlBackend, postgresBackend, sqliteBackend, type BenchBackend } from '../harness/backends.js';
import { startDaemonProcess } from '../harness/daemon.js';
import { machineInfo, statusMiB, udpSocketDrops } from '../harness/proc.js';
import { numberArg } from '../harness/args.js';
import { freePort, rpcStats } from '../harness/step.js';

const HELP = `npm run bench:overload -- [options]
  --backend postgres|mysql|sqlite   (default postgres)
  --transport udp|tcp         how the load generator sends (default udp)
  --connections N             TCP connections of the load generator (default 4)
  --rate N                    offered msg/s (overload default 230000; soak: required)
  --seconds N                 overload phase length (default 60)
  --low-rate N                rate after the overload (default 2000)
  --low-seconds N             (default 20)
  --memory-limit-mb N         the daemon's memory_limit_mb (default 256)
  --soak-minutes M            soak mode: --rate for M minutes, RSS per minute
  --sender-workers N          sender threads (default 1)
  --set KEY=VALUE             extra daemon config, repeatable
  --pg-url URL
  --mysql-url URL
`;

const args = parseArgs({
  options: {
    backend: { type: 'string', default: 'postgres' },
    rate: { type: 'string' },
    seconds: { type: 'string', default: '60' },
    'low-rate': { type: 'string', default: '2000' },
    'low-seconds': { type: 'string', default: '20' },
    'memory-limit-mb': { type: 'string', default: '256' },
    'soak-minutes': { type: 'string' },
    'sender-workers': { type: 'string', default: '1' },
    set: { type: 'string', multiple: true, default: [] },
    'pg-url': { type: 'string', default: process.env['SIPCAPTURE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test' },
    'mysql-url': { type: 'string', default: process.env['SIPCAPTURE_TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test' },
    transport: { type: 'string', default: 'udp' },
    connections: { type: 'string', default: '4' },
    help: { type: 'boolean', default: false },
  },
});
const o = args.values;
if (o.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const num = numberArg;
const soakMinutes = num(o['soak-minutes'], 0);
const rate = num(o.rate, soakMinutes > 0 ? 0 : 230_000);
if (rate <= 0) throw new RangeError('--rate is required');
const capMiB = num(o['memory-limit-mb'], 256);
const here = path.dirname(fileURLToPath(import.meta.url));
const entry = path.resolve(here, '..', '..', 'src', 'cli.js');
const workDir = mkdtempSync(path.join(os.tmpdir(), 'sipcapture-overload-'));
const table = `bench_faults_${Date.now().toString(36)}`;
const overrides: Record<string, unknown> = {};
for (const kv of o.set ?? []) {
  const eq = kv.indexOf('=');
  if (eq <= 0) throw new RangeError(`--set KEY=VALUE, got ${kv}`);
  const raw = kv.slice(eq + 1);
  overrides[kv.slice(0, eq)] = /^-?\d+$/.test(raw) ? Number(raw) : raw;
}
const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

interface RpcStats {
  dropped: Record<string, number>;
  received: Record<string, number>;
  stored: Record<string, number>;
  stores: { queue_rows: number; queue_bytes?: number; spool_bytes?: number }[];
  memory?: { shedding: boolean; shed_episodes: number };
}

function startSender(port: number, r: number, count: number): { child: ChildProcess; done: Promise<SendSummary | null> } {
  const argv = [entry, 'send', '--json', '--port', String(port), '--rate', String(r), '--count', String(count), '--mix', 'mixed', '--workers', o['sender-workers'] ?? '1'];
  if (o.transport === 'tcp') argv.push('--transport', 'tcp', '--connections', o.connections ?? '4');
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  const done = new Promise<SendSummary | null>((resolve) =>
    child.once('exit', () => {
      try {
        resolve(JSON.parse(text.trim().split('\n').pop() ?? '') as SendSummary);
      } catch {
        resolve(null);
      }
    }),
  );
  return { child, done };
}

const sum = (r: Record<string, number> | undefined): number => Object.values(r ?? {}).reduce((a, b) => a + b, 0);
const diff = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
  const d: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const v = (a[k] ?? 0) - (b[k] ?? 0);
    if (v !== 0) d[k] = v;
  }
  return d;
};

interface Sample {
  t: number;
  rssMiB: number;
  dropped: Record<string, number>;
  received: number;
  stored: number;
  kernelDrops: number;
  queueBytes: number;
  spoolBytes: number;
  shedding: boolean;
}

async function main(): Promise<void> {
  const backend: BenchBackend =
    o.backend === 'sqlite' ? sqliteBackend(workDir) : o.backend === 'mysql' ? await mysqlBackend(o['mysql-url'] ?? '') : await postgresBackend(o['pg-url'] ?? '');
  const port = await freePort();
  const httpPort = await freePort([port]);
  const cfg: Record<string, unknown> = {
    db_url: backend.dbUrl(table),
    table_name: table,
    capture_on: 1,
    hep_capture_on: 1,
    listen: [`udp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port}`],
    http_listen: `127.0.0.1:${httpPort}`,
    rpc_socket: '',
    spool_dir: path.join(workDir, 'spool'),
    memory_limit_mb: capMiB,
    ...overrides,
  };
  const configFile = path.join(workDir, 'overload.json5');
  writeFileSync(configFile, JSON.stringify(cfg, null, 2));
  const m = machineInfo();
  out(`# ${soakMinutes > 0 ? `soak ${soakMinutes} min at ${fmt(rate)} msg/s` : `overload ${fmt(rate)} msg/s for ${o.seconds} s, then ${o['low-rate']} msg/s for ${o['low-seconds']} s`}`);
  out(`# ${m.nproc} CPU ${m.cpuModel}, ${m.memGiB} GiB, ${m.kernel}, node ${m.node}, load ${m.loadavg}; ${await backend.describe()}`);
  out(`# daemon config: ${JSON.stringify({ ...cfg, db_url: '…' })}`);
  const daemon = await startDaemonProcess({ entry, configFile, cwd: workDir });
  const samples: Sample[] = [];
  const t0 = Date.now();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const s = await rpcStats<RpcStats>(httpPort);
      const k = udpSocketDrops(port);
      samples.push({
        t: (Date.now() - t0) / 1000,
        rssMiB: statusMiB(daemon.pid, 'VmRSS'),
        dropped: s?.dropped ?? samples.at(-1)?.dropped ?? {},
        received: s === null ? (samples.at(-1)?.received ?? 0) : sum(s.received),
        stored: s === null ? (samples.at(-1)?.stored ?? 0) : sum(s.stored),
        kernelDrops: k?.drops ?? samples.at(-1)?.kernelDrops ?? 0,
        queueBytes: s?.stores.reduce((a, x) => a + (x.queue_bytes ?? 0), 0) ?? 0,
        spoolBytes: s?.stores.reduce((a, x) => a + (x.spool_bytes ?? 0), 0) ?? 0,
        shedding: s?.memory?.shedding ?? false,
      });
      await sleep(1000 - ((Date.now() - t0) % 1000));
    }
  })();
  try {
    if (soakMinutes > 0) await soak(port);
    else await overload(port);
  } finally {
    sampling = false;
    await sampler;
    const exit = await daemon.stop(120_000);
    out(`# daemon exit ${exit.code ?? exit.signal}; stored ${fmt(sum(exit.stats?.stored))}, dropped ${JSON.stringify(exit.stats?.dropped ?? {})}`);
    out(`# rows in the table: ${fmt(await backend.count(table))}`);
    await backend.dropTable(table);
    await backend.close();
    rmSync(workDir, { recursive: true, force: true });
  }

  function at(t: number): Sample {
    let best = samples[0]!;
    for (const s of samples) if (s.t <= t) best = s;
    return best;
  }

  async function overload(p: number): Promise<void> {
    const seconds = num(o.seconds, 60);
    const lowRate = num(o['low-rate'], 2000);
    const lowSeconds = num(o['low-seconds'], 20);
    await sleep(1500);
    const startT = (Date.now() - t0) / 1000;
    const hi = startSender(p, rate, Math.round(rate * seconds));
    // The sender may not reach the rate: stop it after `seconds` whatever it sent.
    const stopper = setTimeout(() => hi.child.kill('SIGINT'), seconds * 1000 + 500);
    const hiSum = await hi.done;
    clearTimeout(stopper);
    const midT = (Date.now() - t0) / 1000;
    const lo = startSender(p, lowRate, Math.round(lowRate * lowSeconds));
    const loSum = await lo.done;
    const endT = (Date.now() - t0) / 1000;
    await sleep(3000);
    const startS = at(startT);
    const midS = at(midT);
    const endS = at(endT + 3);
    const hiSamples = samples.filter((s) => s.t >= startT && s.t <= midT);
    // A sender stopped at the deadline prints no summary: on loopback every datagram it sent
    // was either received by the daemon or dropped by the kernel at the socket.
    const hiSent = hiSum?.sent ?? midS.received - startS.received + (midS.kernelDrops - startS.kernelDrops);
    const hiRate = hiSum?.achievedRate ?? hiSent / Math.max(1, midT - startT);
    const peak = Math.max(...samples.map((s) => s.rssMiB));
    out('');
    const storedRate = (a: Sample, b: Sample): number => (b.stored - a.stored) / Math.max(1, b.t - a.t);
    out(`| phase | offered msg/s | sent (${o.transport}) | achieved msg/s | stored msg/s | daemon drops by reason | kernel socket drops | peak RSS MiB |`);
    out('|---|---|---|---|---|---|---|---|');
    out(
      `| overload | ${fmt(rate)} | ${fmt(hiSent)} | ${fmt(hiRate)} | ${fmt(storedRate(startS, midS))} | ${JSON.stringify(diff(midS.dropped, startS.dropped))} | ${fmt(midS.kernelDrops - startS.kernelDrops)} | ${fmt(Math.max(...hiSamples.map((s) => s.rssMiB)))} |`,
    );
    out(
      `| low | ${fmt(lowRate)} | ${fmt(loSum?.sent ?? NaN)} | ${fmt(loSum?.achievedRate ?? NaN)} | ${fmt(storedRate(midS, endS))} | ${JSON.stringify(diff(endS.dropped, midS.dropped))} | ${fmt(endS.kernelDrops - midS.kernelDrops)} | ${fmt(Math.max(...samples.filter((s) => s.t > midT).map((s) => s.rssMiB)))} |`,
    );
    // Recovery: the last second of the low phase in which anything was dropped.
    let lastLossT = midT;
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1]!;
      const b = samples[i]!;
      if (b.t <= midT || a.t > endT) continue;
      if (sum(b.dropped) > sum(a.dropped) || b.kernelDrops > a.kernelDrops) lastLossT = b.t;
    }
    out('');
    out(`peak RSS ${fmt(peak)} MiB (cap memory_limit_mb ${capMiB}); time to zero loss after the load fell: ${(lastLossT - midT).toFixed(1)} s`);
    out('');
    out('| t s | RSS MiB | queue MiB | spool MiB | shedding | new daemon drops | new kernel drops |');
    out('|---|---|---|---|---|---|---|');
    for (let i = 1; i < samples.length; i += samples.length > 40 ? 5 : 1) {
      const a = samples[Math.max(0, i - (samples.length > 40 ? 5 : 1))]!;
      const b = samples[i]!;
      out(
        `| ${b.t.toFixed(0)} | ${fmt(b.rssMiB)} | ${(b.queueBytes / 1048576).toFixed(1)} | ${(b.spoolBytes / 1048576).toFixed(1)} | ${b.shedding ? 1 : 0} | ${fmt(sum(b.dropped) - sum(a.dropped))} | ${fmt(b.kernelDrops - a.kernelDrops)} |`,
      );
    }
  }

  async function soak(p: number): Promise<void> {
    await sleep(1500);
    const startT = (Date.now() - t0) / 1000;
    const s = startSender(p, rate, Math.round(rate * soakMinutes * 60));
    const lines: { minute: number; mean: number; max: number; drops: number; kernel: number }[] = [];
    out('| minute | RSS mean MiB | RSS max MiB | daemon drops | kernel drops |');
    out('|---|---|---|---|---|');
    let done = false;
    void s.done.then(() => (done = true));
    for (let minute = 1; minute <= soakMinutes && !done; minute++) {
      const end = startT + minute * 60;
      while ((Date.now() - t0) / 1000 < end && !done) await sleep(500);
      const w = samples.filter((x) => x.t > end - 60 && x.t <= end);
      if (w.length === 0) continue;
      const a = at(end - 60);
      const b = w.at(-1)!;
      const line = {
        minute,
        mean: w.reduce((acc, x) => acc + x.rssMiB, 0) / w.length,
        max: Math.max(...w.map((x) => x.rssMiB)),
        drops: sum(b.dropped) - sum(a.dropped),
        kernel: b.kernelDrops - a.kernelDrops,
      };
      lines.push(line);
      out(`| ${minute} | ${line.mean.toFixed(1)} | ${line.max.toFixed(1)} | ${fmt(line.drops)} | ${fmt(line.kernel)} |`);
    }
    const summary = await s.done;
    const k = Math.min(5, Math.floor(lines.length / 2));
    if (k > 0) {
      const first = lines.slice(0, k).reduce((acc, x) => acc + x.mean, 0) / k;
      const last = lines.slice(-k).reduce((acc, x) => acc + x.mean, 0) / k;
      out('');
      out(`sent ${fmt(summary?.sent ?? NaN)} at ${fmt(summary?.achievedRate ?? NaN)} msg/s; RSS mean first ${k} min ${first.toFixed(1)} MiB, last ${k} min ${last.toFixed(1)} MiB: growth ${(last - first).toFixed(1)} MiB (${(((last - first) / first) * 100).toFixed(1)} %)`);
    }
  }
}

await main();
