/**
 * The batching writer in front of one Store (one database URL). The receive path calls
 * `enqueue()`, which never blocks and never throws; everything slow happens here, off to the
 * side:
 *
 * - rows are collected per table and flushed at `batchSize` rows or `batchTimeoutMs` after the
 *   first row of a batch, whichever comes first;
 * - at most `queueMaxRows` rows, and at most `queueMaxBytes` of estimated row memory, wait
 *   (pending + in flight); beyond that a row is dropped and counted `queue_full` — a bounded
 *   loss that is visible, instead of unbounded memory;
 * - with a spool, at most `spoolAfterBatches` full batches wait for a write slot: a batch cut
 *   beyond that goes to the spool at once (the database is slower than the traffic), so what a
 *   kill -9 can lose stays bounded (docs/storage.md) and memory does not grow with the backlog;
 * - a failed insert is retried with exponential back-off, at most `insertRetries` times and
 *   for at most `insertRetryTimeoutS` seconds (Kamailio retries in a busy loop, spec §6.2);
 *   an error the store calls a row error (data, constraint) is not retried;
 * - a batch that still fails goes, when the store says the database is the problem, whole to
 *   `onUnwritable` (the spool) and the writer enters "outage": later batches go straight to the
 *   spool, with one live attempt per `outageProbeIntervalMs`, until an insert succeeds again;
 * - when the rows are the problem the batch is split in halves, recursively, so one poisoned
 *   row loses only itself (counted `db_error`); everything else is written or handed on;
 * - `replay()` writes a batch read back from the spool with the same rules.
 *
 * With `maxInFlight` 1 (default) one batch is in flight at a time and batches reach the
 * database in the order they were cut. With more (db_insert_mode 2) several batches are written
 * concurrently over the store's pool and may commit in any order.
 */
import type { Logger } from 'pino';
import type { ReportRow, SipCaptureRow, TableKind } from '../capture/rows.js';
import { DropReason } from '../telemetry/drop-reasons.js';
import type { Stats } from '../telemetry/stats.js';
import { isValidTableName } from '../route/table-name.js';
import { SpoolFullError } from './spool.js';
import { commitTokenOf, type RowBatch, type Store } from './store.js';

type Row = SipCaptureRow | ReportRow;

/**
 * Receives rows the database would not take: after all retries, during an outage, or the rest
 * of a batch when the database failed in the middle of isolating a bad row (and, for stores that
 * cannot classify errors, single rows that failed). Resolve once the rows are safe elsewhere
 * (spooled to disk); reject with SpoolFullError and they are counted `spool_full`, with anything
 * else `db_error`.
 */
export type UnwritableHandler = (batch: RowBatch, error: unknown) => void | Promise<void>;

export interface StoreWriterOptions {
  stats: Stats;
  logger?: Logger | null;
  /** Rows per batch (config `batch_size`). */
  batchSize: number;
  /** Longest wait of a row in a batch before it is flushed, ms (config `batch_timeout_ms`). */
  batchTimeoutMs: number;
  /** Upper bound on rows waiting, pending + in flight (config `queue_max_rows`). */
  queueMaxRows: number;
  /** Upper bound on the estimated bytes of those rows (config `queue_max_bytes`). Default: no bound. */
  queueMaxBytes?: number;
  /**
   * With onUnwritable: batches cut and waiting for a write slot at most; a batch cut beyond
   * that goes to onUnwritable (the spool) at once (config `spool_after_batches`). 0 (default) = never.
   */
  spoolAfterBatches?: number;
  /** Retries of a failed batch, 0–500 (Kamailio `insert_retries`). */
  insertRetries: number;
  /** Seconds after the first failure during which retries may start, 0–300 (0 = no time limit). */
  insertRetryTimeoutS: number;
  /** Batches written concurrently. Default 1; >1 (db_insert_mode 2) gives up the commit order. */
  maxInFlight?: number;
  /**
   * Under backlog, consecutive waiting batches of one table are written as one insert (one COPY,
   * one transaction) of up to this many cut batches (config `batch_merge`). Larger writes cost the
   * database less per row, so a writer that fell behind catches up instead of spilling. Default 1
   * (never merge).
   */
  mergeBatches?: number;
  /**
   * During an outage (a batch failed for a database reason and was spooled) at most one live
   * batch per this many ms is tried; the others go straight to onUnwritable. Default 1000.
   */
  outageProbeIntervalMs?: number;
  /** First back-off delay, ms (doubles per retry). Default 100. */
  retryBaseDelayMs?: number;
  /** Longest back-off delay, ms. Default 5000. */
  retryMaxDelayMs?: number;
  /**
   * Only for stores without `isRowError`: while splitting a failed batch, after this many
   * single rows failed in a row and nothing succeeded, the last row of the batch is tried
   * alone; if it fails too, the failure is taken to be the database, not the rows, and the rest
   * goes to `onUnwritable` in one piece instead of being tried row by row. Default 8.
   */
  isolationGiveUpAfter?: number;
  /** Where unwritable rows go (the spool seam). Default: counted as `db_error`. */
  onUnwritable?: UnwritableHandler;
}

