/**
 * The storage contract. One Store per database URL; the daemon never talks SQL itself.
 * Backends (sqlite/, postgres/, mysql/) implement it; the batching writer (writer.ts) sits in
 * front of it and owns queues, retries and the spool, so a backend only has to do two things
 * well: make sure a table exists, and write a batch of rows atomically. Two optional methods
 * let the writer tell a bad row from a bad database, and settle a commit whose answer was lost.
 */
import type { ReportRow, SipCaptureRow, TableKind } from '../capture/rows.js';

export type StoreBackend = 'sqlite' | 'postgres' | 'mysql';

export interface RowBatch {
  /** A validated table name (safe characters only; see route/table-name.ts). */
  table: string;
  kind: TableKind;
  rows: readonly (SipCaptureRow | ReportRow)[];
  /**
   * Set by the writer when an earlier attempt sent COMMIT and lost the answer (see
   * `Store.wasCommitted`); kept in the spool, so the batch is never written twice.
   */
  commitToken?: string;
}

export interface Store {
  readonly backend: StoreBackend;
  /** The URL with any password masked, for logs. */
  readonly displayUrl: string;
  /** Creates the table (and its indexes) if it does not exist. Idempotent and cached. */
  ensureTable(table: string, kind: TableKind): Promise<void>;
  /**
   * Writes every row of the batch, all or nothing. Rejects when nothing was written; the caller
   * decides about retries, splitting and spooling. When the outcome is unknown (COMMIT sent, the
   * connection died before the answer) the error carries `commitToken` (see CommitUnknown).
   */
  insert(batch: RowBatch): Promise<void>;
  /**
   * True when an error of `insert` can only come from the rows themselves (a data or constraint
   * error: retrying or waiting cannot help), false when it may come from the database (down,
   * unreachable, out of space, locked, timed out). Without it the writer has to guess.
   */
  isRowError?(err: unknown): boolean;
  /**
   * Settles an unknown outcome: resolves true when the insert that produced `token` was
   * committed, false when it was not; rejects when it cannot tell yet (database unreachable).
   */
  wasCommitted?(token: string): Promise<boolean>;
  close(): Promise<void>;
}

/** The `insert` error shape for a commit whose answer was lost. */
export interface CommitUnknown {
  commitToken: string;
}

export function commitTokenOf(err: unknown): string | undefined {
  const t = (err as Partial<CommitUnknown> | null | undefined)?.commitToken;
  return typeof t === 'string' && t !== '' ? t : undefined;
}

/**
 * Our encoders throw RangeError for a value they cannot represent (e.g. an impossible date):
 * that follows the row, whatever the database does.
 */
export function isEncodingError(err: unknown): boolean {
  return err instanceof RangeError;
}
