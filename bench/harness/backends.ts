/**
 * The three databases as the throughput benchmark sees them: the daemon's db_url, a reader for
 * the latency poller (`id, micro_ts` of rows above an id), row counts, the server processes
 * whose CPU is measured, and the same-run ceilings: a bare client writing the same rows as fast
 * as it can (PostgreSQL: COPY via pg-copy-streams; MariaDB: prepared multi-row INSERT;
 * SQLite: better-sqlite3 on the main thread), and the daemon's own Store used directly (no
 * receive path, no parsing) — what the store could do if storing were all the daemon did.
 */
import { existsSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { copyChunks, copyTextChunks } from './bare-copy.js';
import { SIP_CAPTURE_COLUMNS, type SipCaptureRow } from '../../src/capture/rows.js';
import type { Store } from '../../src/store/store.js';
import { createMysqlStore } from '../../src/store/mysql/index.js';
import { createPostgresStore } from '../../src/store/postgres/index.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { loadSchemaTemplate, renderTableStatements } from '../../src/store/schema-template.js';
import { pidsByComm } from './proc.js';

export type BackendName = 'sqlite' | 'postgres' | 'mysql';

export interface Ceiling {
  name: string;
  rows: number;
  rowsPerSec: number;
  /** Rows per COPY / statement / transaction, in words. */
  batching: string;
}

export interface BenchBackend {
  readonly name: BackendName;
  /** Short label of the server for the report (version). */
  describe(): Promise<string>;
  /** db_url for a daemon writing `table` (SQLite: one file per table). */
  dbUrl(table: string): string;
  /** Rows with id > `after`, ascending, at most `limit`: [id, micro_ts]. Empty while the table does not exist. */
  fetchAfter(table: string, after: number, limit: number): Promise<[number, number][]>;
  count(table: string): Promise<number>;
  /** Highest id in the table (0 when empty or missing). */
  maxId(table: string): Promise<number>;
  dropTable(table: string): Promise<void>;
  /** The server's processes (empty for SQLite, which runs inside the daemon). */
  serverPids(): number[];
  /** Server processes working for the benchmark itself (the poller's connection), left out of the DB CPU. */
  ownPids(): ReadonlySet<number>;
  ceilings(rows: readonly SipCaptureRow[], table: string, rounds: number): Promise<Ceiling[]>;
  close(): Promise<void>;
}

const STORE_BATCH = 1000; // the daemon's default batch_size

function best(results: Ceiling[]): Ceiling[] {
  const out = new Map<string, Ceiling>();
  for (const r of results) {
    const prev = out.get(r.name);
    if (prev === undefined || r.rowsPerSec > prev.rowsPerSec) out.set(r.name, r);
  }
  return [...out.values()];
}

async function timed(rows: number, fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return rows / ((performance.now() - t0) / 1000);
}

/** The daemon's Store on its own: sequential batches of the default batch_size, as one writer sends them. */
async function storeCeiling(store: Store, table: string, rows: readonly SipCaptureRow[]): Promise<number> {
  await store.ensureTable(table, 'sip');
  return timed(rows.length, async () => {
    for (let i = 0; i < rows.length; i += STORE_BATCH) await store.insert({ table, kind: 'sip', rows: rows.slice(i, i + STORE_BATCH) });
  });
}

function isMissingTable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e.code === '42P01' || e.code === 'ER_NO_SUCH_TABLE' || (typeof e.message === 'string' && /no such table/.test(e.message));
}

// ---- PostgreSQL ----