interface PendingBatch {
  table: string;
  kind: TableKind;
  rows: Row[];
  bytes: number;
  timer: NodeJS.Timeout | null;
}

/** A cut batch and its estimated bytes (given back when it is written or handed on). */
interface ReadyBatch {
  batch: RowBatch;
  bytes: number;
}

/**
 * Estimated memory of a queued row beyond twice its message. Measured with the load
 * generator's mixed traffic (50,000 rows kept, msg 539 B on average, each packet in its own
 * buffer as a UDP receive gives it): 1.2 KB of V8 heap per row (the row object, header values)
 * plus 1.2 KB outside it (the packet the message is a view of, with allocator overhead); RSS grew
 * 2.9 KB per row. 1792 + 2 × 539 ≈ 2.9 KB.
 */
export const ROW_OVERHEAD_BYTES = 1792;

/** Estimated memory of one queued row: the message bytes, text copied out of them, overhead. */
export function estimateRowBytes(row: Row): number {
  const msg = (row as { msg?: unknown }).msg;
  return ROW_OVERHEAD_BYTES + (Buffer.isBuffer(msg) ? 2 * msg.length : 0);
}

export class StoreWriter {
  private readonly stats: Stats;
  private readonly logger: Logger | null;
  private readonly batchSize: number;
  private readonly batchTimeoutMs: number;
  private readonly queueMaxRows: number;
  private readonly queueMaxBytes: number;
  private readonly spoolAfterBatches: number;
  private readonly insertRetries: number;
  private readonly retryTimeoutMs: number;
  private readonly maxInFlight: number;
  private readonly mergeMaxRows: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly giveUpAfter: number;
  private readonly outageProbeIntervalMs: number;
  private readonly onUnwritable: UnwritableHandler | null;
  private readonly queueFullDetail: string;
  private readonly queueBytesFullDetail: string;

  private readonly pending = new Map<string, PendingBatch>();
  /** Batches cut and waiting for a flush slot, FIFO (`readyHead` avoids O(n) shift()). */
  private ready: ReadyBatch[] = [];
  private readyHead = 0;
  private depth = 0;
  private bytes = 0;
  private inFlight = 0;
  /** Estimated bytes of the rows being written (a share of `bytes`). */
  private inFlightBytes = 0;
  /** Merging stops where the rows in flight would pass this: half of queueMaxBytes. */
  private readonly inFlightMergeBudget: number;
  /** Batches being appended to the spool because too many waited (spoolAfterBatches). */
  private spilling = 0;
  private readonly ensured = new Set<string>();
  /**
   * Whether the next replayed record's marker must be looked up before it is written: at start
   * (the daemon may have died after committing it, before the spool's read position moved) and
   * after any failed replay attempt. Not needed after a success: the spool moved on.
   */
  private replayCheck = true;
  /** Replayed records (or pieces) found already committed and not written again. */
  private readonly alreadyCommitted = { batches: 0, rows: 0 };
  private idleWaiters: (() => void)[] = [];
  private readonly sleepers = new Set<() => void>();
  private closed = false;
  private retriesStopped = false;
  /** A batch failed for a database reason and was handed on; cleared by the next successful insert. */
  private outage = false;
  private lastOutageAttemptAt = 0;
  private failingSince = 0;
  private failedAttempts = 0;

