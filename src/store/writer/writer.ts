/**
 * The batching writer in front of one Store (one database URL). The receive path calls
 * `enqueue()`, which never blocks and never throws; everything slow happens here, off to the
 * side. It composes the output machinery of this folder:
 *
 * - batch-queue.ts collects rows per table and cuts batches, bounds the rows and bytes waiting
 *   (beyond them a row is counted `queue_full`), merges batches under backlog, and with a spool
 *   sends batches cut beyond `spoolAfterBatches` waiting to it at once (docs/storage.md);
 * - attempt.ts writes one batch once; retry.ts retries a failed one with back-off, at most
 *   `insertRetries` times and for at most `insertRetryTimeoutS` seconds; an error the store
 *   calls a row error (data, constraint) is not retried;
 * - a batch that still fails goes, when the store says the database is the problem, whole to
 *   `onUnwritable` (the spool) and the writer enters "outage": later batches go straight to the
 *   spool, with one live attempt per `outageProbeIntervalMs`, until an insert succeeds again;
 * - when the rows are the problem isolate.ts splits the batch, so one poisoned row loses only
 *   itself (counted `db_error`); everything else is written or handed on;
 * - `replay()` writes a batch read back from the spool with the same rules.
 *
 * With `maxInFlight` 1 (default) one batch is in flight at a time and batches reach the
 * database in the order they were cut. With more (db_insert_mode 2) several batches are written
 * concurrently over the store's pool and may commit in any order.
 */
import type { Logger } from 'pino';
import type { TableKind } from '../../capture/rows.js';
import { EncodedRow, type StoreRow } from '../encoded-row.js';
import { isValidTableName } from '../../route/table-name.js';
import { DropReason } from '../../telemetry/drop-reasons.js';
import type { Stats } from '../../telemetry/stats.js';
import { WakeableSleep } from '../../util/backoff.js';
import { SpoolFullError } from '../spool/errors.js';
import type { RowBatch, Store } from '../store.js';
import { StoreAttempt } from './attempt.js';
import { BatchQueue, type QueuedBatch } from './batch-queue.js';
import { asError, errorMessage } from './errors.js';
import { isolate, type IsolationContext } from './isolate.js';
import { withRetries, type RetryPolicy } from './retry.js';

type Row = StoreRow;

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
  batchMerge?: number;
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

/**
 * Estimated memory of a queued row beyond twice its message. Measured with the load
 * generator's mixed traffic (50,000 rows kept, msg 539 B on average, each packet in its own
 * buffer as a UDP receive gives it): 1.2 KB of V8 heap per row (the row object, header values)
 * plus 1.2 KB outside it (the packet the message is a view of, with allocator overhead); RSS grew
 * 2.9 KB per row. 1792 + 2 × 539 ≈ 2.9 KB.
 */
export const ROW_OVERHEAD_BYTES = 1792;
/** An encoded row is one object and its share of its batch's buffer (sized with a quarter to spare). */
const ENCODED_ROW_OVERHEAD_BYTES = 128;

/** Estimated memory of one queued row: the message bytes, text copied out of them, overhead. */
export function estimateRowBytes(row: Row): number {
  if (row instanceof EncodedRow) return ENCODED_ROW_OVERHEAD_BYTES + row.byteLength + (row.byteLength >> 2);
  const msg = (row as { msg?: unknown }).msg;
  return ROW_OVERHEAD_BYTES + (Buffer.isBuffer(msg) ? 2 * msg.length : 0);
}

/** The row batch of a queued batch: the key is the table, the meta its kind. */
const rowBatchOf = (b: QueuedBatch<Row, TableKind>): RowBatch => ({ table: b.key, kind: b.meta, rows: b.items });

/**
 * A piece of a batch being isolated. A piece of a replayed record is marked
 * "<first row>+<rows>": after a crash in the middle of the isolation the record is split the
 * same way again and committed pieces are skipped.
 */
function pieceOf(batch: RowBatch, rows: readonly Row[], first: number): RowBatch {
  const { table, kind, replayMark: mark } = batch;
  return mark === undefined ? { table, kind, rows } : { table, kind, rows, replayMark: { ...mark, piece: `${first}+${rows.length}` } };
}

export class StoreWriter {
  private readonly stats: Stats;
  private readonly logger: Logger | null;
  private readonly queue: BatchQueue<Row, TableKind>;
  private readonly attempt: StoreAttempt;
  private readonly retryPolicy: RetryPolicy;
  private readonly isolation: IsolationContext<Row, RowBatch>;
  private readonly outageProbeIntervalMs: number;
  private readonly onUnwritable: UnwritableHandler | null;
  private readonly queueFullDetail: string;
  private readonly queueBytesFullDetail: string;
  private readonly sleeper = new WakeableSleep();

