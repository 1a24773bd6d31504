/**
 * Runs the nonsip_hook (event_callback of hook_module) for every HEP packet, contained:
 *
 * - the hook runs in a worker thread, so it never blocks the receive loop;
 * - packets go to the worker in batches (one copy each, one transferred buffer per batch) and
 *   come back with the hook's decision, in order;
 * - a hook that throws, returns something odd, or does not answer an async call within
 *   hook_timeout_ms is counted and logged, and its packet follows the default path;
 * - a synchronous hook that never returns is noticed by a watchdog reading the worker's progress
 *   (shared memory): the worker is terminated and started again, the packet that hung is counted
 *   `timeout`, the others of its batch follow the default path (`unavailable`);
 * - when the worker is down or more than MAX_QUEUED packets wait, packets skip the hook
 *   (`unavailable` / `overload`) rather than pile up.
 */
import type { Worker } from 'node:worker_threads';
import { spawnSiblingWorker } from '../util/worker-thread.js';
import type { ReportRow, SipCaptureRow, TableKind } from '../capture/rows.js';
import type { SipRowOptions } from '../capture/sip-row.js';
import type { SipcaptureConfig } from '../config/types.js';
import type { CaptureState } from '../pipeline/capture-state.js';
import { DropReason } from '../telemetry/drop-reasons.js';
import type { Logger } from '../telemetry/logger.js';
import type { Stats } from '../telemetry/stats.js';
import {
  FLAG_CAPTURE_ON,
  HOOK_OUTCOMES,
  PROGRESS_INDEX,
  PROGRESS_SEQ,
  PROGRESS_STARTED,
  type HookAction,
  type HookBatchMessage,
  type HookOutcome,
  type HookResults,
  type HookWorkerInit,
  type HookWorkerMessage,
} from './protocol.js';
import { Backoff } from '../util/backoff.js';

const NO_ACTIONS: readonly HookAction[] = [];

/** Packets waiting for the hook at most; beyond that they skip it (counted `overload`). */
export const MAX_QUEUED = 8192;
/** Packets per batch sent to the worker. */
const MAX_BATCH = 256;
/** Longest wait for the hook module to load. */
const START_TIMEOUT_MS = 30_000;
/** Back-off between restarts after the worker could not start or keeps dying. */
const RESTART_MIN_MS = 200;
const RESTART_MAX_MS = 30_000;
/** Hook errors, timeouts and bad returns are logged at most once per this interval. */
const LOG_EVERY_MS = 10_000;

export type HookSettings = Omit<HookWorkerInit, 'flags' | 'progress'>;

export interface HookRunnerOptions {
  settings: HookSettings;
  state: CaptureState;
  stats: Stats;
  logger: Logger;
  /** The default path for a packet: decode and pipeline, as without a hook. */
  onDefault(data: Buffer, listener: string, receivedAtUs: number): void;
  /** Queues a row the hook stored. */
  enqueue(dbUrl: string, table: string, kind: TableKind, row: SipCaptureRow | ReportRow): void;
}

interface Packet {
  data: Buffer;
  listener: string;
  receivedAtUs: number;
}

interface InFlight {
  packets: Packet[];
  done: boolean[];
  remaining: number;
}

export class HookRunner {
  private readonly flags = new Int32Array(new SharedArrayBuffer(4));
  private readonly progress = new Float64Array(new SharedArrayBuffer(3 * 8));
  private worker: Worker | null = null;
  private ready = false;
  private pending: Packet[] = [];
  private flushScheduled = false;
  private readonly inFlight = new Map<number, InFlight>();
  private queued = 0;
  private nextSeq = 1;
  private watchdog: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private readonly restarts = new Backoff(RESTART_MIN_MS, RESTART_MAX_MS);
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly lastLog = new Map<string, number>();

  private constructor(private readonly opts: HookRunnerOptions) {}