  constructor(
    readonly store: Store,
    opts: StoreWriterOptions,
  ) {
    this.stats = opts.stats;
    this.logger = opts.logger ?? null;
    this.batchSize = Math.max(1, Math.floor(opts.batchSize));
    this.batchTimeoutMs = Math.max(0, opts.batchTimeoutMs);
    this.queueMaxRows = Math.max(1, Math.floor(opts.queueMaxRows));
    this.queueMaxBytes = Math.max(1, opts.queueMaxBytes ?? Number.POSITIVE_INFINITY);
    this.spoolAfterBatches = Math.max(0, Math.floor(opts.spoolAfterBatches ?? 0));
    this.insertRetries = clamp(Math.floor(opts.insertRetries), 0, 500);
    this.retryTimeoutMs = clamp(opts.insertRetryTimeoutS, 0, 300) * 1000;
    this.maxInFlight = Math.max(1, Math.floor(opts.maxInFlight ?? 1));
    this.mergeMaxRows = this.batchSize * Math.max(1, Math.floor(opts.mergeBatches ?? 1));
    this.inFlightMergeBudget = this.queueMaxBytes / 2;
    this.retryBaseDelayMs = Math.max(1, opts.retryBaseDelayMs ?? 100);
    this.retryMaxDelayMs = Math.max(this.retryBaseDelayMs, opts.retryMaxDelayMs ?? 5000);
    this.giveUpAfter = Math.max(1, Math.floor(opts.isolationGiveUpAfter ?? 8));
    this.outageProbeIntervalMs = Math.max(0, opts.outageProbeIntervalMs ?? 1000);
    this.onUnwritable = opts.onUnwritable ?? null;
    this.queueFullDetail = `${this.queueMaxRows} rows already waiting for ${store.displayUrl}`;
    // Built once: under overload this is passed for every refused row.
    this.queueBytesFullDetail = `rows of about ${this.queueMaxBytes} bytes (queue_max_bytes) already waiting for ${store.displayUrl}`;
  }

  /** Rows waiting: collected in batches, waiting for a flush, or being written. */
  get queueDepth(): number {
    return this.depth;
  }

  /** Estimated bytes of the rows waiting (see estimateRowBytes). */
  get queueBytes(): number {
    return this.bytes;
  }

  /** Batches being written right now. */
  get inFlightBatches(): number {
    return this.inFlight;
  }

  /** Batches cut and waiting for a flush slot (live traffic backing up). */
  /** Replayed spool batches found already committed (their marker row exists), and their rows. */
  get replayedAlreadyCommitted(): { batches: number; rows: number } {
    return { ...this.alreadyCommitted };
  }

  get readyBatches(): number {
    return this.ready.length - this.readyHead;
  }

  /** True while inserts are failing (from the first failed attempt to the next success). */
  get failing(): boolean {
    return this.failedAttempts > 0;
  }

  /** True while batches go straight to onUnwritable because the database is known to be down. */
  get inOutage(): boolean {
    return this.outage;
  }

  /** Queues one row for `table`. Never blocks, never throws; a row it cannot take is counted. */
  enqueue(table: string, kind: TableKind, row: Row): void {
    if (this.closed) {
      this.stats.drop(DropReason.SHUTDOWN, `${table}: writer for ${this.store.displayUrl} is closed`);
      return;
    }
    if (this.depth >= this.queueMaxRows) {
      this.stats.drop(DropReason.QUEUE_FULL, this.queueFullDetail);
      return;
    }
    const rowBytes = estimateRowBytes(row);
    if (this.bytes + rowBytes > this.queueMaxBytes) {
      this.stats.drop(DropReason.QUEUE_FULL, this.queueBytesFullDetail);
      return;
    }
    let b = this.pending.get(table);
    if (b === undefined) {
      // Checked once per batch, not per row: a bad name would fail every insert of the batch.
      if (!isValidTableName(table)) {
        this.stats.drop(DropReason.BAD_TABLE_NAME, `table name ${JSON.stringify(table.slice(0, 80))} is not a safe identifier`);
        return;
      }
      b = { table, kind, rows: [], bytes: 0, timer: null };
      this.pending.set(table, b);
    }
    b.rows.push(row);
    b.bytes += rowBytes;
    this.depth++;
    this.bytes += rowBytes;
    if (b.rows.length >= this.batchSize) {
      this.cut(b);
    } else if (b.timer === null) {
      const batch = b;
      b.timer = setTimeout(() => this.cut(batch), this.batchTimeoutMs);
    }
  }