export async function postgresBackend(url: string): Promise<BenchBackend> {
  const client = new pg.Client({ connectionString: url, application_name: 'sipcapture-bench' });
  await client.connect();
  const own = new Set<number>();
  const pidRes = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  own.add(pidRes.rows[0]!.pid);
  const q = (t: string): string => `"${t.toLowerCase()}"`;
  return {
    name: 'postgres',
    async describe() {
      const r = await client.query<{ v: string; sb: string; sc: string }>(
        "SELECT current_setting('server_version') AS v, current_setting('shared_buffers') AS sb, current_setting('synchronous_commit') AS sc",
      );
      const x = r.rows[0]!;
      return `PostgreSQL ${x.v} (shared_buffers ${x.sb}, synchronous_commit ${x.sc})`;
    },
    dbUrl: () => url,
    async fetchAfter(table, after, limit) {
      try {
        const r = await client.query<{ id: string; micro_ts: string }>(`SELECT id, micro_ts FROM ${q(table)} WHERE id > $1 ORDER BY id LIMIT $2`, [after, limit]);
        return r.rows.map((x) => [Number(x.id), Number(x.micro_ts)]);
      } catch (err) {
        if (isMissingTable(err)) return [];
        throw err;
      }
    },
    async count(table) {
      try {
        const r = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${q(table)}`);
        return Number(r.rows[0]!.n);
      } catch (err) {
        if (isMissingTable(err)) return 0;
        throw err;
      }
    },
    async maxId(table) {
      try {
        const r = await client.query<{ m: string | null }>(`SELECT max(id) AS m FROM ${q(table)}`);
        return Number(r.rows[0]?.m ?? 0);
      } catch (err) {
        if (isMissingTable(err)) return 0;
        throw err;
      }
    },
    async dropTable(table) {
      await client.query(`DROP TABLE IF EXISTS ${q(table)}`);
    },
    serverPids: () => pidsByComm(['postgres', 'postmaster']),
    ownPids: () => own,
    async ceilings(rows, table, rounds) {
      const results: Ceiling[] = [];
      const creator = await createPostgresStore(url, { poolSize: 1 });
      const perCopy = 5000;
      try {
        for (let round = 0; round < rounds; round++) {
          const bareTable = `${table}_copy${round}`;
          await creator.ensureTable(bareTable, 'sip');
          const chunks = Array.from({ length: Math.ceil(rows.length / perCopy) }, (_, i) => copyTextChunks(rows.slice(i * perCopy, (i + 1) * perCopy)));
          await client.query('CHECKPOINT').catch(() => undefined);
          const bare = new pg.Client({ connectionString: url });
          await bare.connect();
          try {
            const rate = await timed(rows.length, async () => {
              for (const batch of chunks) {
                await copyChunks(bare, q(bareTable), batch);
              }
            });
            results.push({ name: 'bare COPY (text, pg-copy-streams)', rows: rows.length, rowsPerSec: rate, batching: `${perCopy} rows/COPY, 1 connection` });
          } finally {
            await bare.end();
            await client.query(`DROP TABLE IF EXISTS ${q(bareTable)}`);
          }
          const storeTable = `${table}_store${round}`;
          await client.query('CHECKPOINT').catch(() => undefined);
          const store = await createPostgresStore(url, { poolSize: 1 });
          try {
            const rate = await storeCeiling(store, storeTable, rows);
            results.push({ name: 'store COPY (binary, the daemon\'s PostgresStore)', rows: rows.length, rowsPerSec: rate, batching: `${STORE_BATCH} rows/COPY, sequential` });
          } finally {
            await store.close();
            await client.query(`DROP TABLE IF EXISTS ${q(storeTable)}`);
          }
        }
      } finally {
        await creator.close();
      }
      return best(results);
    },
    async close() {
      await client.end();
    },
  };
}

// ---- MySQL / MariaDB ----

export async function mysqlBackend(url: string): Promise<BenchBackend> {
  const conn = await mysql.createConnection({ uri: url, supportBigNumbers: true, bigNumberStrings: false, charset: 'utf8mb4_general_ci' });
  const q = (t: string): string => `\`${t}\``;
  return {
    name: 'mysql',
    async describe() {
      const [r] = await conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v, @@innodb_buffer_pool_size AS bp, @@innodb_flush_log_at_trx_commit AS fl');
      const x = r[0]!;
      return `MySQL/MariaDB ${String(x['v'])} (innodb_buffer_pool_size ${Math.round(Number(x['bp']) / 2 ** 20)} MiB, innodb_flush_log_at_trx_commit ${String(x['fl'])})`;
    },
    dbUrl: () => url,
    async fetchAfter(table, after, limit) {
      try {
        const [r] = await conn.query<mysql.RowDataPacket[]>(`SELECT id, micro_ts FROM ${q(table)} WHERE id > ? ORDER BY id LIMIT ?`, [after, limit]);
        return r.map((x) => [Number(x['id']), Number(x['micro_ts'])]);
      } catch (err) {
        if (isMissingTable(err)) return [];
        throw err;
      }
    },
    async count(table) {
      try {
        const [r] = await conn.query<mysql.RowDataPacket[]>(`SELECT count(*) AS n FROM ${q(table)}`);
        return Number(r[0]!['n']);
      } catch (err) {
        if (isMissingTable(err)) return 0;
        throw err;
      }
    },
    async maxId(table) {
      try {
        const [r] = await conn.query<mysql.RowDataPacket[]>(`SELECT max(id) AS m FROM ${q(table)}`);
        return Number(r[0]?.['m'] ?? 0);
      } catch (err) {
        if (isMissingTable(err)) return 0;
        throw err;
      }
    },
    async dropTable(table) {
      await conn.query(`DROP TABLE IF EXISTS ${q(table)}`);
    },
    serverPids: () => pidsByComm(['mariadbd', 'mysqld']),
    // The poller's queries run on a thread of the same server process: they are included.
    ownPids: () => new Set<number>(),
    async ceilings(rows, table, rounds) {
      const results: Ceiling[] = [];
      const creator = await createMysqlStore(url, { poolSize: 1 });
      const one = `(${SIP_CAPTURE_COLUMNS.map(() => '?').join(',')})`;
      const perStatement = 500;
      const perTxn = 5000;
      try {
        for (let round = 0; round < rounds; round++) {
          const bareTable = `${table}_bare${round}`;
          await creator.ensureTable(bareTable, 'sip');
          const bare = await mysql.createConnection({ uri: url, charset: 'utf8mb4_general_ci' });
          const head = `INSERT INTO ${q(bareTable)} (${SIP_CAPTURE_COLUMNS.map((c) => `\`${c}\``).join(',')}) VALUES `;
          const params: (string | number | Buffer)[][] = [];
          for (let i = 0; i < rows.length; i += perStatement) {
            const p: (string | number | Buffer)[] = [];
            for (const r of rows.slice(i, i + perStatement)) for (const c of SIP_CAPTURE_COLUMNS) p.push(r[c]);
            params.push(p);
          }
          try {
            const rate = await timed(rows.length, async () => {
              for (let s = 0; s < params.length; s++) {
                if ((s * perStatement) % perTxn === 0) await bare.beginTransaction();
                const p = params[s]!;
                await bare.execute(head + Array.from({ length: p.length / SIP_CAPTURE_COLUMNS.length }, () => one).join(','), p);
                if (((s + 1) * perStatement) % perTxn === 0 || s === params.length - 1) await bare.commit();
              }
            });
            results.push({ name: 'bare multi-row INSERT (mysql2 execute)', rows: rows.length, rowsPerSec: rate, batching: `${perStatement} rows/INSERT, ${perTxn} rows/transaction` });
          } finally {
            await bare.end();
            await conn.query(`DROP TABLE IF EXISTS ${q(bareTable)}`);
          }
          const storeTable = `${table}_store${round}`;
          const store = await createMysqlStore(url, { poolSize: 1 });
          try {
            const rate = await storeCeiling(store, storeTable, rows);
            results.push({ name: "store INSERT (the daemon's MysqlStore)", rows: rows.length, rowsPerSec: rate, batching: `${STORE_BATCH} rows/batch, sequential` });
          } finally {
            await store.close();
            await conn.query(`DROP TABLE IF EXISTS ${q(storeTable)}`);
          }
        }
      } finally {
        await creator.close();
      }
      return best(results);
    },
    async close() {
      await conn.end();
    },
  };
}

// ---- SQLite ----

export function sqliteBackend(dir: string): BenchBackend {
  const file = (table: string): string => path.join(dir, `${table}.sqlite`);
  const readers = new Map<string, Database.Database>();
  const reader = (table: string): Database.Database | null => {
    let db = readers.get(table);
    if (db === undefined) {
      if (!existsSync(file(table))) return null;
      db = new Database(file(table), { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 1000');
      readers.set(table, db);
    }
    return db;
  };
  const closeReader = (table: string): void => {
    readers.get(table)?.close();
    readers.delete(table);
  };
  return {
    name: 'sqlite',
    describe: () => Promise.resolve(`SQLite ${new Database(':memory:').prepare('SELECT sqlite_version() AS v').pluck().get() as string} (better-sqlite3, WAL, synchronous=NORMAL, in the daemon's worker thread)`),
    dbUrl: (table) => `sqlite://${file(table)}`,
    fetchAfter(table, after, limit) {
      const db = reader(table);
      if (db === null) return Promise.resolve([]);
      try {
        const rows = db.prepare(`SELECT id, micro_ts FROM "${table}" WHERE id > ? ORDER BY id LIMIT ?`).raw().all(after, limit) as [number, number][];
        return Promise.resolve(rows);
      } catch (err) {
        if (isMissingTable(err)) return Promise.resolve([]);
        throw err;
      }
    },
    count(table) {
      const db = reader(table);
      if (db === null) return Promise.resolve(0);
      try {
        return Promise.resolve(db.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number);
      } catch (err) {
        if (isMissingTable(err)) return Promise.resolve(0);
        throw err;
      }
    },
    maxId(table) {
      const db = reader(table);
      if (db === null) return Promise.resolve(0);
      try {
        return Promise.resolve((db.prepare(`SELECT max(id) FROM "${table}"`).pluck().get() as number | null) ?? 0);
      } catch (err) {
        if (isMissingTable(err)) return Promise.resolve(0);
        throw err;
      }
    },
    dropTable(table) {
      closeReader(table);
      // One file per step: deleting it is the SQLite "drop".
      for (const suffix of ['', '-wal', '-shm']) rmSync(file(table) + suffix, { force: true });
      return Promise.resolve();
    },
    serverPids: () => [],
    ownPids: () => new Set<number>(),
    async ceilings(rows, table, rounds) {
      const results: Ceiling[] = [];
      const tpl = await loadSchemaTemplate('sqlite');
      const w = SIP_CAPTURE_COLUMNS.length;
      for (let round = 0; round < rounds; round++) {
        const bareFile = path.join(dir, `${table}_bare${round}.sqlite`);
        const db = new Database(bareFile);
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('cache_size = -32768');
        for (const sql of renderTableStatements(tpl, 'sip', { table })) db.exec(sql);
        const insert = db.prepare(`INSERT INTO "${table}" (${SIP_CAPTURE_COLUMNS.join(',')}) VALUES (${SIP_CAPTURE_COLUMNS.map(() => '?').join(',')})`);
        const p = new Array<string | number | Buffer>(w);
        const batch = db.transaction((part: readonly SipCaptureRow[]) => {
          for (const r of part) {
            for (let c = 0; c < w; c++) p[c] = r[SIP_CAPTURE_COLUMNS[c]!];
            insert.run(p);
          }
        });
        const rate = await timed(rows.length, () => {
          for (let i = 0; i < rows.length; i += STORE_BATCH) batch(rows.slice(i, i + STORE_BATCH));
          return Promise.resolve();
        });
        db.close();
        for (const suffix of ['', '-wal', '-shm']) rmSync(bareFile + suffix, { force: true });
        results.push({ name: 'bare better-sqlite3 (main thread)', rows: rows.length, rowsPerSec: rate, batching: `1 row/INSERT, ${STORE_BATCH} rows/transaction` });
        const storeFile = path.join(dir, `${table}_store${round}.sqlite`);
        const store = await SqliteStore.open(`sqlite://${storeFile}`);
        try {
          const r = await storeCeiling(store, table, rows);
          results.push({ name: "store (the daemon's SqliteStore, worker thread)", rows: rows.length, rowsPerSec: r, batching: `${STORE_BATCH} rows/transaction, sequential` });
        } finally {
          await store.close();
          for (const suffix of ['', '-wal', '-shm']) rmSync(storeFile + suffix, { force: true });
        }
      }
      return best(results);
    },
    close() {
      for (const t of [...readers.keys()]) closeReader(t);
      return Promise.resolve();
    },
  };
}
