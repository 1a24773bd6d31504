/**
 * Raw capture (Kamailio's raw_ipip_capture_on / raw_moni_capture_on) as a Listener in the
 * daemon. The native capture runs in child processes (capture-child.ts): cap and raw-socket are
 * main-thread-only, and cap aborts its process when the interface disappears. A child that dies
 * is started again with exponential back-off; the daemon keeps running.
 *
 * raw_sock_children = N starts N children, each with its own capture handle, and gives each a
 * disjoint share of the traffic so no packet is delivered twice:
 * - mirror: a kernel filter clause per child, (src ^ dst) % N = k on the outermost IP header
 *   (bpf.ts), so the kernel does the split;
 * - IPIP: every raw socket sees every packet (the kernel clones raw deliveries), so each child
 *   keeps only packets whose inner (src ^ dst) % N is its index.
 * Either way all fragments and both directions of a flow land in the same child, which keeps
 * reassembly correct. On a 2-core machine N = 1 is the sensible setting.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { CapturedMessage } from '../capture/message.js';
import type { SipcaptureConfig } from '../config/types.js';
import type { Stats } from '../telemetry/stats.js';
import { isRawDropKind, reportDrops, type RawDropKind } from './drops.js';
import type { FragmentLimits } from './fragments.js';
import { BatchReader } from './message-batch.js';
import { rawListenOf, portRangeText, type RawListen } from './port-filter.js';
import type { TcpLimits } from './tcp-stream.js';
import type { CaptureChildConfig, ChildToParent, ParentToChild } from './capture-child.js';
import type { Listener } from '../listeners/types.js';
import type { MessageSink } from '../capture/message.js';
import { backoffDelay } from '../util/backoff.js';

export type RawCaptureConfig = Pick<
  SipcaptureConfig,
  | 'raw_ipip_capture_on'
  | 'raw_moni_capture_on'
  | 'raw_socket_listen'
  | 'raw_interface'
  | 'raw_sock_children'
  | 'promiscuous_on'
  | 'raw_moni_bpf_on'
>;

export class RawCaptureConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RawCaptureConfigError';
  }
}

/** Most capture children we start (raw_sock_children above this is a config error). */
export const MAX_RAW_CHILDREN = 64;

/** Which raw mode the config asks for, or null for none. Throws for both (Kamailio refuses too). */
export function rawCaptureMode(config: RawCaptureConfig): 'ipip' | 'mirror' | null {
  const ipip = config.raw_ipip_capture_on !== 0;
  const mirror = config.raw_moni_capture_on !== 0;
  if (ipip && mirror) {
    throw new RawCaptureConfigError('only one RAW mode is supported: raw_ipip_capture_on and raw_moni_capture_on are both set');
  }
  return ipip ? 'ipip' : mirror ? 'mirror' : null;
}

/** Start-up checks that do not need a child: mode, raw_socket_listen, interface, children. */
export function validateRawCapture(config: RawCaptureConfig): { mode: 'ipip' | 'mirror'; listen: RawListen } {
  const mode = rawCaptureMode(config);
  if (mode === null) throw new RawCaptureConfigError('raw capture is not enabled (raw_ipip_capture_on / raw_moni_capture_on)');
  let listen: RawListen;
  try {
    listen = rawListenOf(config.raw_socket_listen, mode === 'mirror');
  } catch (err) {
    throw new RawCaptureConfigError((err as Error).message);
  }
  if (mode === 'ipip' && listen.ipVersion === 6) {
    throw new RawCaptureConfigError(
      `raw_socket_listen "${config.raw_socket_listen}": IPIP capture receives IPv4 outer headers, so the IP must be IPv4 (or empty / 0.0.0.0)`,
    );
  }
  const dev = config.raw_interface;
  if (dev !== '' && (!/^[\w.:@-]{1,15}$/.test(dev) || !existsSync(`/sys/class/net/${dev}`))) {
    throw new RawCaptureConfigError(`raw_interface "${dev}": no such network interface`);
  }
  const n = config.raw_sock_children;
  if (!Number.isInteger(n) || n < 1 || n > MAX_RAW_CHILDREN) {
    throw new RawCaptureConfigError(`raw_sock_children ${n}: expected an integer from 1 to ${MAX_RAW_CHILDREN}`);
  }
  return { mode, listen };
}