  /** Writes everything queued so far (retries included) and resolves when the writer is idle. */
  flush(): Promise<void> {
    for (const b of [...this.pending.values()]) this.cut(b);
    return this.whenIdle();
  }

  /**
   * Stops taking rows (later ones are counted `shutdown`) and drains the queue. Does not close
   * the store: the owner of the store does that afterwards.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /**
   * Ends back-off waits now and makes no further retries or row-by-row splitting: what fails
   * from here on goes straight to `onUnwritable`. For a shutdown that cannot wait for
   * `insert_retry_timeout`.
   */
  stopRetrying(): void {
    this.retriesStopped = true;
    for (const wake of [...this.sleepers]) wake();
  }

  // ---- batching ----

  private cut(b: PendingBatch): void {
    if (b.timer !== null) clearTimeout(b.timer);
    b.timer = null;
    if (this.pending.get(b.table) === b) this.pending.delete(b.table);
    if (b.rows.length === 0) return;
    const ready: ReadyBatch = { batch: { table: b.table, kind: b.kind, rows: b.rows }, bytes: b.bytes };
    if (
      this.spoolAfterBatches > 0 &&
      this.onUnwritable !== null &&
      !this.closed &&
      // In an outage every batch goes to the spool in order anyway; spilling would reorder it.
      !this.outage &&
      this.ready.length - this.readyHead >= this.spoolAfterBatches
    ) {
      // The database is behind: this batch waits on disk instead of in memory. The spool
      // serialises appends; until its append is done the batch still counts against
      // queue_max_rows/bytes, so a disk slower than the traffic cannot grow memory either.
      this.spill(ready);
      return;
    }
    this.ready.push(ready);
    this.pump();
  }

  private spill(r: ReadyBatch): void {
    this.spilling++;
    void this.unwritable(r.batch, new Error(`database behind: more than ${this.spoolAfterBatches} batches waiting`)).finally(() => {
      this.spilling--;
      this.release(r);
      this.pump();
    });
  }

