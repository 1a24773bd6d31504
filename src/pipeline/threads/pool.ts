/**
 * The main thread's side of the pipeline threads (`pipeline_threads`): posts batches of HEP
 * packets to the thread with the least work waiting, and applies the answers in the order the
 * batches were posted — drops to the counters, dedup in the one table of the process, rows to
 * the database writers — so rows reach a table in the order one thread would have written them
 * and dedup keeps the same copy. Bounded: past
 * `maxQueuedBytes` of packets posted and not answered, a batch is counted queue_full instead of
 * queued. A thread that dies is replaced; the packets it held unanswered are counted
 * pipeline_thread_failed.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { TableKind } from '../../capture/rows.js';
import type { SipcaptureConfig } from '../../config/types.js';
import { EncodedRow, type StoreRow } from '../../store/encoded-row.js';
import { DropReason } from '../../telemetry/drop-reasons.js';
import type { HeplifyCounters } from '../../telemetry/heplify-counters.js';
import type { Logger } from '../../telemetry/logger.js';
import type { Stats } from '../../telemetry/stats.js';
import { spawnSiblingWorker } from '../../util/worker-thread.js';
import type { CaptureState } from '../capture-state.js';
import type { DedupTable } from '../dedup.js';
import { hepKind } from '../hep-ingest.js';
import { nowMicros } from '../clock.js';
import { GATHER_BYTES, GATHER_MAX_PACKETS, type BatchMessage, type DoneMessage, type MainMessage, type RowGroup, type ThreadInit, type ThreadMessage } from './protocol.js';

/**
 * Packets posted to the threads and not yet answered, bytes, at most by default: about a second
 * of 30,000 packets/s of ~1 KB, as the UDP receive thread holds (listeners/receive-protocol.ts).
 */
export const DEFAULT_MAX_QUEUED_BYTES = 32 * 1024 * 1024;
/** A dead thread is replaced at most this often (a thread that dies at once must not spin). */
const RESTART_INTERVAL_MS = 1000;
/** close() waits this long for the answers to what was posted, then ends the threads. */
const CLOSE_TIMEOUT_MS = 10_000;
/**
 * Longest the main thread applies answers before it lets other work run: a thread's port hands
 * over every queued message at once, and a backlog applied in one go would hold up the database
 * writes that let the main thread catch up (as in listeners/receive-thread.ts).
 */
const APPLY_SLICE_MS = 5;
/**
 * A thread's heap: its garbage is short-lived (a batch's packets, parse results, rows) and what
 * survives is posted away; a small young generation is collected often and cheaply and keeps
 * each thread's share of the daemon's RSS small.
 */
const THREAD_LIMITS = { maxYoungGenerationSizeMb: 16 };

/** A database's writer as the pool uses it (StoreWriter). */
export interface StoreRowSink {
  enqueue(table: string, kind: TableKind, row: StoreRow): void;
}

/** Most threads `pipeline_threads: -1` starts: past this the main thread's share is the limit. */
const AUTO_MAX_THREADS = 8;

/**
 * How many pipeline threads a configuration runs: `pipeline_threads`, or for -1 one per core
 * but one, none on one core. The core left is the main thread's and the receive threads':
 * with a thread on every core of a 2-core machine shared with PostgreSQL, the receive thread
 * was starved into kernel drops under overload (docs/benchmarks.md, "Pipeline threads").
 * `forward` keeps the pipeline on the main thread: it forwards the packets as received, which
 * live there.
 */
export function pipelineThreadsOf(cfg: Pick<SipcaptureConfig, 'pipeline_threads' | 'forward'>, cores = availableParallelism()): number {
  if (cfg.forward.length > 0) return 0;
  if (cfg.pipeline_threads >= 0) return cfg.pipeline_threads;
  return cores <= 1 ? 0 : Math.min(AUTO_MAX_THREADS, cores - 1);
}

