/**
 * SQLite backend: a thin main-thread proxy in front of sqlite-worker.ts. The main thread only
 * encodes batches (see protocol.ts) and posts them; the worker does every SQLite call. If the
 * worker dies, pending requests reject (the writer retries them) and the next request starts a
 * new worker.
 */
import { resolve } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { spawnSiblingWorker } from '../../util/worker-thread.js';
import type { TableKind } from '../../capture/rows.js';
import { assertValidTableName } from '../../route/table-name.js';
import { DEFAULT_LIMITS } from '../columns.js';
import { addCounters, newCounters, type CountingStore, type ValueCounters } from '../values.js';
import { SPOOL_DONE_TABLE, isEncodingError, type ReplayMark, type RowBatch, type Store } from '../store.js';
import { encodeBatch, transferListOf, type Request, type Response, type WireError, type WorkerInit } from './protocol.js';
import { loadSchemaText } from '../schema-template.js';
import { dbUrlKind, sqliteFilePath } from '../../config/db-url.js';

export interface SqliteStoreOptions {
  /** How long SQLite waits for a lock held by another connection (e.g. a reader), ms. Default 5000. */
  busyTimeoutMs?: number;
  /** Rows per INSERT statement inside the batch transaction. Default 1 (see bench/micro/store-sqlite.bench.ts). */
  rowsPerStatement?: number;
  /** SQLite page cache per connection, KiB. Default 16384 (SQLite's own default is 2000). */
  cacheSizeKiB?: number;
  /** Marker table of replayed spool records (default SPOOL_DONE_TABLE; tests use their own). */
  spoolDoneTable?: string;
  /** WAL checkpoints on a second thread instead of inside the writer's COMMIT. Default true. */
  checkpointThread?: boolean;
  /** Least time between two checkpoints of that thread, ms. Default 250. */
  checkpointIntervalMs?: number;
  /** WAL size at which the writer checkpoints itself, bytes. Default 64 MiB. */
  walMaxBytes?: number;
  /** Batches waiting in the worker join one transaction up to this many rows. Default 10000; 0 = one transaction per batch. */
  groupMaxRows?: number;
}

/** Error from the database, with SQLite's code when there is one. */
export class SqliteStoreError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly noSuchTable: boolean,
  ) {
    super(message);
    this.name = 'SqliteStoreError';
  }
}

/**
 * The database file of a `sqlite://` URL (config/db-url.ts: `sqlite://relative/path.sqlite`,
 * `sqlite:///absolute/path.sqlite`, `sqlite://:memory:`): absolute, resolved against the working
 * directory (the config loader already made it absolute against the config file's folder), or
 * ':memory:'. No percent-decoding or query string: the rest of the URL is the path as written.
 */
export function parseSqliteUrl(url: string): string {
  if (dbUrlKind(url) !== 'sqlite') throw new Error(`not a sqlite URL: ${url}`);
  const rest = sqliteFilePath(url);
  if (rest === ':memory:') return ':memory:';
  if (rest === '' || rest === '/') throw new Error(`sqlite URL has no file path: ${url}`);
  return resolve(rest);
}

interface Pending {
  worker: Worker;
  resolve: (value: boolean | undefined) => void;
  reject: (err: Error) => void;
}

/** A small young generation: each batch's garbage is short-lived, and a big one only holds RSS. */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8 };

export class SqliteStore implements Store, CountingStore {
  readonly backend = 'sqlite' as const;
  private readonly counters: ValueCounters = newCounters();
  readonly displayUrl: string;
  /** The database file, or ':memory:'. */
  readonly path: string;
  private readonly init: WorkerInit;
  private worker: Worker | null = null;
  private starting: Promise<Worker> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly ensured = new Set<string>();
  private closed = false;
  private closing: Promise<void> | null = null;

  private constructor(url: string, init: WorkerInit) {
    this.displayUrl = url;
    this.path = init.path;
    this.init = init;
  }

  /** Opens (creating the file and its directory if needed) and waits until the worker is ready. */
  static async open(url: string, opts: SqliteStoreOptions = {}): Promise<SqliteStore> {
    const store = new SqliteStore(url, {
      path: parseSqliteUrl(url),
      busyTimeoutMs: opts.busyTimeoutMs ?? 5000,
      schemaText: await loadSchemaText('sqlite'),
      rowsPerStatement: opts.rowsPerStatement ?? 1,
      cacheSizeKiB: opts.cacheSizeKiB ?? 16384,
      doneTable: opts.spoolDoneTable ?? SPOOL_DONE_TABLE,
      checkpointThread: opts.checkpointThread ?? true,
      checkpointIntervalMs: opts.checkpointIntervalMs ?? 250,
      walMaxBytes: opts.walMaxBytes ?? 64 * 1024 * 1024,
      groupMaxRows: opts.groupMaxRows ?? 10_000,
    });
    assertValidTableName(store.init.doneTable);
    await store.getWorker();
    return store;
  }

