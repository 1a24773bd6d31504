/**
 * The storage contract. One Store per database URL; the daemon never talks SQL itself.
 * Backends (sqlite/, postgres/, mysql/) implement it; the batching writer (writer/writer.ts) sits in
 * front of it and owns queues, retries and the spool, so a backend only has to do two things
 * well: make sure a table exists, and write a batch of rows atomically. Optional methods
 * let the writer tell a bad row from a bad database, settle a commit whose answer was lost, and
 * tell whether a replayed spool record was already committed.
 */
import type { TableKind } from '../capture/rows.js';
import type { StoreRow } from './encoded-row.js';

export type StoreBackend = 'sqlite' | 'postgres' | 'mysql';

export interface RowBatch {
  /** A validated table name (safe characters only; see route/table-name.ts). */
  table: string;
  kind: TableKind;
  /** Row objects, or tuples a pipeline thread encoded (encoded-row.ts; only for PostgreSQL Homer 5 tables). */
  rows: readonly StoreRow[];
  /**
   * Set by the writer when an earlier attempt sent COMMIT and lost the answer (see
   * `Store.wasCommitted`); kept in the spool, so the batch is never written twice.
   */
  commitToken?: string;
  /**
   * Set on a batch read back from the spool (and on the pieces it is split into): the store
   * writes this marker row in the same transaction as the rows (see `Store.replayMarked`).
   */
  replayMark?: ReplayMark;
}

/**
 * Identifies one spool record (or one piece of it) for good: a marker row with these values in
 * SPOOL_DONE_TABLE says its rows are committed. `spool` is the spool directory's random id,
 * `record` "<segment>:<byte offset>", `piece` '' for the whole record or "<first row>+<rows>".
 */
export interface ReplayMark {
  spool: string;
  record: string;
  piece: string;
}

/** The marker table of replayed spool records (docs/storage.md, "Replayed records"). */
export const SPOOL_DONE_TABLE = 'sipcapture_spool_done';
/** Markers of other spools older than this are deleted when a store first uses the table, s. */
export const SPOOL_DONE_MAX_AGE_S = 7 * 86_400;

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
  /**
   * Stores that implement this write `batch.replayMark`, when set, as a row of SPOOL_DONE_TABLE
   * in the transaction of the batch's rows, and in the same transaction delete the markers of
   * that spool's other records (the spool's read position is already past them). This answers
   * whether such a marker exists: the batch was committed, even if the daemon died before the
   * spool's read position moved. Rejects when the database cannot answer.
   */
  replayMarked?(mark: ReplayMark): Promise<boolean>;
  /**
   * Gives up every insert in flight now (cutting its connection) and fails every later one at
   * once: for a shutdown that cannot wait for a hung database (a table lock, a frozen server).
   * An insert given up before its COMMIT was sent cannot commit; one given up after rejects with
   * its commit token, so its batch is settled when replayed, never written twice.
   */
  abandon?(): void;

  /**
   * Opens (or reuses) a connection and runs a trivial query: resolves when the database takes
   * work, rejects with the driver's error (a refused password, an unknown database, an
   * unreachable host) otherwise. Stores without a server (SQLite) need none.
   */
  ping?(): Promise<void>;
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