export interface PipelinePoolOptions {
  threads: number;
  cfg: SipcaptureConfig;
  state: CaptureState;
  stats: Stats;
  logger: Logger | null;
  /** The writer of a database URL (throws for a URL that has none). */
  writerFor(dbUrl: string): StoreRowSink;
  /** The process's dedup table now (a reload may replace it), or null. */
  dedup(): DedupTable | null;
  heplify: HeplifyCounters | null;
  /** The memory guard, whose verdict the threads read from shared memory. */
  guard: { readonly shedding: boolean } | null;
  maxQueuedBytes?: number;
}

interface Slot {
  index: number;
  worker: Worker | null;
  /** Its modules are loaded: only then does it get batches. */
  ready: boolean;
  /** Bytes posted to this thread and not answered: where the next batch goes. */
  bytes: number;
  lastSpawnAt: number;
}

interface Posted {
  listener: string;
  packets: number;
  bytes: number;
  slot: Slot;
}

/** Packets gathered for one listener before they are posted. */
interface Gather {
  listener: string;
  decoded: boolean;
  buf: Buffer;
  pos: number;
  ends: number[];
  /** Receive time of each packet, µs since 1970. */
  times: number[];
}

export class PipelinePool {
  private readonly slots: Slot[] = [];
  private cfg: SipcaptureConfig;
  /** Batches posted and not applied yet, by id (ids count up from 1 in post order). */
  private readonly posted = new Map<number, Posted>();
  /** Answers waiting for an earlier batch's; null: the batch was lost with its thread. */
  private readonly answers = new Map<number, DoneMessage | null>();
  private nextApply = 1;
  private applyScheduled = false;
  private queuedPacketCount = 0;
  private nextId = 1;
  private queued = 0;
  private readonly maxQueued: number;
  private closing = false;
  /** start() succeeded: from now on a thread that ends is replaced. */
  private started = false;
  private readonly gathers = new Map<string, Gather>();
  /** Gathering buffers to use again. */
  private readonly spare: Buffer[] = [];
  private flushScheduled = false;
  private idleWaiters: (() => void)[] = [];
  private readonly queueFullDetail: string;
  /** Routing counters the threads reported: table date clamped, empty hash source. */
  readonly routing = { tableDateClamped: 0, emptyHashSource: 0 };
  /** Threads started after one died. */
  restarts = 0;

  constructor(private readonly opts: PipelinePoolOptions) {
    this.cfg = opts.cfg;
    this.maxQueued = opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.queueFullDetail = `pipeline threads behind: ${Math.round(this.maxQueued / 1048576)} MiB of packets posted and not yet processed`;
  }

  get threads(): number {
    return this.opts.threads;
  }

  /** Bytes of packets posted and not answered yet. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Packets posted and not answered yet. */
  get queuedPackets(): number {
    return this.queuedPacketCount;
  }

  get maxQueuedBytes(): number {
    return this.maxQueued;
  }

  /** Starts every thread; resolves when each has loaded its modules and its configuration. */
  async start(): Promise<void> {
    const started: Promise<void>[] = [];
    for (let i = 0; i < this.opts.threads; i++) {
      const slot: Slot = { index: i, worker: null, ready: false, bytes: 0, lastSpawnAt: 0 };
      this.slots.push(slot);
      started.push(this.spawn(slot));
    }
    try {
      await Promise.all(started);
    } catch (err) {
      await this.terminateAll();
      throw err;
    }
    this.started = true;
  }