  /** Values changed to fit the column widths shared with PostgreSQL and MySQL (values.ts, columns.ts). */
  get valueCounters(): Readonly<ValueCounters> {
    return this.counters;
  }

  /**
   * Row errors: constraint violations (CHECK, NOT NULL, a trigger's RAISE), type mismatch, a
   * value too big. Busy, locked, disk full, I/O and a dead worker are the database's.
   */
  isRowError(err: unknown): boolean {
    if (isEncodingError(err)) return true;
    if (!(err instanceof SqliteStoreError) || err.code === undefined) return false;
    return /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG)/.test(err.code);
  }

  async ensureTable(table: string, kind: TableKind): Promise<void> {
    if (this.ensured.has(table)) return;
    assertValidTableName(table);
    await this.request((id) => ({ op: 'ensure', id, table, kind }));
    this.ensured.add(table);
  }

  async insert(batch: RowBatch): Promise<void> {
    if (batch.rows.length === 0) return;
    assertValidTableName(batch.table);
    const local = newCounters();
    const encoded = encodeBatch(batch, { limits: DEFAULT_LIMITS, counters: local });
    try {
      const mark = batch.replayMark;
      await this.request((id) => (mark === undefined ? { op: 'insert', id, batch: encoded } : { op: 'insert', id, batch: encoded, mark }), transferListOf(encoded));
      // Counted once committed: a failed batch is retried or split and would count again.
      addCounters(this.counters, local);
    } catch (err) {
      if (err instanceof SqliteStoreError && err.noSuchTable) this.ensured.delete(batch.table);
      throw err;
    }
  }

  /** Whether a replayed spool record's marker row exists (the worker writes it with the rows). */
  async replayMarked(mark: ReplayMark): Promise<boolean> {
    return (await this.request((id) => ({ op: 'marked', id, mark }))) === true;
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    const worker = this.worker ?? (this.starting !== null ? await this.starting.catch(() => null) : null);
    if (worker === null) return;
    worker.ref(); // stays referenced until it has exited
    const exited = new Promise<void>((res) => worker.once('exit', () => res()));
    try {
      await this.send(worker, (id) => ({ op: 'close', id }));
    } catch {
      await worker.terminate();
    }
    await exited;
  }

  private async request(make: (id: number) => Request, transfer: ArrayBuffer[] = []): Promise<boolean | undefined> {
    if (this.closed) throw new Error(`sqlite store ${this.displayUrl} is closed`);
    const worker = await this.getWorker();
    return this.send(worker, make, transfer);
  }

  private send(worker: Worker, make: (id: number) => Request, transfer: ArrayBuffer[] = []): Promise<boolean | undefined> {
    const id = this.nextId++;
    return new Promise<boolean | undefined>((resolvePromise, reject) => {
      this.pending.set(id, { worker, resolve: resolvePromise, reject });
      // Keep the process alive only while work is outstanding.
      if (this.pending.size === 1) worker.ref();
      worker.postMessage(make(id), transfer);
    });
  }

  private getWorker(): Promise<Worker> {
    if (this.worker !== null) return Promise.resolve(this.worker);
    this.starting ??= this.startWorker().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private startWorker(): Promise<Worker> {
    return new Promise<Worker>((resolveStart, rejectStart) => {
      // A new worker starts with a new connection: for ':memory:' the tables are gone.
      this.ensured.clear();
      const worker = spawnSiblingWorker(import.meta.url, 'sqlite-worker', this.init, WORKER_LIMITS);
      let ready = false;
      worker.on('message', (msg: Response) => {
        if (msg.op === 'ready') {
          ready = true;
          this.worker = worker;
          worker.unref();
          resolveStart(worker);
        } else if (msg.op === 'fatal') {
          rejectStart(new Error(`cannot open sqlite database ${this.init.path}: ${msg.error.message}`));
        } else {
          this.settle(worker, msg);
        }
      });
      worker.on('error', (err) => {
        if (!ready) rejectStart(new Error(`sqlite worker failed to start: ${err.message}`));
        this.failAll(worker, new Error(`sqlite worker error: ${err.message}`));
      });
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = null;
        if (!ready) rejectStart(new Error(`sqlite worker exited with code ${code} before it was ready`));
        this.failAll(worker, new Error(`sqlite worker exited with code ${code}`));
      });
    });
  }

  private settle(worker: Worker, msg: Extract<Response, { op: 'done' }>): void {
    const p = this.pending.get(msg.id);
    if (p === undefined) return;
    this.pending.delete(msg.id);
    if (this.pending.size === 0 && !this.closed) worker.unref();
    if (msg.ok) p.resolve(msg.value);
    else p.reject(toError(msg.error));
  }

  private failAll(worker: Worker, err: Error): void {
    for (const [id, p] of [...this.pending]) {
      if (p.worker !== worker) continue;
      this.pending.delete(id);
      p.reject(err);
    }
  }
}

function toError(e: WireError): SqliteStoreError {
  return new SqliteStoreError(e.message, e.code, e.noSuchTable === true);
}
