/**
 * The queue in front of any output: items are collected per key (a table, a destination) and
 * cut into a batch at `batchSize` items or `batchTimeoutMs` after the first, whichever comes
 * first. Cut batches wait in one FIFO for one of `maxInFlight` write slots. It knows nothing of
 * SQL: the owner says how to write a batch, and whether a batch may go to the spool instead.
 *
 * Bounds:
 * - at most `maxItems` items, and at most `maxBytes` of their estimated memory, wait (pending +
 *   cut + in flight + being spilled); `offer()` refuses beyond that and the owner counts it;
 * - with `spillAfterBatches` > 0, a batch cut while that many already wait goes to `spill`
 *   (the spool) at once instead of waiting in memory;
 * - under backlog, the batches waiting behind the one taken for the same key ride along, up to
 *   `mergeMaxItems` items, as long as the bytes in flight stay under half of `maxBytes`.
 */

/** A batch as the queue cuts it: the items of one key, with the key's `meta` (e.g. the table kind). */
export interface QueuedBatch<T, M> {
  key: string;
  meta: M;
  items: T[];
}

export interface BatchQueueOptions<T, M> {
  batchSize: number;
  batchTimeoutMs: number;
  maxItems: number;
  /** Default: no bound. */
  maxBytes?: number;
  maxInFlight: number;
  /** Items of one write at most when batches of a key are merged (batchSize × batch_merge). */
  mergeMaxItems: number;
  /** 0 = never spill. */
  spillAfterBatches: number;
  /** Estimated memory of an item, bytes. */
  bytesOf(item: T): number;
  /** Writes a batch; resolves when it is written or handed on (never rejects). */
  write(batch: QueuedBatch<T, M>): Promise<void>;
  /** Whether a batch cut now may go to `spill` instead of waiting (e.g. a spool exists, not in an outage). */
  maySpill(): boolean;
  /** Hands a batch to the spool; resolves when that is done (never rejects). */
  spill(batch: QueuedBatch<T, M>): Promise<void>;
}

/** Why `offer()` refused an item. */
export type Refusal = 'items' | 'bytes';

interface Pending<T, M> {
  key: string;
  meta: M;
  items: T[];
  bytes: number;
  timer: NodeJS.Timeout | null;
}

/** A cut batch and its estimated bytes (given back when it is written or handed on). */
interface Ready<T, M> {
  batch: QueuedBatch<T, M>;
  bytes: number;
}

export class BatchQueue<T, M> {
  private readonly batchSize: number;
  private readonly batchTimeoutMs: number;
  private readonly maxItems: number;
  private readonly maxBytes: number;
  private readonly maxInFlight: number;
  private readonly mergeMaxItems: number;
  private readonly spillAfterBatches: number;
  /** Merging stops where the bytes in flight would pass this: half of maxBytes. */
  private readonly inFlightMergeBudget: number;

