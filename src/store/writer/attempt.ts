/**
 * One attempt to write one batch to one Store: settle what an earlier attempt left open (a
 * replayed spool record already committed, a COMMIT whose answer was lost), make sure of the
 * table, insert, and account for it (stats, batch latency, the failing → recovered log lines).
 */
import type { Logger } from 'pino';
import type { Stats } from '../../telemetry/stats.js';
import { commitTokenOf, type RowBatch, type Store } from '../store.js';
import { errorMessage } from './errors.js';

/** What a failed insert says: the rows are the problem, the database is, or the store cannot tell. */
export type FailureClass = 'row' | 'database' | 'unknown';

export class StoreAttempt {
  private readonly ensured = new Set<string>();
  /** Replayed records (or pieces) found already committed and not written again. */
  private readonly alreadyCommitted = { batches: 0, rows: 0 };
  private failingSince = 0;
  private failedAttempts = 0;

  constructor(
    private readonly store: Store,
    private readonly stats: Stats,
    private readonly logger: Logger | null,
    /** Called after every success (the writer leaves its outage). */
    private readonly onSuccess: () => void,
  ) {}

  /** True from the first failed attempt to the next success. */
  get failing(): boolean {
    return this.failedAttempts > 0;
  }

  get replayedAlreadyCommitted(): { batches: number; rows: number } {
    return { ...this.alreadyCommitted };
  }

  classify(err: unknown): FailureClass {
    if (this.store.isRowError === undefined) return 'unknown';
    return this.store.isRowError(err) ? 'row' : 'database';
  }

  /**
   * One insert (after ensureTable on first use). Resolves to null on success, else the error.
   * With `checkMark`, a batch whose replay marker is already in the database counts as success
   * without being written again.
   */
  async run(batch: RowBatch, checkMark = false): Promise<unknown> {
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
    this.onSuccess();
    if (this.failedAttempts === 0) return;
    this.logger?.info(
      { db: this.store.displayUrl, failedAttempts: this.failedAttempts, failingForMs: Date.now() - this.failingSince },
      'database inserts succeed again',
    );
    this.failedAttempts = 0;
  }
}
