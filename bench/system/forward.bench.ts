/**
 * Forwarding benchmark, everything as child processes on loopback:
 * 1. Relay-only throughput with zero loss, against the receive rate of a daemon that only counts
 *    (same run, same steps): the sender offers HEP3 over UDP at each rate, (a) straight to the
 *    counting daemon, (b) to a pure relay (no db_url) forwarding over TCP to that same counter.
 *    lost = sent − what the counter received; the relay's own counters say where a loss was.
 * 2. The cost of forwarding on top of storing: a SQLite daemon at one rate, without and with a
 *    forward destination (the counter); CPU per message of the storing daemon.
 *
 *   node --import tsx bench/system/forward.bench.ts [--steps 10000,20000,30000] [--seconds 3] [--store-rate 10000]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemonProcess, type DaemonProcess } from '../harness/daemon.js';
import { cpuSeconds, processTree } from '../harness/proc.js';
import { rpcStats } from '../harness/step.js';
import { freePort } from '../../test/helpers/net.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'src', 'cli.ts');
const NODE_ARGS = ['--import', 'tsx'];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const STEPS = arg('steps', '10000,20000,30000').split(',').map(Number);
const SECONDS = Number(arg('seconds', '3'));
const STORE_RATE = Number(arg('store-rate', '10000'));
const dir = mkdtempSync(path.join(os.tmpdir(), 'sipcapture-fwd-bench-'));

interface Daemon {
  proc: DaemonProcess;
  port: number;
  http: number;
}

async function daemon(name: string, settings: Record<string, unknown>): Promise<Daemon> {
  const port = await freePort();
  const http = await freePort();
  const file = path.join(dir, `${name}.json5`);
  writeFileSync(
    file,
    JSON.stringify({
      capture_on: 1,
      hep_capture_on: 1,
      listen: [`udp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port}`],
      http_listen: `127.0.0.1:${http}`,
      rpc_socket: '',
      spool_dir: path.join(dir, `${name}-spool`),
      ...settings,
    }),
  );
  return { proc: await startDaemonProcess({ entry: CLI, nodeArgs: NODE_ARGS, configFile: file, cwd: ROOT }), port, http };
}

function send(port: number, rate: number, count: number): Promise<{ sent: number; achievedRate: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_ARGS, CLI, 'send', '--port', String(port), '--rate', String(rate), '--count', String(count), '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as { sent: number; achievedRate: number });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

type Stats = { received?: Record<string, number>; udp_kernel_drops?: Record<string, number>; stored?: Record<string, number>; forward?: { forwarded: number; spooled: number; dropped: Record<string, number> }[] };
const sum = (r: Record<string, number> | undefined): number => Object.values(r ?? {}).reduce((a, b) => a + b, 0);

/** Waits until `probe` stops growing for 1.5 s; returns its last value. */
async function settle(probe: () => Promise<number>): Promise<number> {
  let last = -1;
  let since = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== last) {
      last = v;
      since = Date.now();
    } else if (Date.now() - since > 1500) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const cpuOf = (d: Daemon): number => processTree(d.proc.pid).reduce((s, p) => s + cpuSeconds(p), 0);

async function main(): Promise<void> {
  const counter = await daemon('counter', { capture_on: 0, db_url: `sqlite://${path.join(dir, 'unused.sqlite')}` });
  const relay = await daemon('relay', { forward: [{ name: 'counter', address: `tcp:127.0.0.1:${counter.port}` }] });
  const counted = async (): Promise<number> => sum((await rpcStats<Stats>(counter.http))?.received);
  console.log(`relay-only, ${SECONDS} s per step, HEP3 over UDP in; relay → counter over TCP`);
  console.log('rate      | direct: sent achieved/s lost | relay: sent achieved/s lost kernel-drops received forwarded spooled dropped | relay µs/msg');
  for (const rate of STEPS) {
    const count = rate * SECONDS;
    const before = await counted();
    const direct = await send(counter.port, rate, count);
    const afterDirect = await settle(counted);
    const relayStatsBefore = await rpcStats<Stats>(relay.http);
    const relayBefore = relayStatsBefore?.forward?.[0];
    const cpu0 = cpuOf(relay);
    const viaRelay = await send(relay.port, rate, count);
    const afterRelay = await settle(counted);
    const cpu1 = cpuOf(relay);
    const relayStats = await rpcStats<Stats>(relay.http);
    const f = relayStats?.forward?.[0];
    const kernelDrops = sum(relayStats?.udp_kernel_drops) - sum(relayStatsBefore?.udp_kernel_drops);
    const relayReceived = sum(relayStats?.received) - sum(relayStatsBefore?.received);
    const spooled = (f?.spooled ?? 0) - (relayBefore?.spooled ?? 0);
    const dropped = sum(f?.dropped) - sum(relayBefore?.dropped);
    console.log(
      [
        String(rate).padEnd(9),
        '|',
        String(direct.sent).padStart(12),
        Math.round(direct.achievedRate).toString().padStart(10),
        String(direct.sent - (afterDirect - before)).padStart(4),
        '|',
        String(viaRelay.sent).padStart(11),
        Math.round(viaRelay.achievedRate).toString().padStart(10),
        String(viaRelay.sent - (afterRelay - afterDirect)).padStart(4),
        String(kernelDrops).padStart(12),
        String(relayReceived).padStart(8),
        String((f?.forwarded ?? 0) - (relayBefore?.forwarded ?? 0)).padStart(9),
        String(spooled).padStart(7),
        String(dropped).padStart(7),
        '|',
        (((cpu1 - cpu0) / viaRelay.sent) * 1e6).toFixed(1).padStart(12),
      ].join(' '),
    );
  }
  await relay.proc.stop();

  console.log(`\nstoring (SQLite) at ${STORE_RATE}/s for ${SECONDS} s, without and with a forward destination`);
  for (const withForward of [false, true]) {
    const name = withForward ? 'store-forward' : 'store';
    const d = await daemon(name, {
      db_url: `sqlite://${path.join(dir, `${name}.sqlite`)}`,
      ...(withForward ? { forward: [{ name: 'counter', address: `tcp:127.0.0.1:${counter.port}` }] } : {}),
    });
    await send(d.port, 5000, 10_000); // warm-up
    await settle(async () => sum((await rpcStats<Stats>(d.http))?.stored));
    const base = sum((await rpcStats<Stats>(d.http))?.stored);
    const cpu0 = cpuOf(d);
    const s = await send(d.port, STORE_RATE, STORE_RATE * SECONDS);
    const stored = (await settle(async () => sum((await rpcStats<Stats>(d.http))?.stored))) - base;
    const cpu = cpuOf(d) - cpu0;
    console.log(`${name.padEnd(14)} sent ${s.sent}, stored ${stored}, daemon CPU ${cpu.toFixed(2)} s = ${((cpu / s.sent) * 1e6).toFixed(1)} µs/msg`);
    await d.proc.stop();
  }
  await counter.proc.stop();
  rmSync(dir, { recursive: true, force: true });
}

await main();