  /** Starts the worker and waits until the hook module is loaded; rejects with why it is not. */
  static async start(opts: HookRunnerOptions): Promise<HookRunner> {
    const runner = new HookRunner(opts);
    await runner.spawn();
    return runner;
  }

  /** Packets handed to the hook and not answered yet. */
  get queueDepth(): number {
    return this.queued;
  }

  /** One HEP packet (UDP datagram or TCP frame), before decoding. */
  submit(data: Buffer, listener: string, receivedAtUs: number): void {
    const { stats } = this.opts;
    if (this.closed || this.worker === null) {
      stats.hook('unavailable');
      this.opts.onDefault(data, listener, receivedAtUs);
      return;
    }
    if (this.queued >= MAX_QUEUED) {
      stats.hook('overload');
      this.logLimited('overload', `more than ${MAX_QUEUED} packets wait for the hook: packets skip it`);
      this.opts.onDefault(data, listener, receivedAtUs);
      return;
    }
    // Copied: the receive buffer is only valid during this call (listeners/udp.ts DatagramHandler).
    this.pending.push({ data: Buffer.from(data), listener, receivedAtUs });
    this.queued++;
    if (this.pending.length >= MAX_BATCH) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Packets read in the same loop turn travel together.
      setImmediate(() => this.flush());
    }
  }

  /**
   * Sends what is queued, waits up to `timeoutMs` for the answers, lets whatever is still
   * unanswered follow the default path, and stops the worker.
   */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.abandonInFlight('unavailable');
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.stopWatchdog();
    const w = this.worker;
    this.worker = null;
    if (w !== null) await w.terminate();
  }

  // ---- worker life cycle ----

  private spawn(): Promise<void> {
    Atomics.store(this.flags, FLAG_CAPTURE_ON, this.opts.state.captureOn ? 1 : 0);
    this.progress[PROGRESS_INDEX] = -1;
    const init: HookWorkerInit = { ...this.opts.settings, flags: this.flags.buffer, progress: this.progress.buffer };
    const worker = spawnSiblingWorker(import.meta.url, 'worker', init);
    this.worker = worker;
    this.ready = false;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => fail(new Error(`hook_module ${this.opts.settings.hookModule} did not load within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.worker === worker) this.worker = null;
        void worker.terminate();
        reject(err);
      };
      worker.on('message', (m: HookWorkerMessage) => {
        if (m.type === 'ready') {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.ready = true;
          this.restarts.succeed();
          resolve();
          this.flush();
        } else if (m.type === 'fatal') {
          fail(new Error(m.message));
        } else if (m.type === 'results') {
          this.onResults(m);
        } else {
          this.opts.logger[m.level]({ hook: this.opts.settings.eventCallback }, m.message);
        }
      });
      worker.on('error', (err) => {
        if (!settled) fail(err);
        else this.onWorkerDeath(worker, `hook worker crashed: ${err.message}`);
      });
      worker.on('exit', (code) => {
        if (!settled) fail(new Error(`hook worker exited with code ${code} while loading ${this.opts.settings.hookModule}`));
        else this.onWorkerDeath(worker, `hook worker exited with code ${code}`);
      });
    });
  }

  /** The worker died (or was killed): unanswered packets follow the default path; start a new one. */
  private onWorkerDeath(worker: Worker, why: string): void {
    if (this.worker !== worker) return; // already replaced
    this.worker = null;
    this.ready = false;
    if (this.closed) return;
    this.logLimited('death', why, 'error');
    this.opts.stats.hook('error');
    this.abandonInFlight('unavailable');
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.closed || this.restartTimer !== null) return;
    const delay = this.restarts.fail();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.closed) return;
      this.spawn().catch((err: unknown) => this.onRestartFailure(err));
    }, delay);
    this.restartTimer.unref();
  }

  private onRestartFailure(err: unknown): void {
    this.logLimited('restart', `hook could not be restarted: ${(err as Error).message}`, 'error');
    this.abandonInFlight('unavailable');
    this.scheduleRestart();
  }

  // ---- batches ----

  private flush(): void {
    this.flushScheduled = false;
    const worker = this.worker;
    if (this.pending.length === 0) return;
    if (worker === null || !this.ready) {
      // Down between a death and its restart: nothing waits for it.
      if (worker === null) this.skip(this.pending.splice(0), 'unavailable');
      return;
    }
    Atomics.store(this.flags, FLAG_CAPTURE_ON, this.opts.state.captureOn ? 1 : 0);
    while (this.pending.length > 0) {
      const packets = this.pending.splice(0, MAX_BATCH);
      let size = 0;
      for (const p of packets) size += p.data.length;
      const data = new ArrayBuffer(size);
      const view = new Uint8Array(data);
      const offsets: number[] = [0];
      let at = 0;
      for (const p of packets) {
        view.set(p.data, at);
        at += p.data.length;
        offsets.push(at);
      }
      const seq = this.nextSeq++;
      this.inFlight.set(seq, { packets, done: packets.map(() => false), remaining: packets.length });
      const msg: HookBatchMessage = {
        type: 'batch',
        seq,
        data,
        offsets,
        listeners: packets.map((p) => p.listener),
        receivedAtUs: packets.map((p) => p.receivedAtUs),
      };
      worker.postMessage(msg, [data]);
    }
    this.startWatchdog();
  }

  private onResults(m: HookResults): void {
    const batch = this.inFlight.get(m.seq);
    if (batch === undefined) return; // abandoned after a hang
    const actionsOf = m.actions.length === 0 ? null : new Map(m.actions.map((x) => [x.i, x.actions]));
    const detailOf = m.details.length === 0 ? null : new Map(m.details.map((x) => [x.i, x.detail]));
    for (let k = 0; k < m.outcomes.length; k++) {
      const i = m.from + k;
      const actions = actionsOf?.get(i) ?? NO_ACTIONS;
      const detail = detailOf?.get(i);
      const p = batch.packets[i];
      if (p === undefined || batch.done[i] === true) continue;
      batch.done[i] = true;
      batch.remaining--;
      this.queued--;
      this.apply(p, HOOK_OUTCOMES[m.outcomes[k] ?? 0] ?? 'error', actions, detail);
    }
    if (m.last || batch.remaining === 0) {
      // Anything the worker did not report (cannot happen unless it misbehaves) takes the default path.
      this.finishBatch(m.seq, 'unavailable');
    }
  }

  private apply(p: Packet, outcome: HookOutcome, actions: readonly HookAction[], detail: string | undefined): void {
    const opts = this.opts;
    const stats = opts.stats;
    for (const a of actions) this.enqueueAction(a);
    switch (outcome) {
      case 'malformed':
        opts.onDefault(p.data, p.listener, p.receivedAtUs);
        return;
      case 'continue':
        stats.hook('continue');
        opts.onDefault(p.data, p.listener, p.receivedAtUs);
        return;
      case 'handled':
        stats.hook('handled');
        return;
      case 'rejected':
        stats.hook('rejected');
        stats.drop(DropReason.HOOK_REJECTED, `${p.listener}: the hook returned a negative value`);
        return;
      default:
        stats.hook(outcome);
        this.logLimited(outcome, `hook ${outcome}: ${detail ?? ''}; the packet follows the default path`);
        opts.onDefault(p.data, p.listener, p.receivedAtUs);
    }
  }

  private enqueueAction(a: HookAction): void {
    if (a.kind === 'bad_table') {
      this.opts.stats.drop(DropReason.BAD_TABLE_NAME, `hook: ${a.detail}`);
      return;
    }
    // Structured clone turned the row's Buffer into a plain Uint8Array.
    const m = a.row.msg as Uint8Array;
    a.row.msg = Buffer.from(m.buffer, m.byteOffset, m.byteLength);
    if (a.kind === 'sip') this.opts.enqueue(a.dbUrl, a.table, 'sip', a.row);
    else this.opts.enqueue(a.dbUrl, a.table, a.tableKind, a.row);
  }

  /** Ends a batch: its unanswered packets take the default path, counted under `outcome`. */
  private finishBatch(seq: number, outcome: 'unavailable' | 'timeout'): void {
    const batch = this.inFlight.get(seq);
    if (batch === undefined) return;
    this.inFlight.delete(seq);
    const left = batch.packets.filter((_, i) => batch.done[i] !== true);
    this.queued -= left.length;
    if (left.length > 0) this.skip(left, outcome);
    if (this.inFlight.size === 0) {
      this.stopWatchdog();
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private abandonInFlight(outcome: 'unavailable'): void {
    for (const seq of [...this.inFlight.keys()]) this.finishBatch(seq, outcome);
    if (this.pending.length > 0) {
      this.queued -= this.pending.length;
      this.skip(this.pending.splice(0), outcome);
    }
  }

  private skip(packets: Packet[], outcome: 'unavailable' | 'timeout'): void {
    this.opts.stats.hook(outcome, packets.length);
    for (const p of packets) this.opts.onDefault(p.data, p.listener, p.receivedAtUs);
  }

  // ---- watchdog ----

  private startWatchdog(): void {
    if (this.watchdog !== null) return;
    const every = Math.max(5, Math.min(1000, Math.floor(this.opts.settings.timeoutMs / 4)));
    this.watchdog = setInterval(() => this.checkHang(), every);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private checkHang(): void {
    const index = this.progress[PROGRESS_INDEX] ?? -1;
    if (index < 0) return;
    const started = this.progress[PROGRESS_STARTED] ?? 0;
    const timeoutMs = this.opts.settings.timeoutMs;
    // Async hooks time out inside the worker at timeoutMs; only a blocked thread gets this far.
    if (Date.now() - started <= timeoutMs + Math.max(50, timeoutMs)) return;
    const worker = this.worker;
    if (worker === null) return;
    const seq = this.progress[PROGRESS_SEQ] ?? 0;
    const batch = this.inFlight.get(seq);
    const hung = batch?.packets[index];
    this.logLimited('hang', `hook did not return within ${timeoutMs} ms (a loop?): restarting it; the packet follows the default path`, 'error');
    this.worker = null;
    this.ready = false;
    this.progress[PROGRESS_INDEX] = -1;
    if (batch !== undefined && hung !== undefined && batch.done[index] !== true) {
      batch.done[index] = true;
      batch.remaining--;
      this.queued--;
      this.opts.stats.hook('timeout');
      this.opts.onDefault(hung.data, hung.listener, hung.receivedAtUs);
    }
    this.abandonInFlight('unavailable');
    void worker.terminate();
    if (!this.closed) {
      // A hang is the hook's fault, not a crash loop: restart at once.
      this.spawn().catch((err: unknown) => this.onRestartFailure(err));
    }
  }

  private logLimited(key: string, message: string, level: 'warn' | 'error' = 'warn'): void {
    const now = Date.now();
    if (now - (this.lastLog.get(key) ?? 0) < LOG_EVERY_MS) return;
    this.lastLog.set(key, now);
    this.opts.logger[level]({ hook: this.opts.settings.eventCallback, module: this.opts.settings.hookModule }, message);
  }
}

/** The hook worker's settings from a configuration (rowOptions as the pipeline uses them). */
export function hookSettingsFrom(
  cfg: Pick<SipcaptureConfig, 'hook_module' | 'event_callback' | 'hook_timeout_ms' | 'captureModes'>,
  rowOptions: SipRowOptions,
): HookSettings {
  return {
    hookModule: cfg.hook_module,
    eventCallback: cfg.event_callback,
    timeoutMs: cfg.hook_timeout_ms,
    rowOptions,
    modes: [...cfg.captureModes.entries()],
    defaultDbUrl: cfg.captureModes.get('default')?.db_url ?? null,
  };
}
