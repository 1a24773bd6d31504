/**
 * The viewer's own read connections, one `SqlRunner` per database, apart from the writers so a
 * search never waits behind a batch or holds one up: SQLite through a read-only connection in a
 * worker thread (better-sqlite3 is synchronous; under WAL a reader does not block the writer),
 * PostgreSQL and MySQL through a pool of at most two connections, read-only at the server (so a
 * bug here can never change a row). Every query has a
 * timeout: PostgreSQL cancels it (statement_timeout), mysql2 ends its connection, and SQLite
 * (which has no statement timeout, and whose thread cannot be stopped inside native code) checks
 * a deadline on every row it visits: `guard`, a condition every query puts in its WHERE.
 */
import type { Worker } from 'node:worker_threads';
import { parseSqliteUrl } from '../store/sqlite/sqlite-store.js';
import { dbUrlKind } from '../config/db-url.js';
import { spawnSiblingWorker } from '../util/worker-thread.js';
import { SQLITE_DEADLINE_FUNCTION, type ReadRequest, type ReadResponse } from './sqlite-read-protocol.js';

export type SqlValue = string | number;
export type SqlRow = Record<string, unknown>;

export interface SqlRunner {
  readonly dialect: 'sqlite' | 'postgres' | 'mysql';
  /** A condition to AND into every WHERE so the query can be cut off (SQLite), or null. */
  readonly guard: string | null;
  /** Names of the tables in the database (its current schema). */
  tables(): Promise<string[]>;
  /** Runs one SELECT with `?` placeholders. */
  query(sql: string, params: readonly SqlValue[]): Promise<SqlRow[]>;
  close(): Promise<void>;
}

export interface SqlRunnerOptions {
  timeoutMs: number;
}

export async function openSqlRunner(url: string, opts: SqlRunnerOptions): Promise<SqlRunner> {
  const kind = dbUrlKind(url);
  if (kind === 'sqlite') return new SqliteRunner(parseSqliteUrl(url), opts.timeoutMs);
  if (kind === 'postgres') return openPostgresRunner(url, opts.timeoutMs);
  if (kind === 'mysql') return openMysqlRunner(url, opts.timeoutMs);
  throw new Error(`the viewer cannot read ${url.split(':')[0] ?? ''}: databases`);
}

/** Double-quoted (SQLite, PostgreSQL) or back-quoted (MySQL) identifier of a validated name. */
export function quoteIdent(dialect: SqlRunner['dialect'], name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a table name: ${JSON.stringify(name)}`);
  return dialect === 'mysql' ? `\`${name}\`` : `"${name}"`;
}

/** Grace after the deadline before the SQLite thread is given up on (the guard should have fired). */
const SQLITE_GRACE_MS = 2000;

class SqliteRunner implements SqlRunner {
  readonly dialect = 'sqlite' as const;
  readonly guard = `${SQLITE_DEADLINE_FUNCTION}() = 1`;
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (rows: SqlRow[]) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();

  constructor(
    private readonly file: string,
    private readonly timeoutMs: number,
  ) {}

  tables(): Promise<string[]> {
    return this.query("SELECT name FROM sqlite_master WHERE type = 'table'", []).then((rows) => rows.map((r) => String(r['name'])));
  }

  query(sql: string, params: readonly SqlValue[]): Promise<SqlRow[]> {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // The guard ends a query at its deadline; this is for a statement it does not reach (one
      // that visits no rows for that long): the thread is let go and a new one serves the next.
      const timer = setTimeout(() => {
        this.failAll(new Error(`query cancelled after ${this.timeoutMs} ms`));
        void worker.terminate();
        if (this.worker === worker) this.worker = null;
      }, this.timeoutMs + SQLITE_GRACE_MS);
      this.pending.set(id, { resolve, reject, timer });
      const req: ReadRequest = { id, sql, params: [...params], deadlineMs: Date.now() + this.timeoutMs };
      worker.postMessage(req);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker !== null) return this.worker;
    const worker = spawnSiblingWorker(import.meta.url, 'sqlite-read-worker', { file: this.file }, { maxOldGenerationSizeMb: 256 });
    worker.on('message', (res: ReadResponse) => {
      const p = this.pending.get(res.id);
      if (p === undefined) return;
      this.pending.delete(res.id);
      clearTimeout(p.timer);
      if (res.error !== undefined) p.reject(new Error(res.error));
      else p.resolve(res.rows ?? []);
    });
    // A thread ended on a timeout has already failed its queries; a later one is not its business.
    const ended = (err: Error): void => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.failAll(err);
    };
    worker.on('error', ended);
    worker.on('exit', () => ended(new Error('the SQLite reader thread stopped')));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.failAll(new Error('reader closed'));
    await w?.terminate();
  }
}

async function openPostgresRunner(url: string, timeoutMs: number): Promise<SqlRunner> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: readOnlyPgUrl(url),
    max: 2,
    connectionTimeoutMillis: 5000,
    statement_timeout: timeoutMs,
    idleTimeoutMillis: 10_000,
    application_name: 'sipcapture-viewer',
  });
  pool.on('error', () => {});
  const query = async (sql: string, params: readonly SqlValue[]): Promise<SqlRow[]> => {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    const res = await pool.query(text, [...params]);
    return res.rows as SqlRow[];
  };
  return {
    dialect: 'postgres',
    guard: null,
    tables: async () => (await query('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()', [])).map((r) => String(r['name'])),
    query,
    close: () => pool.end(),
  };
}

/** The URL with `-c default_transaction_read_only=on` added to its own `options` (a search_path stays). */
export function readOnlyPgUrl(url: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `${u.searchParams.get('options') ?? ''} -c default_transaction_read_only=on`.trim());
  return u.toString();
}

async function openMysqlRunner(url: string, timeoutMs: number): Promise<SqlRunner> {
  const { default: mysql } = await import('mysql2/promise');
  const pool = mysql.createPool({
    uri: url.replace(/^mariadb:/i, 'mysql:'),
    connectionLimit: 2,
    connectTimeout: 5000,
    dateStrings: true,
    supportBigNumbers: true,
    charset: 'utf8mb4_general_ci',
  });
  pool.on('connection', (conn) => {
    // Read-only at the server (both MySQL and MariaDB know this statement).
    void conn.query('SET SESSION TRANSACTION READ ONLY');
  });
  const query = async (sql: string, params: readonly SqlValue[]): Promise<SqlRow[]> => {
    // mysql2 ends the query (and its connection) after `timeout` ms.
    const [rows] = await pool.query({ sql, timeout: timeoutMs }, [...params]);
    return rows as SqlRow[];
  };
  return {
    dialect: 'mysql',
    guard: null,
    tables: async () => (await query('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()', [])).map((r) => String(r['name'])),
    query,
    close: () => pool.end(),
  };
}