  /**
   * Whether the next replayed record's marker must be looked up before it is written: at start
   * (the daemon may have died after committing it, before the spool's read position moved) and
   * after any failed replay attempt. Not needed after a success: the spool moved on.
   */
  private replayCheck = true;
  private closed = false;
  private retriesStopped = false;
  /** Batches being written (for abandon()). */
  private readonly writing = new Set<RowBatch>();
  /** Batches abandon() counted as lost: if their write ends after all, they are not spooled. */
  private readonly givenUp = new Set<RowBatch>();
  private abandoning: Promise<void> | null = null;
  private abandoned!: () => void;
  private readonly abandonedDone = new Promise<void>((resolve) => (this.abandoned = resolve));
  /** A batch failed for a database reason and was handed on; cleared by the next successful insert. */
  private outage = false;
  private lastOutageAttemptAt = 0;

  constructor(
    readonly store: Store,
    opts: StoreWriterOptions,
  ) {
    this.stats = opts.stats;
    this.logger = opts.logger ?? null;
    const batchSize = Math.max(1, Math.floor(opts.batchSize));
    this.onUnwritable = opts.onUnwritable ?? null;
    this.queue = new BatchQueue<Row, TableKind>({
      batchSize,
      batchTimeoutMs: opts.batchTimeoutMs,
      maxItems: opts.queueMaxRows,
      ...(opts.queueMaxBytes === undefined ? {} : { maxBytes: opts.queueMaxBytes }),
      maxInFlight: opts.maxInFlight ?? 1,
      mergeMaxItems: batchSize * Math.max(1, Math.floor(opts.batchMerge ?? 1)),
      spillAfterBatches: this.onUnwritable === null ? 0 : (opts.spoolAfterBatches ?? 0),
      bytesOf: estimateRowBytes,
      write: (b) => this.write(rowBatchOf(b)),
      // In an outage every batch goes to the spool in order anyway; spilling would reorder it.
      maySpill: () => !this.closed && !this.outage,
      spill: (b) => this.unwritable(rowBatchOf(b), new Error(`database behind: more than ${opts.spoolAfterBatches ?? 0} batches waiting`)),
    });
    this.attempt = new StoreAttempt(store, this.stats, this.logger, () => {
      this.outage = false;
    });
    const baseMs = Math.max(1, opts.retryBaseDelayMs ?? 100);
    this.retryPolicy = {
      retries: clamp(Math.floor(opts.insertRetries), 0, 500),
      timeoutMs: clamp(opts.insertRetryTimeoutS, 0, 300) * 1000,
      baseMs,
      maxMs: Math.max(baseMs, opts.retryMaxDelayMs ?? 5000),
    };
    this.isolation = {
      attempt: (piece, checkMark) => this.attempt.run(piece, checkMark),
      classify: (err) => this.attempt.classify(err),
      reject: (piece, err) => this.rejectRow(piece, err),
      handOn: (piece, err) => this.unwritable(piece, err),
      enterOutage: () => this.enterOutage(),
      stopped: () => this.retriesStopped,
      giveUpAfter: Math.max(1, Math.floor(opts.isolationGiveUpAfter ?? 8)),
      logger: this.logger,
      outputName: store.displayUrl,
    };
    this.outageProbeIntervalMs = Math.max(0, opts.outageProbeIntervalMs ?? 1000);
    const { items, bytes } = this.queue.limits;
    this.queueFullDetail = `${items} rows already waiting for ${store.displayUrl}`;
    // Built once: under overload this is passed for every refused row.
    this.queueBytesFullDetail = `rows of about ${bytes} bytes (queue_max_bytes) already waiting for ${store.displayUrl}`;
  }

  /** Rows waiting: collected in batches, waiting for a flush, or being written. */
  get queueDepth(): number {
    return this.queue.itemCount;
  }

  /** Estimated bytes of the rows waiting (see estimateRowBytes). */
  get queueBytes(): number {
    return this.queue.byteCount;
  }

  /** Batches being written right now. */
  get inFlightBatches(): number {
    return this.queue.inFlightBatches;
  }

  /** Replayed spool batches found already committed (their marker row exists), and their rows. */
  get replayedAlreadyCommitted(): { batches: number; rows: number } {
    return this.attempt.replayedAlreadyCommitted;
  }

  /** Batches cut and waiting for a flush slot (live traffic backing up). */
  get readyBatches(): number {
    return this.queue.readyBatches;
  }

  /** True while inserts are failing (from the first failed attempt to the next success). */
  get failing(): boolean {
    return this.attempt.failing;
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
    // Checked once per batch, not per row: a bad name would fail every insert of the batch.
    if (!this.queue.collecting(table) && !isValidTableName(table)) {
      this.stats.drop(DropReason.BAD_TABLE_NAME, `table name ${JSON.stringify(table.slice(0, 80))} is not a safe identifier`);
      return;
    }
    const refused = this.queue.offer(table, kind, row);
    if (refused !== null) this.stats.drop(DropReason.QUEUE_FULL, refused === 'items' ? this.queueFullDetail : this.queueBytesFullDetail);
  }

  /** Writes everything queued so far (retries included) and resolves when the writer is idle. */
  flush(): Promise<void> {
    return this.queue.flush();
  }