  private release(r: ReadyBatch): void {
    this.depth -= r.batch.rows.length;
    this.bytes -= r.bytes;
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.readyHead < this.ready.length) {
      let r = this.takeReady();
      // Backlog: the batches waiting behind this one for the same table ride along, in order.
      let rides: ReadyBatch[] | null = null;
      let rows = r.batch.rows.length;
      // Riding along stops where the rows in flight would pass half of queue_max_bytes (the
      // first batch always goes): at 4 in flight × batch_merge 4 they were ~45 MiB of the 64,
      // so a database stall left no room for the batches waiting or being spooled, and new
      // rows were dropped (queue_full) while the spool had space.
      let bytes = r.bytes;
      while (this.readyHead < this.ready.length) {
        const next = this.ready[this.readyHead] as ReadyBatch;
        if (next.batch.table !== r.batch.table || rows + next.batch.rows.length > this.mergeMaxRows) break;
        if (this.inFlightBytes + bytes + next.bytes > this.inFlightMergeBudget) break;
        (rides ??= []).push(this.takeReady());
        rows += next.batch.rows.length;
        bytes += next.bytes;
      }
      if (rides !== null) r = mergeReady(r, rides, bytes);
      const write = r;
      this.inFlight++;
      this.inFlightBytes += write.bytes;
      void this.process(write.batch).finally(() => {
        this.inFlight--;
        this.inFlightBytes -= write.bytes;
        this.release(write);
        this.pump();
      });
    }
    if (this.inFlight === 0 && this.spilling === 0 && this.readyHead >= this.ready.length && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private takeReady(): ReadyBatch {
    const r = this.ready[this.readyHead] as ReadyBatch;
    this.ready[this.readyHead++] = EMPTY_READY;
    if (this.readyHead === this.ready.length) {
      this.ready = [];
      this.readyHead = 0;
    }
    return r;
  }

  private whenIdle(): Promise<void> {
    if (this.inFlight === 0 && this.spilling === 0 && this.readyHead >= this.ready.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ---- writing ----

  private async process(batch: RowBatch): Promise<void> {
    try {
      if (this.outage && this.onUnwritable !== null) {
        // The database is known to be down and a spool exists: the queue keeps moving instead
        // of filling up behind back-off waits. One batch now and then finds out if it is back.
        const now = Date.now();
        if (this.retriesStopped || now - this.lastOutageAttemptAt < this.outageProbeIntervalMs) {
          await this.unwritable(batch, new Error('database unavailable (outage)'));
          return;
        }
        this.lastOutageAttemptAt = now;
        const err = await this.tryOnce(batch);
        if (err === null) return;
        // Still down (or cannot tell): the spool. Only a sure row error is worth splitting.
        if (batch.commitToken === undefined && this.classify(err) === 'row') await this.isolate(batch, err);
        else await this.unwritable(batch, err);
        return;
      }
      const err = await this.writeWithRetries(batch);
      if (err !== null) await this.afterFailure(batch, err);
    } catch (err) {
      // Only a bug in this file gets here; never lose rows without counting them.
      this.stats.drop(DropReason.DB_ERROR, `${batch.table}: writer error: ${errorMessage(err)}`, batch.rows.length);
    }
  }

  /**
   * Writes one batch read back from the spool. Resolves once every row is committed, or was
   * rejected for its content (counted), or — after a partial write — handed to onUnwritable
   * again. Rejects, having written nothing, while the database does not take it: the spool then
   * keeps the batch first in line.
   */
  async replay(batch: RowBatch): Promise<void> {
    const tokenBefore = batch.commitToken;
    const err = await this.tryOnce(batch, this.replayCheck);
    this.replayCheck = err !== null;
    if (err === null) return;
    if (batch.commitToken !== undefined && batch.commitToken !== tokenBefore) {
      // This attempt may have committed, and the spool record does not know: the batch goes
      // back to the spool with its new token instead of staying first with the old one.
      await this.unwritable(batch, err);
      return;
    }
    if (batch.commitToken !== undefined || this.classify(err) !== 'row') throw asError(err);
    await this.isolate(batch, err);
  }

  /** What to do with a batch whose last attempt failed. */
  private async afterFailure(batch: RowBatch, err: unknown): Promise<void> {
    // A batch that may have committed must never be split or written again blindly.
    if (batch.commitToken !== undefined || this.classify(err) === 'database') {
      this.enterOutage();
      await this.unwritable(batch, err);
      return;
    }
    await this.isolate(batch, err);
  }

  private enterOutage(): void {
    if (this.onUnwritable === null) return;
    this.outage = true;
    this.lastOutageAttemptAt = Date.now();
  }

  private classify(err: unknown): 'row' | 'database' | 'unknown' {
    if (this.store.isRowError === undefined) return 'unknown';
    return this.store.isRowError(err) ? 'row' : 'database';
  }

  /**
   * One insert (after ensureTable on first use). Resolves to null on success, else the error.
   * With `checkMark`, a batch whose replay marker is already in the database counts as success
   * without being written again.
   */
  private async tryOnce(batch: RowBatch, checkMark = false): Promise<unknown> {
    const startedAt = performance.now();
    try {
      const mark = batch.replayMark;
      if (checkMark && mark !== undefined && this.store.replayMarked !== undefined && (await this.store.replayMarked(mark))) {
        // Committed by an earlier run that died before the spool's read position moved.
        batch.commitToken = undefined;
        this.alreadyCommitted.batches++;
        this.alreadyCommitted.rows += batch.rows.length;
        this.logger?.info(
          { db: this.store.displayUrl, table: batch.table, rows: batch.rows.length, spool: mark.spool, record: mark.record, piece: mark.piece },
          'spool record already committed before a restart; not written again',
        );
        this.noteSuccess();
        return null;
      }
      if (batch.commitToken !== undefined && this.store.wasCommitted !== undefined) {
        // An earlier attempt's COMMIT lost its answer: settle that before writing again.
        const committed = await this.store.wasCommitted(batch.commitToken);
        batch.commitToken = undefined;
        if (committed) {
          this.stats.stored(batch.table, batch.rows.length);
          this.noteSuccess();
          return null;
        }
      }
      if (!this.ensured.has(batch.table)) {
        await this.store.ensureTable(batch.table, batch.kind);
        this.ensured.add(batch.table);
      }
      await this.store.insert(batch);
    } catch (err) {
      // Ask the store again next time: the table may have been dropped behind our back.
      this.ensured.delete(batch.table);
      const token = commitTokenOf(err);
      if (token !== undefined) batch.commitToken = token;
      // Latency of every attempt, failed ones too (metrics: sipcapture_db_batch_duration_seconds).
      this.stats.batchWritten(this.store.displayUrl, batch.rows.length, (performance.now() - startedAt) / 1000, false);
      this.noteFailure(batch, err);
      return err ?? new Error('insert failed');
    }
    this.stats.batchWritten(this.store.displayUrl, batch.rows.length, (performance.now() - startedAt) / 1000, true);
    this.stats.stored(batch.table, batch.rows.length);
    this.noteSuccess();
    return null;
  }

  /** The first attempt plus up to insertRetries retries with back-off. Null on success. */
  private async writeWithRetries(batch: RowBatch): Promise<unknown> {
    let failures = 0;
    let firstFailureAt = 0;
    for (;;) {
      const err = await this.tryOnce(batch);
      if (err === null) return null;
      failures++;
      if (failures === 1) firstFailureAt = Date.now();
      // Retrying cannot fix the rows' content: isolation comes next.
      if (this.retriesStopped || failures > this.insertRetries || this.classify(err) === 'row') return err;
      let delay = Math.min(this.retryMaxDelayMs, this.retryBaseDelayMs * 2 ** Math.min(failures - 1, 30));
      if (this.retryTimeoutMs > 0) {
        const remaining = firstFailureAt + this.retryTimeoutMs - Date.now();
        if (remaining <= 0) return err;
        delay = Math.min(delay, remaining);
      }
      await this.sleep(delay);
    }
  }

  /**
   * Splits a batch whose rows were rejected into halves, recursively, until every row that can
   * be written is written and each row that cannot is counted (or, for stores that cannot tell
   * row errors from database errors, handed on alone). One attempt per piece, no back-off: the
   * retries already ran for the whole batch. If the database fails on the way, the rest is
   * handed on in one piece.
   */
  private async isolate(batch: RowBatch, firstError: unknown): Promise<void> {
    if (batch.rows.length === 1 || this.retriesStopped) {
      if (batch.rows.length === 1 && this.classify(firstError) === 'row') {
        this.rejectRow(batch, firstError);
        return;
      }
      await this.unwritable(batch, firstError);
      if (batch.rows.length > 1) this.enterOutage();
      return;
    }
    const { table, kind } = batch;
    // A piece of a replayed record is marked "<first row>+<rows>": after a crash in the middle
    // of the isolation the record is split the same way again and committed pieces are skipped.
    const mark = batch.replayMark;
    const index = mark === undefined ? null : new Map(batch.rows.map((r, i) => [r, i]));
    const pieceOf = (rows: readonly Row[]): RowBatch =>
      mark === undefined || index === null
        ? { table, kind, rows }
        : { table, kind, rows, replayMark: { ...mark, piece: `${index.get(rows[0] as Row) ?? 0}+${rows.length}` } };
    // A stack of row ranges; the left half is on top so rows are tried in order.
    const stack: (readonly Row[])[] = [];
    pushHalves(stack, batch.rows);
    let successes = 0;
    let singleFailuresInARow = 0;
    while (stack.length > 0) {
      const rows = stack.pop() as readonly Row[];
      const piece = pieceOf(rows);
      const err = await this.tryOnce(piece, true);
      if (err === null) {
        successes++;
        singleFailuresInARow = 0;
        continue;
      }
      const cls = this.classify(err);
      if (this.retriesStopped || cls === 'database' || piece.commitToken !== undefined) {
        if (cls === 'database') this.enterOutage();
        if (piece.commitToken !== undefined) {
          // This piece may have committed: it travels alone, with its token.
          await this.unwritable(piece, err);
          if (stack.length > 0) await this.handOnRest(batch, [], stack, [], err);
          return;
        }
        await this.handOnRest(batch, rows, stack, [], err);
        return;
      }
      if (rows.length > 1) {
        pushHalves(stack, rows);
        continue;
      }
      if (cls === 'row') {
        this.rejectRow(piece, err);
        continue;
      }
      singleFailuresInARow++;
      if (successes === 0 && singleFailuresInARow >= this.giveUpAfter && stack.length > 0) {
        // Nothing got through yet. Probe the far end of the batch: if a row there is written,
        // the rows are bad, not the database, and splitting goes on.
        const probe = takeLastRow(stack);
        const probeErr = await this.tryOnce(pieceOf([probe]), true);
        if (probeErr === null) {
          successes++;
          singleFailuresInARow = 0;
        } else {
          // The database, not the rows: hand the rest on in one piece (the spool takes it whole).
          this.enterOutage();
          await this.handOnRest(batch, rows, stack, [probe], probeErr);
          return;
        }
      }
      await this.unwritable(piece, err);
    }
  }

  /** A row the database refuses for its content while it takes others: counted, not retried. */
  private rejectRow(piece: RowBatch, err: unknown): void {
    this.stats.drop(DropReason.DB_ERROR, `${piece.table}: row rejected by ${this.store.displayUrl}: ${errorMessage(err)}`, piece.rows.length);
  }

  /** `rows`, then the stack's ranges in row order, then `tail`, as one batch for onUnwritable. */
  private async handOnRest(batch: RowBatch, rows: readonly Row[], stack: (readonly Row[])[], tail: Row[], err: unknown): Promise<void> {
    const rest: Row[] = [...rows];
    for (let i = stack.length - 1; i >= 0; i--) rest.push(...(stack[i] as readonly Row[]));
    rest.push(...tail);
    this.logger?.error(
      { db: this.store.displayUrl, table: batch.table, rows: rest.length, err: errorMessage(err) },
      'database rejects every row; handing the rest of the batch on',
    );
    await this.unwritable({ table: batch.table, kind: batch.kind, rows: rest }, err);
  }

  private async unwritable(batch: RowBatch, error: unknown): Promise<void> {
    if (this.onUnwritable !== null) {
      try {
        await this.onUnwritable(batch, error);
        return;
      } catch (err) {
        this.stats.drop(
          err instanceof SpoolFullError ? DropReason.SPOOL_FULL : DropReason.DB_ERROR,
          `${batch.table}: not written (${errorMessage(error)}) and not spooled (${errorMessage(err)})`,
          batch.rows.length,
        );
        return;
      }
    }
    this.stats.drop(DropReason.DB_ERROR, `${batch.table}: ${errorMessage(error)}`, batch.rows.length);
  }

  private sleep(ms: number): Promise<void> {
    if (this.retriesStopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  // Log the transitions only (failing → recovered), not every attempt: Stats logs the drops.
  private noteFailure(batch: RowBatch, err: unknown): void {
    if (this.failedAttempts++ === 0) {
      this.failingSince = Date.now();
      this.logger?.warn(
        { db: this.store.displayUrl, table: batch.table, rows: batch.rows.length, err: errorMessage(err) },
        'database insert failed; retrying with back-off',
      );
    }
  }

  private noteSuccess(): void {
    this.outage = false;
    if (this.failedAttempts === 0) return;
    this.logger?.info(
      { db: this.store.displayUrl, failedAttempts: this.failedAttempts, failingForMs: Date.now() - this.failingSince },
      'database inserts succeed again',
    );
    this.failedAttempts = 0;
  }
}

/** `first` and the batches of the same table behind it as one batch of `bytes` (rows copied once). */
function mergeReady(first: ReadyBatch, rides: readonly ReadyBatch[], bytes: number): ReadyBatch {
  const { table, kind } = first.batch;
  return { batch: { table, kind, rows: first.batch.rows.concat(...rides.map((x) => x.batch.rows)) }, bytes };
}

const EMPTY_READY: ReadyBatch = { batch: { table: '', kind: 'sip', rows: [] }, bytes: 0 };

/** Removes and returns the last row (in batch order) of the ranges on the stack. */
function takeLastRow(stack: (readonly Row[])[]): Row {
  const last = stack[0] as readonly Row[];
  const row = last[last.length - 1] as Row;
  if (last.length === 1) stack.shift();
  else stack[0] = last.slice(0, -1);
  return row;
}

function pushHalves(stack: (readonly Row[])[], rows: readonly Row[]): void {
  const mid = Math.ceil(rows.length / 2);
  stack.push(rows.slice(mid), rows.slice(0, mid));
}

function clamp(v: number, lo: number, hi: number): number {
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : lo;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
