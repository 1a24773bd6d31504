/**
 * The storage contract. One Store per database URL; the daemon never talks SQL itself.
 * Backends (sqlite/, postgres/, mysql/) implement it; the batching writer (writer.ts) sits in
 * front of it and owns queues, retries and the spool, so a backend only has to do two things
 * well: make sure a table exists, and write a batch of rows atomically.
 */
import type { ReportRow, SipCaptureRow, TableKind } from '../capture/rows.js';

export type StoreBackend = 'sqlite' | 'postgres' | 'mysql';

export interface RowBatch {
  /** A validated table name (safe characters only; see route/table-name.ts). */
  table: string;
  kind: TableKind;
  rows: readonly (SipCaptureRow | ReportRow)[];
}

export interface Store {
  readonly backend: StoreBackend;
  /** The URL with any password masked, for logs. */
  readonly displayUrl: string;
  /** Creates the table (and its indexes) if it does not exist. Idempotent and cached. */
  ensureTable(table: string, kind: TableKind): Promise<void>;
  /**
   * Writes every row of the batch, all or nothing. Rejects when nothing was written; the caller
   * decides about retries, splitting and spooling.
   */
  insert(batch: RowBatch): Promise<void>;
  close(): Promise<void>;
}