  /**
   * Stops taking rows (later ones are counted `shutdown`) and drains the queue. Does not close
   * the store: the owner of the store does that afterwards.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.race([this.flush(), this.abandonedDone]);
    // Batches abandon() took out of the queue are not in it any more: wait until they are spooled.
    if (this.abandoning !== null) await this.abandoning;
  }

  /**
   * For a shutdown that cannot wait for the database any longer (a table lock, a frozen
   * server): gives up the inserts in flight (Store.abandon), sends every batch still waiting to
   * `onUnwritable` (the spool), and waits up to `graceMs` for the batches that were in flight to
   * come back and go there too. One given up after its COMMIT was sent carries its commit token
   * into the spool and is settled when replayed. What is still in flight after that (a store that
   * cannot give up) is counted `shutdown`. `close()` resolves once this is done.
   */
  abandon(graceMs = 1000): Promise<void> {
    this.abandoning ??= (async () => {
      this.closed = true;
      this.stopRetrying();
      this.store.abandon?.();
      const stopping = new Error(`the daemon is stopping and ${this.store.displayUrl} does not answer`);
      for (const b of this.queue.takeWaiting()) await this.unwritable(rowBatchOf(b), stopping);
      const end = Date.now() + graceMs;
      while (this.writing.size > 0 && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10));
      for (const b of this.writing) {
        this.givenUp.add(b);
        this.stats.drop(DropReason.SHUTDOWN, `${b.table}: in flight to ${this.store.displayUrl} at the stop deadline; neither written nor spooled`, b.rows.length);
      }
      this.abandoned();
    })();
    return this.abandoning;
  }

  /**
   * Ends back-off waits now and makes no further retries or row-by-row splitting: what fails
   * from here on goes straight to `onUnwritable`. For a shutdown that cannot wait for
   * `insert_retry_timeout`.
   */
  stopRetrying(): void {
    this.retriesStopped = true;
    this.sleeper.wakeAll(true);
  }

  // ---- writing ----

  private async write(batch: RowBatch): Promise<void> {
    this.writing.add(batch);
    try {
      await this.process(batch);
    } finally {
      this.writing.delete(batch);
    }
  }

  private async process(batch: RowBatch): Promise<void> {
    try {
      if (this.abandoning !== null) {
        await this.unwritable(batch, new Error('the daemon is stopping (writes given up)'));
        return;
      }
      if (this.outage && this.onUnwritable !== null) {
        // The database is known to be down and a spool exists: the queue keeps moving instead
        // of filling up behind back-off waits. One batch now and then finds out if it is back.
        const now = Date.now();
        if (this.retriesStopped || now - this.lastOutageAttemptAt < this.outageProbeIntervalMs) {
          await this.unwritable(batch, new Error('database unavailable (outage)'));
          return;
        }
        this.lastOutageAttemptAt = now;
        const err = await this.attempt.run(batch);
        if (err === null) return;
        // Still down (or cannot tell): the spool. Only a sure row error is worth splitting.
        if (batch.commitToken === undefined && this.attempt.classify(err) === 'row') await isolate(batch, err, pieceOf, this.isolation);
        else await this.unwritable(batch, err);
        return;
      }
      const err = await withRetries(() => this.attempt.run(batch), this.retryPolicy, {
        stopped: () => this.retriesStopped,
        // Retrying cannot fix the rows' content: isolation comes next.
        hopeless: (e) => this.attempt.classify(e) === 'row',
        sleep: this.sleeper,
      });
      if (err !== null) await this.afterFailure(batch, err);
    } catch (err) {
      // Only a bug in the writer gets here; never lose rows without counting them.
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
    const err = await this.attempt.run(batch, this.replayCheck);
    this.replayCheck = err !== null;
    if (err === null) return;
    if (batch.commitToken !== undefined && batch.commitToken !== tokenBefore) {
      // This attempt may have committed, and the spool record does not know: the batch goes
      // back to the spool with its new token instead of staying first with the old one.
      await this.unwritable(batch, err);
      return;
    }
    if (batch.commitToken !== undefined || this.attempt.classify(err) !== 'row') throw asError(err);
    await isolate(batch, err, pieceOf, this.isolation);
  }

  /** What to do with a batch whose last attempt failed. */
  private async afterFailure(batch: RowBatch, err: unknown): Promise<void> {
    // A batch that may have committed must never be split or written again blindly.
    if (batch.commitToken !== undefined || this.attempt.classify(err) === 'database') {
      this.enterOutage();
      await this.unwritable(batch, err);
      return;
    }
    await isolate(batch, err, pieceOf, this.isolation);
  }

  private enterOutage(): void {
    if (this.onUnwritable === null) return;
    this.outage = true;
    this.lastOutageAttemptAt = Date.now();
  }

  /** A row the database refuses for its content while it takes others: counted, not retried. */
  private rejectRow(piece: RowBatch, err: unknown): void {
    this.stats.drop(DropReason.DB_ERROR, `${piece.table}: row rejected by ${this.store.displayUrl}: ${errorMessage(err)}`, piece.rows.length);
  }

  private async unwritable(batch: RowBatch, error: unknown): Promise<void> {
    if (this.givenUp.has(batch)) return; // already counted by abandon()
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
}

function clamp(v: number, lo: number, hi: number): number {
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : lo;
}