  private spawn(slot: Slot): Promise<void> {
    slot.lastSpawnAt = Date.now();
    slot.ready = false;
    const init: ThreadInit = { cfg: this.cfg, state: this.opts.state.shared };
    const worker = spawnSiblingWorker(import.meta.url, 'worker', init, THREAD_LIMITS);
    slot.worker = worker;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: ThreadMessage) => {
        if (m.op === 'ready') {
          slot.ready = true;
          resolve();
        } else this.answered(slot, m);
      });
      worker.on('error', (err) => {
        if (!slot.ready) reject(new Error(`pipeline thread ${slot.index} failed to start: ${err.message}`));
        else this.opts.logger?.error({ thread: slot.index, err: err.message }, 'pipeline thread failed');
      });
      worker.on('exit', (code) => {
        if (slot.worker !== worker) return;
        slot.worker = null;
        const wasReady = slot.ready;
        slot.ready = false;
        if (!wasReady) reject(new Error(`pipeline thread ${slot.index} exited with code ${code} while starting`));
        this.died(slot, code);
      });
    });
  }

  /**
   * A thread ended. Every answer it sent has been handled ('exit' comes after its messages):
   * what it still held is lost, counted here, and a new thread is started (again and again, at
   * most once a second, until one starts or the pool closes).
   */
  private died(slot: Slot, code: number): void {
    let lost = 0;
    for (const [id, p] of this.posted) {
      if (p.slot !== slot || this.answers.has(id)) continue;
      lost += p.packets;
      this.answers.set(id, null);
    }
    slot.bytes = 0;
    if (lost > 0) this.opts.stats.drop(DropReason.PIPELINE_THREAD_FAILED, `pipeline thread ${slot.index} exited (code ${code}) holding ${lost} packets`, lost);
    if (this.closing) {
      this.applyInOrder();
      return;
    }
    this.scheduleApply();
    if (!this.started) return;
    this.opts.logger?.error({ thread: slot.index, code, lost }, 'pipeline thread exited: its unanswered packets are counted as lost; starting a new one');
    this.restartLater(slot);
  }

  private restartLater(slot: Slot): void {
    const delay = Math.max(0, slot.lastSpawnAt + RESTART_INTERVAL_MS - Date.now());
    setTimeout(() => {
      if (this.closing || slot.worker !== null) return;
      this.spawn(slot).then(
        () => {
          this.restarts++;
          this.opts.logger?.info({ thread: slot.index }, 'pipeline thread restarted');
        },
        // The failed start's exit comes through died(), which tries again.
        (err: unknown) => this.opts.logger?.error({ thread: slot.index, err: (err as Error).message }, 'pipeline thread could not be restarted; trying again'),
      );
    }, delay).unref();
  }

  /**
   * A batch from a UDP receive thread: `buf` is taken over (transferred to a thread), packet i
   * is [ends[i-1] ?? 0, ends[i]). Counted as received here, before anything can drop it.
   */
  postBatch(listener: string, buf: ArrayBuffer, ends: Uint32Array): void {
    const bytes = new Uint8Array(buf);
    // Counted per kind per batch: a batch is nearly always of one HEP version.
    let kind = '';
    let run = 0;
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      const k = hepKind(bytes[start]);
      if (k !== kind) {
        if (run > 0) this.opts.stats.received(listener, kind, run);
        kind = k;
        run = 0;
      }
      run++;
      start = ends[i]!;
    }
    if (run > 0) this.opts.stats.received(listener, kind, run);
    // Received now, as far as this thread can tell (the receive thread read them within ~1 ms).
    this.post(listener, buf, ends, new Float64Array(ends.length).fill(nowMicros()), false);
  }

  /**
   * One packet (a TCP frame, or one the nonsip_hook sent on): copied into a batch that is posted
   * when full or after this turn of the event loop. The caller has counted it as received.
   * `decoded`: it already passed the listener's checks (the hook's default path).
   */
  submit(data: Buffer, listener: string, decoded: boolean, receivedAtUs = nowMicros()): void {
    const key = decoded ? `\0${listener}` : listener;
    let g = this.gathers.get(key);
    if (g !== undefined && g.pos + data.length > g.buf.length) {
      this.flushGather(key, g);
      g = undefined;
    }
    if (g === undefined) {
      g = { listener, decoded, buf: this.spare.pop() ?? Buffer.allocUnsafe(GATHER_BYTES), pos: 0, ends: [], times: [] };
      if (g.buf.length < data.length) g.buf = Buffer.allocUnsafe(data.length);
      this.gathers.set(key, g);
    }
    data.copy(g.buf, g.pos);
    g.pos += data.length;
    g.ends.push(g.pos);
    g.times.push(receivedAtUs);
    if (g.ends.length >= GATHER_MAX_PACKETS) this.flushGather(key, g);
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushAll);
    }
  }

  private readonly flushAll = (): void => {
    this.flushScheduled = false;
    for (const [key, g] of this.gathers) this.flushGather(key, g);
  };

  private flushGather(key: string, g: Gather): void {
    this.gathers.delete(key);
    if (g.ends.length > 0) {
      // The packets are copied out at their size (a batch of one frame must not cost 256 KiB)
      // and the gathering buffer is used again.
      const bytes = new Uint8Array(g.pos);
      bytes.set(g.buf.subarray(0, g.pos));
      this.post(g.listener, bytes.buffer, Uint32Array.from(g.ends), Float64Array.from(g.times), g.decoded);
    }
    if (g.buf.length === GATHER_BYTES && this.spare.length < 4) this.spare.push(g.buf);
  }

  private post(listener: string, buf: ArrayBuffer, ends: Uint32Array, receivedAtUs: Float64Array, decoded: boolean): void {
    const packets = ends.length;
    if (packets === 0) return;
    const bytes = buf.byteLength;
    const { stats, guard, state } = this.opts;
    if (this.queued + bytes > this.maxQueued && this.queued > 0) {
      stats.drop(DropReason.QUEUE_FULL, `${listener}: ${this.queueFullDetail}`, packets);
      return;
    }
    let slot: Slot | null = null;
    for (const s of this.slots) if (s.ready && s.worker !== null && (slot === null || s.bytes < slot.bytes)) slot = s;
    if (slot === null || slot.worker === null) {
      stats.drop(DropReason.PIPELINE_THREAD_FAILED, `${listener}: no pipeline thread running (one is being restarted)`, packets);
      return;
    }
    state.shedding = guard?.shedding === true;
    const id = this.nextId;
    const m: BatchMessage = { op: 'batch', id, listener, buf, ends, receivedAtUs, decoded };
    try {
      slot.worker.postMessage(m satisfies MainMessage, [buf]);
    } catch (err) {
      stats.drop(DropReason.PIPELINE_THREAD_FAILED, `${listener}: pipeline thread ${slot.index} cannot take a batch: ${(err as Error).message}`, packets);
      return;
    }
    // Registered once posted: ids without a batch would stop the answers being applied.
    this.nextId++;
    this.posted.set(id, { listener, packets, bytes, slot });
    slot.bytes += bytes;
    this.queued += bytes;
    this.queuedPacketCount += packets;
  }

  private answered(slot: Slot, m: DoneMessage): void {
    const posted = this.posted.get(m.id);
    if (posted === undefined || posted.slot !== slot || this.answers.has(m.id)) return;
    slot.bytes -= posted.bytes;
    this.answers.set(m.id, m);
    this.scheduleApply();
  }

  private scheduleApply(): void {
    if (this.applyScheduled) return;
    this.applyScheduled = true;
    setImmediate(this.applyInOrder);
  }

  /** Applies the answers that are next in post order, for at most APPLY_SLICE_MS at a time. */
  private readonly applyInOrder = (): void => {
    this.applyScheduled = false;
    const until = performance.now() + APPLY_SLICE_MS;
    for (;;) {
      // Closing: everything at once, the writers drain next.
      if (!this.closing && performance.now() >= until && this.answers.has(this.nextApply)) {
        this.scheduleApply();
        return;
      }
      const id = this.nextApply;
      const m = this.answers.get(id);
      if (m === undefined) break;
      this.answers.delete(id);
      const posted = this.posted.get(id)!;
      this.posted.delete(id);
      this.queued -= posted.bytes;
      this.queuedPacketCount -= posted.packets;
      this.nextApply++;
      if (m !== null) this.apply(m, posted);
    }
    this.wakeIdle();
  };

  private apply(m: DoneMessage, posted: Posted): void {
    const { stats } = this.opts;
    for (const [reason, n, detail] of m.drops) stats.drop(reason, detail, n);
    this.routing.tableDateClamped += m.routing[0];
    this.routing.emptyHashSource += m.routing[1];
    if (m.heplify !== null) this.opts.heplify?.absorb(m.heplify);
    for (const g of m.groups) this.store(g, posted.listener);
  }

  /** One table's rows of an answer: dedup, then the database's writer. */
  private store(g: RowGroup, listener: string): void {
    const { stats } = this.opts;
    const total = (g.spans === null ? 0 : g.spans.length / 2) + g.rows.length;
    let writer: StoreRowSink;
    try {
      writer = this.opts.writerFor(g.dbUrl);
    } catch (err) {
      stats.drop(DropReason.DB_ERROR, `${listener}: ${(err as Error).message}`, total);
      return;
    }
    const dedup = this.opts.dedup();
    const isCopy = (keys: Float64Array | null, i: number): boolean => {
      if (dedup === null || keys === null) return false;
      const key = keys[2 * i]!;
      if (key < 0 || !dedup.isDuplicateKey(key, keys[2 * i + 1]!)) return false;
      stats.drop(DropReason.DUPLICATE, `${listener}: copy of a packet seen within ${dedup.windowMs} ms (dedup ${dedup.mode})`);
      return true;
    };
    const { tuples, spans, cleaned, rows, tupleNext } = g;
    const tupleCount = spans === null ? 0 : spans.length / 2;
    // One Buffer over the group's own tuples (the thread copied them out of the batch's buffer
    // when other tables shared it), shared by the group's rows: one object per row.
    const bytes = tuples === null ? null : Buffer.from(tuples);
    // Rows in arrival order: tuples and objects interleaved as tupleNext says.
    let t = 0;
    let o = 0;
    for (let k = 0; k < total; k++) {
      if (tupleNext === null ? t < tupleCount : tupleNext[k] === 1) {
        const i = t++;
        if (isCopy(g.keys, i)) continue;
        const row = new EncodedRow(bytes!, spans![2 * i]!, spans![2 * i + 1]!, cleaned === null ? 0 : cleaned[2 * i]!, cleaned === null ? 0 : cleaned[2 * i + 1]!);
        writer.enqueue(g.table, g.kind, row);
      } else {
        const i = o++;
        if (isCopy(g.rowKeys, i)) continue;
        const row = rows[i]!;
        // A Buffer arrives as a Uint8Array: the stores expect a Buffer.
        const msg = (row as { msg: Uint8Array }).msg;
        if (!Buffer.isBuffer(msg)) (row as { msg: Buffer }).msg = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
        writer.enqueue(g.table, g.kind, row);
      }
    }
  }

  /** Ends thread `index` at once, as a crash would (tests); it is replaced like one. */
  async killThread(index: number): Promise<void> {
    await this.slots[index]?.worker?.terminate();
  }

  /** A reload: every thread builds its routing, rows and dedup keys from `cfg`. */
  reconfigure(cfg: SipcaptureConfig): void {
    this.cfg = cfg;
    for (const s of this.slots) s.worker?.postMessage({ op: 'config', cfg } satisfies MainMessage);
  }

  private wakeIdle(): void {
    if (this.queued !== 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once everything posted so far (and gathered) has been answered. */
  idle(): Promise<void> {
    this.flushAll();
    if (this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Posts what is gathered, waits for every answer (at most CLOSE_TIMEOUT_MS), ends the threads. */
  async close(): Promise<void> {
    // No thread is started again from now on; what one that dies held is counted.
    this.closing = true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_TIMEOUT_MS)));
    const outcome = await Promise.race([this.idle().then(() => 'idle' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') this.opts.logger?.error({ queuedBytes: this.queued }, 'pipeline threads did not answer in time: ended');
    await this.terminateAll();
    // Answers that waited behind a batch the ended threads held go to the writers now, before they close.
    this.applyInOrder();
  }

  private async terminateAll(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.slots.map(async (s) => {
        const w = s.worker;
        if (w === null) return;
        const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        await w.terminate();
        await exited;
      }),
    );
  }
}