export interface RawSupervisorOptions {
  config: RawCaptureConfig;
  sink: MessageSink;
  stats: Stats;
  logger?: Logger | null;
  /** Capture buffer per child: cap's ring (mirror) or the socket receive queue (IPIP). Default 256 MiB / 64 MiB. */
  bufferBytes?: number;
  /** First restart delay; doubles per consecutive failure up to restartMaxMs. Default 200 ms. */
  restartInitialMs?: number;
  restartMaxMs?: number;
  /** A child that ran this long resets the back-off. Default 60 s. */
  restartStableMs?: number;
  /** start() rejects if a child is not capturing within this time. Default 15 s. */
  startTimeoutMs?: number;
  /** How often children report counters. Default 1000 ms. */
  statsIntervalMs?: number;
  /** Batches waiting in a child's pipe above this are dropped (ipc_backlog). Default 64 MiB. */
  maxPendingBytes?: number;
  fragments?: Partial<FragmentLimits>;
  tcp?: Partial<TcpLimits>;
}

export interface RawChildStatus {
  index: number;
  pid: number | null;
  state: 'starting' | 'running' | 'waiting' | 'stopped';
  restarts: number;
  /** Messages this child delivered since start(). */
  messages: number;
  lastError: string | null;
}

interface Slot {
  index: number;
  proc: ChildProcess | null;
  state: RawChildStatus['state'];
  restarts: number;
  messages: number;
  failures: number;
  readyAt: number;
  lastError: string | null;
  timer: NodeJS.Timeout | null;
  /** Settles the start() wait for this slot. */
  onStarted: ((err: Error | null) => void) | null;
}

/** Node flags a child needs to load the same code (tsx under development), without test/debug flags. */
function childExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (/^(--import|--require|-r|--loader|--experimental-loader|--conditions|-C)$/.test(a)) {
      out.push(a, argv[i + 1] ?? '');
      i++;
    } else if (/^(--import|--require|--loader|--experimental-loader|--conditions)=/.test(a) || /^--(enable-source-maps|no-warnings|no-deprecation)$/.test(a)) {
      out.push(a);
    }
  }
  return out;
}

export class RawCaptureSupervisor implements Listener {
  readonly name: string;
  private readonly mode: 'ipip' | 'mirror';
  private readonly slots: Slot[] = [];
  private readonly log: Logger | null;
  private stopping = false;
  private totalRestarts = 0;
  private readonly dropsByKind = new Map<RawDropKind, number>();

  /** Validates the config (throws RawCaptureConfigError); nothing starts before start(). */
  constructor(private readonly opts: RawSupervisorOptions) {
    const { mode, listen } = validateRawCapture(opts.config);
    this.mode = mode;
    this.log = opts.logger ?? null;
    this.name =
      mode === 'ipip'
        ? `ipip:${listen.ipText === '' ? '*' : listen.ipText}:${portRangeText(listen)}`
        : `mirror:${opts.config.raw_interface === '' ? 'any' : opts.config.raw_interface}:${portRangeText(listen)}`;
    for (let i = 0; i < opts.config.raw_sock_children; i++) {
      this.slots.push({ index: i, proc: null, state: 'stopped', restarts: 0, messages: 0, failures: 0, readyAt: 0, lastError: null, timer: null, onStarted: null });
    }
  }

  /** Child restarts since start(). */
  get restarts(): number {
    return this.totalRestarts;
  }

