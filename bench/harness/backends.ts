/**
 * The three databases as the throughput benchmark sees them: the daemon's db_url, a reader for
 * the latency poller (`id, micro_ts` of rows above an id), row counts, the server processes
 * whose CPU is measured, and the same-run ceilings: a bare client writing the same rows as fast
 * as it can (PostgreSQL: COPY via pg-copy-streams; MariaDB: prepared multi-row INSERT;
 * SQLite: better-sqlite3 on the main thread), and the daemon's own Store used directly (no
 * receive path, no parsing) — what the store could do if storing were all the daemon did.
 * PostgreSQL also as a `schema: homer7` daemon sees it: hep_proto_* tables in a schema per step,
 * read by create_date slices (latency.ts SampledLatencyPoller) instead of by id.
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
import { createHomer7Store, partitionMinutesProblem } from '../../src/store/homer7/index.js';
import { HOMER7_PARENTS, isSipParent } from '../../src/store/homer7/row.js';
import { partitionName, partitionStartUs } from '../../src/store/homer7/schema.js';
import { pidsByComm } from './proc.js';

export type BackendName = 'sqlite' | 'postgres' | 'mysql';

export interface Ceiling {
  name: string;
  rows: number;
  rowsPerSec: number;
  /** Rows per COPY / statement / transaction, in words. */
  batching: string;
}

interface BackendCommon {
  readonly name: BackendName;
  /** Short label of the server for the report (version). */
  describe(): Promise<string>;
  /** db_url for a daemon writing `table` (SQLite: one file per table; HOMER 7: the schema of that name). */
  dbUrl(table: string): string;
  count(table: string): Promise<number>;
  dropTable(table: string): Promise<void>;
  /** The server's processes (empty for SQLite, which runs inside the daemon). */
  serverPids(): number[];
  /** Server processes working for the benchmark itself (the poller's connection), left out of the DB CPU. */
  ownPids(): ReadonlySet<number>;
  ceilings(rows: readonly SipCaptureRow[], table: string, rounds: number): Promise<Ceiling[]>;
  close(): Promise<void>;
}

/** A daemon writing Homer 5 tables: one table per step, rows followed by id. */
export interface Homer5Backend extends BackendCommon {
  readonly schema: 'homer5';
  /** Rows with id > `after`, ascending, at most `limit`: [id, micro_ts]. Empty while the table does not exist. */
  fetchAfter(table: string, after: number, limit: number): Promise<[number, number][]>;
  /** Highest id in the table (0 when empty or missing). */
  maxId(table: string): Promise<number>;
}

/** A daemon writing HOMER 7 tables (`schema: homer7`, PostgreSQL): one PostgreSQL schema per step. */
export interface Homer7Backend extends BackendCommon {
  readonly schema: 'homer7';
  /** Creates the step's schema with the parents and today's and tomorrow's partitions (what `db init` does). */
  prepare(table: string): Promise<void>;
  /** SIP rows with create_date in one of the slices, from the partitions holding them (latency.ts FetchSlices). */
  fetchSlices(table: string, startsUs: readonly number[], widthUs: number): Promise<[string, number][]>;
}

export type BenchBackend = Homer5Backend | Homer7Backend;

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

/** The benchmark's own connection, and its backend pid (not counted in the database's CPU). */
async function connectPg(url: string): Promise<{ client: pg.Client; own: Set<number> }> {
  const client = new pg.Client({ connectionString: url, application_name: 'sipcapture-bench' });
  await client.connect();
  const pidRes = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return { client, own: new Set([pidRes.rows[0]!.pid]) };
}

/** The server's version and the settings that decide its write speed. */
async function describePg(client: pg.Client): Promise<string> {
  const r = await client.query<{ v: string; sb: string; sc: string }>(
    "SELECT current_setting('server_version') AS v, current_setting('shared_buffers') AS sb, current_setting('synchronous_commit') AS sc",
  );
  const x = r.rows[0]!;
  return `PostgreSQL ${x.v} (shared_buffers ${x.sb}, synchronous_commit ${x.sc})`;
}