  private readonly pending = new Map<string, Pending<T, M>>();
  /** Batches cut and waiting for a write slot, FIFO (`readyHead` avoids O(n) shift()). */
  private ready: Ready<T, M>[] = [];
  private readyHead = 0;
  private depth = 0;
  private bytes = 0;
  private inFlight = 0;
  /** Estimated bytes of the batches being written (a share of `bytes`). */
  private inFlightBytes = 0;
  /** Batches being handed to the spool because too many waited. */
  private spilling = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: BatchQueueOptions<T, M>) {
    this.batchSize = Math.max(1, Math.floor(opts.batchSize));
    this.batchTimeoutMs = Math.max(0, opts.batchTimeoutMs);
    this.maxItems = Math.max(1, Math.floor(opts.maxItems));
    this.maxBytes = Math.max(1, opts.maxBytes ?? Number.POSITIVE_INFINITY);
    this.maxInFlight = Math.max(1, Math.floor(opts.maxInFlight));
    this.mergeMaxItems = Math.max(this.batchSize, Math.floor(opts.mergeMaxItems));
    this.spillAfterBatches = Math.max(0, Math.floor(opts.spillAfterBatches));
    this.inFlightMergeBudget = this.maxBytes / 2;
  }

  /** Items waiting: collected, cut and waiting for a slot, being written or spilled. */
  get itemCount(): number {
    return this.depth;
  }

  /** Estimated bytes of the items waiting. */
  get byteCount(): number {
    return this.bytes;
  }

  get inFlightBatches(): number {
    return this.inFlight;
  }

  /** Batches cut and waiting for a write slot (live traffic backing up). */
  get readyBatches(): number {
    return this.ready.length - this.readyHead;
  }

  /** The bounds, for messages. */
  get limits(): { items: number; bytes: number } {
    return { items: this.maxItems, bytes: this.maxBytes };
  }

  /** True when `key` has a batch being collected (a new one would start with this item). */
  collecting(key: string): boolean {
    return this.pending.has(key);
  }

  /** Adds one item to the batch of `key`; null when taken, else which bound refused it. */
  offer(key: string, meta: M, item: T): Refusal | null {
    if (this.depth >= this.maxItems) return 'items';
    const itemBytes = this.opts.bytesOf(item);
    if (this.bytes + itemBytes > this.maxBytes) return 'bytes';
    let b = this.pending.get(key);
    if (b === undefined) {
      b = { key, meta, items: [], bytes: 0, timer: null };
      this.pending.set(key, b);
    }
    b.items.push(item);
    b.bytes += itemBytes;
    this.depth++;
    this.bytes += itemBytes;
    if (b.items.length >= this.batchSize) {
      this.cut(b);
    } else if (b.timer === null) {
      const batch = b;
      b.timer = setTimeout(() => this.cut(batch), this.batchTimeoutMs);
    }
    return null;
  }

  /** Cuts every batch being collected and resolves when nothing is waiting, written or spilled. */
  flush(): Promise<void> {
    for (const b of [...this.pending.values()]) this.cut(b);
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Takes out, in queue order, every batch not being written or spilled (cut batches waiting
   * for a slot, then batches being collected): for a shutdown that cannot wait for the output.
   */
  takeWaiting(): QueuedBatch<T, M>[] {
    const out: Ready<T, M>[] = [];
    while (this.readyHead < this.ready.length) out.push(this.takeReady());
    for (const b of [...this.pending.values()]) {
      if (b.timer !== null) clearTimeout(b.timer);
      this.pending.delete(b.key);
      if (b.items.length > 0) out.push({ batch: { key: b.key, meta: b.meta, items: b.items }, bytes: b.bytes });
    }
    for (const r of out) this.release(r);
    this.settleIdle();
    return out.map((r) => r.batch);
  }

  private cut(b: Pending<T, M>): void {
    if (b.timer !== null) clearTimeout(b.timer);
    b.timer = null;
    if (this.pending.get(b.key) === b) this.pending.delete(b.key);
    if (b.items.length === 0) return;
    const ready: Ready<T, M> = { batch: { key: b.key, meta: b.meta, items: b.items }, bytes: b.bytes };
    if (this.spillAfterBatches > 0 && this.readyBatches >= this.spillAfterBatches && this.opts.maySpill()) {
      // The output is behind: this batch waits on disk instead of in memory. Until the spool
      // has it, it still counts against the bounds, so a disk slower than the traffic cannot
      // grow memory either.
      this.spilling++;
      void this.opts.spill(ready.batch).finally(() => {
        this.spilling--;
        this.release(ready);
        this.pump();
      });
      return;
    }
    this.ready.push(ready);
    this.pump();
  }

  private release(r: Ready<T, M>): void {
    this.depth -= r.batch.items.length;
    this.bytes -= r.bytes;
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.readyHead < this.ready.length) {
      let r = this.takeReady();
      // Backlog: the batches waiting behind this one for the same key ride along, in order.
      // Riding along stops where the bytes in flight would pass half of maxBytes (the first
      // batch always goes): an output stall must leave room for the batches waiting or being
      // spooled, or new items are refused while the spool has space.
      let rides: Ready<T, M>[] | null = null;
      let items = r.batch.items.length;
      let bytes = r.bytes;
      while (this.readyHead < this.ready.length) {
        const next = this.ready[this.readyHead] as Ready<T, M>;
        if (next.batch.key !== r.batch.key || items + next.batch.items.length > this.mergeMaxItems) break;
        if (this.inFlightBytes + bytes + next.bytes > this.inFlightMergeBudget) break;
        (rides ??= []).push(this.takeReady());
        items += next.batch.items.length;
        bytes += next.bytes;
      }
      if (rides !== null) r = merged(r, rides, bytes);
      const write = r;
      this.inFlight++;
      this.inFlightBytes += write.bytes;
      void this.opts.write(write.batch).finally(() => {
        this.inFlight--;
        this.inFlightBytes -= write.bytes;
        this.release(write);
        this.pump();
      });
    }
    this.settleIdle();
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && this.spilling === 0 && this.readyHead >= this.ready.length;
  }

  private settleIdle(): void {
    if (!this.isIdle() || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private takeReady(): Ready<T, M> {
    const r = this.ready[this.readyHead] as Ready<T, M>;
    this.ready[this.readyHead++] = EMPTY as Ready<T, M>;
    if (this.readyHead === this.ready.length) {
      this.ready = [];
      this.readyHead = 0;
    }
    return r;
  }
}

/** `first` and the batches of the same key behind it as one batch of `bytes` (items copied once). */
function merged<T, M>(first: Ready<T, M>, rides: readonly Ready<T, M>[], bytes: number): Ready<T, M> {
  const { key, meta } = first.batch;
  return { batch: { key, meta, items: first.batch.items.concat(...rides.map((x) => x.batch.items)) }, bytes };
}

const EMPTY: Ready<unknown, unknown> = { batch: { key: '', meta: undefined, items: [] }, bytes: 0 };