  status(): RawChildStatus[] {
    return this.slots.map((s) => ({ index: s.index, pid: s.proc?.pid ?? null, state: s.state, restarts: s.restarts, messages: s.messages, lastError: s.lastError }));
  }

  /** Packets not delivered since construction, by raw drop kind (finer than the Stats reasons). */
  dropCounts(): Record<string, number> {
    return Object.fromEntries(this.dropsByKind);
  }

  /** PIDs of the running children (tests kill them to check the restart). */
  childPids(): number[] {
    return this.slots.flatMap((s) => (s.proc?.pid !== undefined && s.state === 'running' ? [s.proc.pid] : []));
  }

  async start(): Promise<void> {
    this.stopping = false;
    const timeoutMs = this.opts.startTimeoutMs ?? 15_000;
    const waits = this.slots.map(
      (slot) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            slot.onStarted = null;
            reject(new Error(`${this.name}: capture child ${slot.index} did not start within ${timeoutMs} ms`));
          }, timeoutMs);
          slot.onStarted = (err) => {
            clearTimeout(timer);
            slot.onStarted = null;
            if (err === null) resolve();
            else reject(err);
          };
          this.spawn(slot);
        }),
    );
    const results = await Promise.allSettled(waits);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await this.stop();
      throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.slots.map((slot) => this.stopSlot(slot)));
  }

  private stopSlot(slot: Slot): Promise<void> {
    if (slot.timer !== null) clearTimeout(slot.timer);
    slot.timer = null;
    const proc = slot.proc;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) {
      slot.state = 'stopped';
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const kill = setTimeout(() => proc.kill('SIGKILL'), 3000);
      proc.once('exit', () => {
        clearTimeout(kill);
        slot.state = 'stopped';
        resolve();
      });
      if (proc.connected) proc.send({ type: 'stop' } satisfies ParentToChild);
      else proc.kill('SIGTERM');
    });
  }

  private childConfig(slot: Slot): CaptureChildConfig {
    const c = this.opts.config;
    return {
      mode: this.mode,
      listener: this.name,
      raw_socket_listen: c.raw_socket_listen,
      device: c.raw_interface,
      promiscuous: c.promiscuous_on !== 0,
      bpf: c.raw_moni_bpf_on !== 0,
      index: slot.index,
      count: this.slots.length,
      bufferBytes: this.opts.bufferBytes ?? (this.mode === 'mirror' ? 256 : 64) * 1024 * 1024,
      maxPendingBytes: this.opts.maxPendingBytes ?? 64 * 1024 * 1024,
      statsIntervalMs: this.opts.statsIntervalMs ?? 1000,
      fragments: this.opts.fragments ?? {},
      tcp: this.opts.tcp ?? {},
    };
  }

  private spawn(slot: Slot): void {
    slot.timer = null;
    slot.state = 'starting';
    let proc: ChildProcess;
    try {
      proc = fork(new URL('./capture-child.js', import.meta.url), [], {
        execArgv: childExecArgv(),
        stdio: ['ignore', 'inherit', 'pipe', 'ipc', 'pipe'],
        serialization: 'json',
      });
    } catch (err) {
      this.failed(slot, `cannot start capture child: ${(err as Error).message}`);
      return;
    }
    slot.proc = proc;
    const reader = new BatchReader(this.name);
    const data = proc.stdio[4] as Readable | null;
    const deliver = (msg: CapturedMessage): void => {
      slot.messages++;
      try {
        this.opts.sink.accept(msg);
      } catch (err) {
        // A downstream bug must not stop the capture; it is logged and the message is lost.
        this.log?.error({ err, listener: this.name }, 'message sink failed');
      }
    };
    data?.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, deliver);
      } catch (err) {
        this.log?.error({ err, listener: this.name }, 'bad data from capture child; restarting it');
        proc.kill('SIGKILL');
      }
    });
    data?.on('error', () => undefined);
    // libpcap and cap print warnings (and abort messages) on stderr: pass them to the log.
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (text: string) => this.childStderr(slot, text));
    proc.on('message', (raw: unknown) => this.onMessage(slot, raw as ChildToParent));
    proc.on('error', (err) => {
      slot.lastError = err.message;
    });
    proc.on('exit', (code, signal) => {
      if (slot.proc === proc) this.onExit(slot, code, signal);
    });
    proc.send({ type: 'start', config: this.childConfig(slot) } satisfies ParentToChild);
  }

  private onMessage(slot: Slot, msg: ChildToParent): void {
    switch (msg.type) {
      case 'ready':
        slot.state = 'running';
        slot.readyAt = Date.now();
        slot.lastError = null;
        this.log?.info(
          { listener: this.name, child: slot.index, pid: slot.proc?.pid, linkType: msg.linkType, filter: msg.filter, buffer: msg.grantedBuffer },
          `raw capture started: ${msg.description}`,
        );
        slot.onStarted?.(null);
        break;
      case 'fatal':
        // The child exits next; onExit restarts it (with this message) unless start() is waiting.
        slot.lastError = msg.message;
        if (slot.onStarted !== null) {
          slot.state = 'stopped';
          slot.onStarted(new RawCaptureConfigError(msg.message));
        }
        break;
      case 'stats': {
        const stats = this.opts.stats;
        for (let i = 0; i < msg.frames; i++) stats.received(this.name, this.mode);
        const drops = msg.drops.filter((d) => isRawDropKind(d.kind));
        if (msg.kernelDrops !== null && msg.kernelDrops > 0) {
          drops.push({ kind: 'kernel_drop', count: msg.kernelDrops, detail: 'the kernel dropped packets (receive queue full)' });
        }
        for (const d of drops) this.dropsByKind.set(d.kind, (this.dropsByKind.get(d.kind) ?? 0) + d.count);
        reportDrops(drops, (reason, detail, count) => stats.drop(reason, detail, count));
        break;
      }
    }
  }

  private childStderr(slot: Slot, text: string): void {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      // pcap_lookupnet complaints about interfaces without an IPv4 address are harmless.
      const noise = /no IPv4 address assigned|SIOCGIFADDR/.test(line);
      if (this.log !== null) {
        if (noise) this.log.debug({ listener: this.name, child: slot.index }, line);
        else this.log.warn({ listener: this.name, child: slot.index }, `capture child: ${line}`);
      } else if (!noise) {
        process.stderr.write(`${this.name} child ${slot.index}: ${line}\n`);
      }
    }
  }

  private onExit(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    slot.proc = null;
    if (this.stopping || slot.state === 'stopped') {
      slot.state = 'stopped';
      return;
    }
    const why = signal !== null ? `killed by ${signal}` : `exited with code ${code ?? '?'}`;
    if (slot.onStarted !== null) {
      // Died before it was capturing: start() fails (with the child's own message if it sent one).
      slot.state = 'stopped';
      slot.onStarted(new Error(slot.lastError ?? `${this.name}: capture child ${why} during start-up`));
      return;
    }
    this.failed(slot, `capture child ${slot.index} ${why}${slot.lastError !== null ? ` (${slot.lastError})` : ''}`);
  }

  private failed(slot: Slot, why: string): void {
    if (this.stopping) return;
    if (slot.readyAt > 0 && Date.now() - slot.readyAt >= (this.opts.restartStableMs ?? 60_000)) slot.failures = 0;
    slot.readyAt = 0;
    const initial = this.opts.restartInitialMs ?? 200;
    const max = this.opts.restartMaxMs ?? 30_000;
    slot.failures++;
    const delay = backoffDelay(slot.failures, initial, max);
    slot.restarts++;
    this.totalRestarts++;
    slot.state = 'waiting';
    this.log?.warn({ listener: this.name, child: slot.index, restarts: slot.restarts, delayMs: delay }, `${why}; restarting`);
    slot.timer = setTimeout(() => this.spawn(slot), delay);
  }
}
