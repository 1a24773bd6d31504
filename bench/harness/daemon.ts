/**
 * The daemon under test as a child process (`node <cli.js> run -c FILE`), so its CPU and peak
 * RSS can be read from /proc and a crash cannot take the benchmark down. Start-up time is spawn
 * → the `sipcapture running` log line (every listener bound). Stopping sends SIGTERM and reads
 * the stats snapshot the daemon logs on its way out (`stopped`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import type { StatsSnapshot } from '../../src/telemetry/stats.js';

export interface LogLine {
  level?: number;
  msg?: string;
  [key: string]: unknown;
}

/** What bench/harness/loop-probe.ts reports at the daemon's exit. */
export interface LoopProbe {
  maxMs: number;
  p99Ms: number;
  p999Ms: number;
  meanMs: number;
  gc: { count: number; totalMs: number; maxMs: number; over50ms: number; byKind: Record<string, { count: number; totalMs: number; maxMs: number }> };
}

export interface DaemonExit {
  code: number | null;
  /** null when the probe was not loaded. */
  probe: LoopProbe | null;
  signal: NodeJS.Signals | null;
  stats: StatsSnapshot | null;
  /** warn and worse lines (drops, failures), and anything not JSON. */
  notable: string[];
  stderr: string;
}

export interface DaemonProcess {
  readonly pid: number;
  /** ms from spawn to "sipcapture running". */
  readonly startupMs: number;
  /** SIGTERM, wait for exit (at most `timeoutMs`, then SIGKILL). */
  stop(timeoutMs?: number): Promise<DaemonExit>;
}

export interface DaemonStartOptions {
  /** The CLI entry (dist/src/cli.js). */
  entry: string;
  configFile: string;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: readonly string[];
  cwd?: string;
  startTimeoutMs?: number;
}

export async function startDaemonProcess(o: DaemonStartOptions): Promise<DaemonProcess> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [...(o.nodeArgs ?? []), o.entry, 'run', '-c', o.configFile], {
    cwd: o.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const notable: string[] = [];
  let stderr = '';
  let stats: StatsSnapshot | null = null;
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 20_000) stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let onRunning: (() => void) | null = null;
  const running = new Promise<void>((resolve) => (onRunning = resolve));
  const rl = readline.createInterface({ input: child.stdout! });
  rl.on('line', (line) => {
    let rec: LogLine;
    try {
      rec = JSON.parse(line) as LogLine;
    } catch {
      if (notable.length < 200) notable.push(line);
      return;
    }
    if (rec.msg === 'sipcapture running') onRunning?.();
    if (rec.msg === 'stopped' && typeof rec['stats'] === 'object') stats = rec['stats'] as StatsSnapshot;
    if ((rec.level ?? 0) >= 40 && notable.length < 200) notable.push(line);
  });
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), o.startTimeoutMs ?? 30_000).unref());
  const first = await Promise.race([running.then(() => 'running' as const), exited.then(() => 'exited' as const), timeout]);
  const startupMs = performance.now() - t0;
  if (first !== 'running') {
    child.kill('SIGKILL');
    throw new Error(`daemon did not start (${first}): ${stderr.slice(0, 2000)} ${notable.join('\n').slice(0, 2000)}`);
  }
  const rlClosed = new Promise<void>((resolve) => rl.once('close', resolve));
  return {
    pid: child.pid!,
    startupMs,
    async stop(timeoutMs = 60_000) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const { code, signal } = await exited;
      clearTimeout(killer);
      await rlClosed;
      let probe: LoopProbe | null = null;
      for (const line of stderr.split('\n')) {
        if (!line.startsWith('{"loopProbe"')) continue;
        try {
          probe = (JSON.parse(line) as { loopProbe: LoopProbe }).loopProbe;
        } catch {
          // a cut line: no probe
        }
      }
      return { code, signal, probe, stats, notable, stderr };
    },
  };
}