export async function postgresBackend(url: string): Promise<Homer5Backend> {
  const { client, own } = await connectPg(url);
  const q = (t: string): string => `"${t.toLowerCase()}"`;
  return {
    name: 'postgres',
    schema: 'homer5',
    async describe() {
      return describePg(client);
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

// ---- PostgreSQL, HOMER 7 tables ----

/** The parents SIP lands in; the load generator sends nothing else (no RTCP, reports or logs). */
const SIP_PARENTS = HOMER7_PARENTS.filter(isSipParent);

/** `url` with the search_path set to `schema` (added to the URL's own options, if any). */
export function urlInSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `${u.searchParams.get('options') ?? ''} -c search_path=${schema}`.trim());
  return u.toString();
}

/**
 * A daemon with `schema: homer7` on PostgreSQL. Each step's "table" is a PostgreSQL schema of that
 * name (the daemon's db_url sets its search_path), so every step has its own parents and
 * partitions and a DROP SCHEMA removes them. `partitionMinutes` must be the daemon's
 * homer7_partition_minutes: the latency poller reads the partitions by name.
 */
export async function postgresHomer7Backend(url: string, partitionMinutes = 120): Promise<Homer7Backend> {
  const problem = partitionMinutesProblem(partitionMinutes);
  if (problem !== undefined) throw new RangeError(`homer7_partition_minutes ${partitionMinutes}: ${problem}`);
  const { client, own } = await connectPg(url);
  // PostgreSQL 15 JIT-compiles the slice query by its cost estimate: ~1 s for a 10 ms query.
  await client.query('SET jit = off');
  const q = (t: string): string => `"${t.toLowerCase()}"`;
  const prepare = async (schema: string): Promise<void> => {
    await client.query(`DROP SCHEMA IF EXISTS ${q(schema)} CASCADE`);
    await client.query(`CREATE SCHEMA ${q(schema)}`);
    const store = await createHomer7Store(urlInSchema(url, schema.toLowerCase()), { poolSize: 1, aheadIntervalMs: 0, partitionMinutes });
    try {
      await store.ensureAhead();
    } finally {
      await store.close();
    }
  };
  return {
    name: 'postgres',
    schema: 'homer7',
    async describe() {
      return `${await describePg(client)}, HOMER 7 tables (${partitionMinutes}-minute partitions)`;
    },
    dbUrl: (schema) => urlInSchema(url, schema.toLowerCase()),
    prepare,
    async fetchSlices(schema, startsUs, widthUs) {
      // One subquery per partition, not one on the parent: planning against a parent of 24
      // partitions took 10-40 ms here, against one partition under 1 ms.
      const byLeaf = new Map<string, number[]>();
      const add = (leaf: string, us: number): void => {
        const list = byLeaf.get(leaf);
        if (list === undefined) byLeaf.set(leaf, [us]);
        else list.push(us);
      };
      for (const us of startsUs) {
        for (const p of SIP_PARENTS) {
          const first = partitionName(p, partitionStartUs(us, partitionMinutes));
          const last = partitionName(p, partitionStartUs(us + widthUs - 1, partitionMinutes));
          add(first, us);
          if (last !== first) add(last, us);
        }
      }
      if (byLeaf.size === 0) return [];
      const params: (string | string[])[] = [String(widthUs)];
      const parts: string[] = [];
      for (const [leaf, starts] of byLeaf) {
        params.push(starts.map(String));
        parts.push(
          `SELECT '${leaf}' AS p, h.id::text AS id, (extract(epoch FROM h.create_date) * 1000000)::bigint::text AS us ` +
            `FROM unnest($${params.length}::bigint[]) s(us) CROSS JOIN LATERAL (SELECT id, create_date FROM ${q(schema)}.${leaf} ` +
            `WHERE create_date >= 'epoch'::timestamptz + s.us * interval '1 microsecond' ` +
            `AND create_date < 'epoch'::timestamptz + (s.us + $1::bigint) * interval '1 microsecond') h`,
        );
      }
      try {
        const r = await client.query<{ p: string; id: string; us: string }>(parts.join(' UNION ALL '), params);
        return r.rows.map((x) => [`${x.p}:${x.id}`, Number(x.us)]);
      } catch (err) {
        if (isMissingTable(err)) return [];
        throw err;
      }
    },
    async count(schema) {
      try {
        const r = await client.query<{ n: string }>(`SELECT ${HOMER7_PARENTS.map((p) => `(SELECT count(*) FROM ${q(schema)}.${p})`).join(' + ')} AS n`);
        return Number(r.rows[0]!.n);
      } catch (err) {
        if (isMissingTable(err)) return 0;
        throw err;
      }
    },
    async dropTable(schema) {
      await client.query(`DROP SCHEMA IF EXISTS ${q(schema)} CASCADE`);
    },
    serverPids: () => pidsByComm(['postgres', 'postmaster']),
    ownPids: () => own,
    async ceilings(rows, table, rounds) {
      // The store alone only: a bare heplify-server-style client is in bench/micro/homer7.bench.ts.
      const results: Ceiling[] = [];
      for (let round = 0; round < rounds; round++) {
        const schema = `${table}_h7store${round}`;
        await prepare(schema);
        await client.query('CHECKPOINT').catch(() => undefined);
        const store = await createHomer7Store(urlInSchema(url, schema.toLowerCase()), { aheadIntervalMs: 0, partitionMinutes });
        try {
          const rate = await storeCeiling(store, 'sip_capture', rows);
          results.push({ name: "store COPY (the daemon's HOMER 7 store)", rows: rows.length, rowsPerSec: rate, batching: `${STORE_BATCH} rows/transaction, one binary COPY per parent, sequential` });
        } finally {
          await store.close();
          await client.query(`DROP SCHEMA IF EXISTS ${q(schema)} CASCADE`);
        }
      }
      return best(results);
    },
    async close() {
      await client.end();
    },
  };
}

// ---- MySQL / MariaDB ----

export async function mysqlBackend(url: string): Promise<Homer5Backend> {
  const conn = await mysql.createConnection({ uri: url, supportBigNumbers: true, bigNumberStrings: false, charset: 'utf8mb4_general_ci' });
  const q = (t: string): string => `\`${t}\``;
  return {
    name: 'mysql',
    schema: 'homer5',
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

export function sqliteBackend(dir: string): Homer5Backend {
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
    schema: 'homer5',
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
