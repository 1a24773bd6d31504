/**
 * What retention asks of a database, per backend: its tables (with their partition parent and
 * bound on PostgreSQL), sizes, a lock every daemon sharing the database respects, and DROP TABLE.
 * PostgreSQL and MySQL hold the lock on the session (pg_try_advisory_lock, GET_LOCK), so a daemon
 * that dies releases it. SQLite needs none: each DROP TABLE IF EXISTS is its own transaction and
 * a second pruner finds the table already gone.
 */
import { statfsSync } from 'node:fs';
import path from 'node:path';
import { sqliteFilePath } from '../../config/db-url.js';
import { dbUrlKind, maskPasswords } from '../../config/db-url.js';

export interface ListedTable {
  name: string;
  /** PostgreSQL: the partitioned table this one is a partition of, and its bound as pg_get_expr prints it (UTC). */
  parent?: string;
  bound?: string;
}

export interface RetentionDb {
  readonly displayUrl: string;
  listTables(): Promise<ListedTable[]>;
  /** Bytes of one table with its indexes (an estimate where the backend only has statistics). */
  tableBytes(name: string): Promise<number>;
  /** Bytes the database uses (SQLite: pages in use, not the file, which never shrinks by itself). */
  usedBytes(): Promise<number>;
  /** SQLite: free space on its file system plus its own free pages; null for servers (their disk is not visible). */
  freeBytes(): Promise<number | null>;
  /** Takes the retention lock of this database; false when another daemon holds it. */
  tryLock(): Promise<boolean>;
  drop(name: string): Promise<void>;
  close(): Promise<void>;
}

const LOCK_NAME = 'sipcapture:retention';

function quotePg(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function openPostgres(url: string): Promise<RetentionDb> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, application_name: 'sipcapture retention', statement_timeout: 300_000 });
  client.on('error', () => {});
  await client.connect();
  // Bounds printed in UTC; a DROP waiting for a busy parent gives up instead of stalling its inserts.
  await client.query("SET TIME ZONE 'UTC'; SET lock_timeout = '10s'");
  return {
    displayUrl: maskPasswords(url),
    async listTables() {
      const r = await client.query<{ name: string; parent: string | null; bound: string | null }>(
        `SELECT c.relname AS name, p.relname AS parent, pg_get_expr(c.relpartbound, c.oid) AS bound
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
          WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')`,
      );
      return r.rows.map((x) => ({ name: x.name, ...(x.parent === null ? {} : { parent: x.parent }), ...(x.bound === null ? {} : { bound: x.bound }) }));
    },
    async tableBytes(name) {
      const r = await client.query<{ b: string | null }>('SELECT pg_total_relation_size(to_regclass($1))::text AS b', [quotePg(name)]);
      return Number(r.rows[0]?.b ?? 0);
    },
    async usedBytes() {
      const r = await client.query<{ b: string }>('SELECT pg_database_size(current_database())::text AS b');
      return Number(r.rows[0]!.b);
    },
    freeBytes: () => Promise.resolve(null),
    async tryLock() {
      const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [LOCK_NAME]);
      return r.rows[0]?.ok === true;
    },
    async drop(name) {
      await client.query(`DROP TABLE IF EXISTS ${quotePg(name)}`);
    },
    async close() {
      await client.end().catch(() => {});
    },
  };
}

async function openMysql(url: string): Promise<RetentionDb> {
  const { default: mysql } = await import('mysql2/promise');
  const conn = await mysql.createConnection({ uri: url.replace(/^mariadb:/i, 'mysql:') });
  conn.on('error', () => {});
  const q = (name: string): string => `\`${name.replaceAll('`', '``')}\``;
  return {
    displayUrl: maskPasswords(url),
    async listTables() {
      const [rows] = await conn.query("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'");
      return (rows as { name: string }[]).map((r) => ({ name: r.name }));
    },
    async tableBytes(name) {
      const [rows] = await conn.query('SELECT COALESCE(data_length + index_length, 0) AS b FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?', [name]);
      return Number((rows as { b: number | string }[])[0]?.b ?? 0);
    },
    async usedBytes() {
      const [rows] = await conn.query('SELECT COALESCE(SUM(data_length + index_length), 0) AS b FROM information_schema.tables WHERE table_schema = DATABASE()');
      return Number((rows as { b: number | string }[])[0]?.b ?? 0);
    },
    freeBytes: () => Promise.resolve(null),
    async tryLock() {
      const [rows] = await conn.query('SELECT GET_LOCK(CONCAT(?, DATABASE()), 0) AS ok', [`${LOCK_NAME}:`]);
      return Number((rows as { ok: number | null }[])[0]?.ok) === 1;
    },
    async drop(name) {
      await conn.query(`DROP TABLE IF EXISTS ${q(name)}`);
    },
    async close() {
      await conn.end().catch(() => {});
    },
  };
}

/**
 * SQLite, on the main thread: a DROP TABLE walks the table's pages (about a second for a
 * gigabyte), once per dropped table and run; the UDP receive threads keep reading meanwhile.
 */
async function openSqlite(url: string): Promise<RetentionDb> {
  const { default: Database } = await import('better-sqlite3');
  const file = sqliteFilePath(url);
  const db = new Database(file, { fileMustExist: true, timeout: 10_000 });
  const pragma = (p: string): number => Number(db.pragma(p, { simple: true }));
  const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;
  let hasDbstat: boolean | undefined;
  return {
    displayUrl: maskPasswords(url),
    listTables() {
      const rows = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
      return Promise.resolve(rows);
    },
    tableBytes(name) {
      if (hasDbstat === undefined) {
        try {
          db.prepare('SELECT 1 FROM dbstat LIMIT 1').get();
          hasDbstat = true;
        } catch {
          hasDbstat = false;
        }
      }
      if (!hasDbstat) return Promise.resolve(0);
      const r = db.prepare('SELECT COALESCE(SUM(pgsize), 0) AS b FROM dbstat WHERE name IN (SELECT name FROM sqlite_master WHERE tbl_name = ?)').get(name) as { b: number };
      return Promise.resolve(r.b);
    },
    usedBytes() {
      return Promise.resolve((pragma('page_count') - pragma('freelist_count')) * pragma('page_size'));
    },
    freeBytes() {
      const s = statfsSync(path.dirname(file));
      return Promise.resolve(s.bavail * s.bsize + pragma('freelist_count') * pragma('page_size'));
    },
    tryLock: () => Promise.resolve(true),
    drop(name) {
      db.prepare(`DROP TABLE IF EXISTS ${q(name)}`).run();
      return Promise.resolve();
    },
    close() {
      db.close();
      return Promise.resolve();
    },
  };
}

export async function openRetentionDb(url: string): Promise<RetentionDb> {
  const kind = dbUrlKind(url);
  if (kind === 'postgres') return openPostgres(url);
  if (kind === 'mysql') return openMysql(url);
  if (kind === 'sqlite') return openSqlite(url);
  throw new Error(`retention: unsupported db_url ${maskPasswords(url)}`);
}
