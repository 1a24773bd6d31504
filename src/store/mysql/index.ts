/**
 * MySQL 8 / MariaDB backend (mysql2/promise): a batch is one transaction holding multi-row
 * INSERTs of up to `rowsPerStatement` rows (or one LOAD DATA LOCAL INFILE), so on InnoDB it is
 * all or nothing. Values pass through values.ts first (same rules as PostgreSQL, so both
 * backends store identical rows); `msg` goes to a blob byte for byte. Identifiers are
 * backtick-quoted after validation.
 *
 * db_insert_mode (spec §6.1): 1 → `INSERT DELAYED` only for tables whose engine supports it
 * (MyISAM, Aria, MEMORY, ARCHIVE on MariaDB); InnoDB rejects DELAYED and MySQL 8 ignores it, so
 * those get a plain INSERT. 2 (Kamailio's async insert) → plain INSERT here; the writer keeps
 * several batches in flight over the pool instead, and unlike Kamailio's async mode no error is
 * lost.
 *
 * A lost COMMIT answer (connection cut just then) is decidable: the first auto-increment id of
 * the batch's last statement is known before COMMIT, and InnoDB never hands out an id twice, so
 * the error carries `commitToken` and `wasCommitted()` looks that id up instead of guessing.
 */
import { rowOf } from '../encoded-row.js';
import { Readable } from 'node:stream';
import mysql from 'mysql2/promise';
import type { TableKind } from '../../capture/rows.js';
import { SPOOL_DONE_MAX_AGE_S, SPOOL_DONE_TABLE, isEncodingError, type ReplayMark, type RowBatch, type Store } from '../store.js';
import { maskPasswords } from '../../config/db-url.js';
import { assertValidTableName } from '../../route/table-name.js';
import { COLUMN_WIDTHS, layoutOf, sameLimits, type ColumnLimits, type TableLayout } from '../columns.js';
import { loadSchemaTemplate, renderTableStatements, type SchemaTemplate } from '../schema-template.js';
import { SqlTables, type TableChange } from '../sql-tables.js';
import { addCounters, newCounters, prepareRow, type CountingStore, type PreparedValue, type ValueCounters } from '../values.js';

/**
 * How a batch is sent. 'execute': server-side prepared multi-row INSERT (binary protocol, msg
 * sent raw). 'query': multi-row INSERT text with client-side escaping. 'load-data': LOAD DATA
 * LOCAL INFILE from memory (needs server local_infile=1; falls back to 'execute' when refused).
 */
export type MysqlInsertMethod = 'execute' | 'query' | 'load-data';

export interface MysqlStoreOptions {
  /** Connections in the pool (default 2). */
  poolSize?: number;
  /** Kamailio's db_insert_mode: 1 = INSERT DELAYED where the table's engine supports it. */
  dbInsertMode?: number;
  /**
   * Default 'execute'. 'load-data' measured no faster on the 9-index Homer table (the server is
   * the bottleneck; bench/micro/store.bench.ts) but uses ~25 % less client CPU; it needs server
   * local_infile=1 and falls back to 'execute' when refused.
   */
  method?: MysqlInsertMethod;
  /** Rows per INSERT statement (default 500; 'execute' caps it so placeholders stay < 65535). */
  rowsPerStatement?: number;
  /** TCP connect timeout, ms (default 5000). */
  connectTimeoutMs?: number;
  /** Marker table of replayed spool records (default SPOOL_DONE_TABLE; tests use their own). */
  spoolDoneTable?: string;
  /**
   * A batch not committed after this long is abandoned and its connection destroyed, ms
   * (default 60000). The server rolls back an open transaction when it sees the connection go;
   * only a timeout while waiting for COMMIT's answer leaves the outcome unknown (a retry may then
   * duplicate that one batch).
   */
  insertTimeoutMs?: number;
  /** Schema template file (default sql/mysql/schema.sql of this package). */
  schemaFile?: string;
  /** Width overrides (characters) for tables whose widths cannot be read from the catalog. */
  limits?: Readonly<Record<string, number>>;
  /** Read the real column widths of each table from information_schema (default true). */
  detectWidths?: boolean;
}

export interface MysqlStore extends Store, CountingStore {
  readonly backend: 'mysql';
  /** The method actually in use (after a possible LOAD DATA fallback). */
  readonly method: MysqlInsertMethod;
}

interface TableInfo {
  limits: ColumnLimits;
  delayed: boolean;
}

const LOCAL_INFILE_REFUSED = new Set([
  'ER_NOT_ALLOWED_COMMAND',
  'ER_LOAD_INFILE_CAPABILITY_DISABLED',
  'ER_CLIENT_LOCAL_FILES_DISABLED',
]);
const LOAD_DATA_INCOMPLETE = 'SIPCAPTURE_LOAD_DATA_INCOMPLETE';
const DELAYED_ENGINES = new Set(['myisam', 'aria', 'memory', 'archive']);
const TEXT_TYPES = new Set(['varchar', 'char', 'tinytext', 'text', 'mediumtext', 'longtext']);
// MySQL prepared statements take at most 65535 placeholders.
const MAX_PLACEHOLDERS = 65_535;

function quoteIdent(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/** Accepts mysql://, mariadb:// and Kamailio-style URLs; mysql2 reads host, port, user, password, database. */
function toMysql2Uri(url: string): string {
  return url.replace(/^mariadb:/i, 'mysql:');
}

// ---- LOAD DATA encoding: one latin1 string per chunk, i.e. the exact bytes ----

const LD_SPECIAL = /[\\\t\n\0]/;
const LD_SPECIAL_G = /[\\\t\n\0]/g;
const LD_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\0': '\\0' };
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

/** A field for LOAD DATA: its UTF-8 (text) or raw (msg) bytes as a latin1 string, escaped. */
function ldField(v: PreparedValue): string {
  let s: string;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') s = NON_ASCII.test(v) ? Buffer.from(v, 'utf8').toString('latin1') : v;
  else s = v.toString('latin1');
  return LD_SPECIAL.test(s) ? s.replace(LD_SPECIAL_G, (ch) => LD_ESCAPES[ch]!) : s;
}

function ldRow(values: readonly PreparedValue[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) line += (i > 0 ? '\t' : '') + ldField(values[i]!);
  return line + '\n';
}

const LD_CHUNK = 256 * 1024;
const ABANDONED = 'insert given up: the daemon is stopping and the database does not answer';

/** An error the server sent (it has an SQLSTATE), as opposed to a connection or client error. */
function isServerError(err: unknown): boolean {
  const e = err as { sqlState?: unknown; fatal?: unknown } | null;
  return typeof e?.sqlState === 'string' && /^[0-9A-Z]{5}$/.test(e.sqlState) && e.fatal !== true;
}

/** MySQL / MariaDB errors caused by the rows: a SIGNAL from a trigger, or these error numbers. */
const MYSQL_ROW_ERRNOS = new Set([
  1048, // ER_BAD_NULL_ERROR
  1062, // ER_DUP_ENTRY
  1264, // ER_WARN_DATA_OUT_OF_RANGE
  1292, // ER_TRUNCATED_WRONG_VALUE
  1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
  1406, // ER_DATA_TOO_LONG
  1452, // ER_NO_REFERENCED_ROW_2
  1644, // ER_SIGNAL_EXCEPTION
  3819, // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
  4025, // ER_CONSTRAINT_FAILED (MariaDB)
]);

/**
 * Row errors: data (SQLSTATE class 22) and constraint (class 23) errors, a trigger's SIGNAL, the
 * numbers above, and values our encoder cannot represent. Everything else (connection, lock
 * wait, deadlock, disk full, read-only) is the database's.
 */
export function isMysqlRowError(err: unknown): boolean {
  if (isEncodingError(err)) return true;
  if (!isServerError(err)) return false;
  const e = err as { sqlState: string; errno?: unknown };
  if (typeof e.errno === 'number' && MYSQL_ROW_ERRNOS.has(e.errno)) return true;
  // 40001 (deadlock) and HY000 (many server states) stay database errors.
  return e.sqlState.startsWith('22') || e.sqlState.startsWith('23') || e.sqlState === '45000';
}

/**
 * What a MySQL / MariaDB error says about the table: dropped, altered (an unknown column), or a
 * value too long for a column whose width was read before (ER_DATA_TOO_LONG: it may have been
 * narrowed since).
 */
export function mysqlTableChange(err: unknown): TableChange {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ER_NO_SUCH_TABLE') return 'missing';
  if (code === 'ER_BAD_FIELD_ERROR') return 'columns';
  if (code === 'ER_DATA_TOO_LONG') return 'width';
  return null;
}

function withCommitToken(err: unknown, token: string | undefined): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  return token === undefined ? e : Object.assign(e, { commitToken: token });
}

/**
 * Rows in the next prepared INSERT when `left` rows remain: the largest power of two that fits
 * both. mysql2 keeps every prepared statement per connection with one column definition per
 * placeholder (~4 MiB for 500 rows of 44 columns), so an INSERT shape per batch size would keep
 * hundreds of MiB; powers of two give at most ~9 shapes per table.
 */
export function preparedShape(left: number, perStmt: number): number {
  let size = 1;
  while (size * 2 <= left && size * 2 <= perStmt) size *= 2;
  return size;
}

export async function createMysqlStore(url: string, opts: MysqlStoreOptions = {}): Promise<MysqlStore> {
  const template: SchemaTemplate = await loadSchemaTemplate('mysql', opts.schemaFile);
  let method: MysqlInsertMethod = opts.method ?? 'execute';
  const pool = mysql.createPool({
    uri: toMysql2Uri(url),
    connectionLimit: opts.poolSize ?? 2,
    waitForConnections: true,
    queueLimit: 0,
    connectTimeout: opts.connectTimeoutMs ?? 5000,
    enableKeepAlive: true,
    charset: 'utf8mb4_general_ci',
    dateStrings: true,
    supportBigNumbers: true,
    multipleStatements: false,
    maxPreparedStatements: 32,
    // Only asked for when used: LOCAL INFILE is a capability the client must opt into.
    ...(method === 'load-data' ? { flags: ['+LOCAL_FILES'] } : {}),
  });
  const counters = newCounters();
  const delayedWanted = opts.dbInsertMode === 1;
  const defaultLimits: ColumnLimits = new Map(Object.entries({ ...COLUMN_WIDTHS, ...(opts.limits ?? {}) }));
  const insertTimeoutMs = opts.insertTimeoutMs ?? 60_000;
  let isMariaDb: boolean | undefined;
  let closed = false;
  /** How to give up each insert in flight (Store.abandon). */
  const inFlight = new Set<() => void>();
  let abandoned = false;
  const doneName = opts.spoolDoneTable ?? SPOOL_DONE_TABLE;
  assertValidTableName(doneName);
  const doneTable = quoteIdent(doneName);

  /**
   * Creates the marker table of replayed spool records once (InnoDB: it must commit or roll
   * back with the rows), and prunes markers of old runs.
   */
  function ensureDoneTable(): Promise<void> {
    return tables.once(`\0${doneName}`, async () => {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${doneTable} (spool_id varchar(32) NOT NULL, record varchar(48) NOT NULL, ` +
          `piece varchar(48) NOT NULL, created bigint NOT NULL, PRIMARY KEY (spool_id, record, piece)) ENGINE=InnoDB DEFAULT CHARSET=ascii`,
      );
      await pool.query(`DELETE FROM ${doneTable} WHERE created < ?`, [Math.floor(Date.now() / 1000) - SPOOL_DONE_MAX_AGE_S]);
    });
  }

  /** The marker row of a replayed record, in the batch's transaction; older markers of that spool go. */
  async function writeMark(conn: mysql.PoolConnection, mark: ReplayMark): Promise<void> {
    await conn.query(`INSERT INTO ${doneTable} (spool_id, record, piece, created) VALUES (?, ?, ?, ?)`, [
      mark.spool,
      mark.record,
      mark.piece,
      Math.floor(Date.now() / 1000),
    ]);
    await conn.query(`DELETE FROM ${doneTable} WHERE spool_id = ? AND record <> ?`, [mark.spool, mark.record]);
  }

  async function serverIsMariaDb(): Promise<boolean> {
    if (isMariaDb === undefined) {
      const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
      isMariaDb = /mariadb/i.test(String(rows[0]?.['v'] ?? ''));
    }
    return isMariaDb;
  }

  let backslashOk: boolean | undefined;
  async function backslashEscapesOn(conn: mysql.PoolConnection): Promise<boolean> {
    if (backslashOk === undefined) {
      const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT @@SESSION.sql_mode AS m');
      backslashOk = !/NO_BACKSLASH_ESCAPES/i.test(String(rows[0]?.['m'] ?? ''));
    }
    return backslashOk;
  }

  async function describe(name: string, kind: TableKind): Promise<TableInfo | undefined> {
    const [cols] = await pool.query<mysql.RowDataPacket[]>(
      `SELECT COLUMN_NAME AS name, DATA_TYPE AS type, CHARACTER_MAXIMUM_LENGTH AS chars, CHARACTER_OCTET_LENGTH AS bytes
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`,
      [name],
    );
    if (cols.length === 0) return undefined;
    const layout = layoutOf(kind);
    const byName = new Map(cols.map((c) => [String(c['name']), c]));
    const missing = layout.columns.filter((c) => !byName.has(c));
    if (missing.length > 0) {
      throw new Error(`table ${name} exists but lacks column(s) ${missing.join(', ')}; it is not a sipcapture/Homer 5 table`);
    }
    const limits = new Map<string, number>();
    for (const c of layout.columns) {
      if (c === 'msg' || c === 'date' || layout.ints.has(c)) continue;
      const col = byName.get(c)!;
      const type = String(col['type']).toLowerCase();
      if (opts.detectWidths === false || !TEXT_TYPES.has(type)) {
        const w = defaultLimits.get(c);
        if (w !== undefined) limits.set(c, w);
      } else if (type === 'varchar' || type === 'char') {
        limits.set(c, Number(col['chars']));
      } else {
        // TEXT limits are bytes: 4 bytes per character is the utf8mb4 worst case.
        limits.set(c, Math.floor(Number(col['bytes']) / 4));
      }
    }
    let delayed = false;
    if (delayedWanted) {
      const [t] = await pool.query<mysql.RowDataPacket[]>(
        'SELECT ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
        [name],
      );
      const engine = String(t[0]?.['engine'] ?? '').toLowerCase();
      delayed = DELAYED_ENGINES.has(engine) && (await serverIsMariaDb());
    }
    return { limits, delayed };
  }

  async function createTable(name: string, kind: TableKind): Promise<void> {
    // CREATE TABLE … IF NOT EXISTS with inline keys is atomic: no race between creators, and an
    // existing table (e.g. a stock Homer 5 one) is left untouched.
    for (const s of renderTableStatements(template, kind, { table: name })) await pool.query(s);
  }

  const tables = new SqlTables<TableInfo>({
    describe,
    defaults: { limits: defaultLimits, delayed: false },
    create: createTable,
    changeOf: mysqlTableChange,
    same: (a, b) => a.delayed === b.delayed && sameLimits(a.limits, b.limits),
  });

  function insertSql(name: string, layout: TableLayout, rows: number, delayed: boolean): string {
    const one = `(${layout.columns.map(() => '?').join(',')})`;
    return (
      `INSERT ${delayed ? 'DELAYED ' : ''}INTO ${quoteIdent(name)} (${layout.columns.map(quoteIdent).join(',')}) VALUES ` +
      Array.from({ length: rows }, () => one).join(',')
    );
  }

  async function runBatch(
    conn: mysql.PoolConnection,
    name: string,
    layout: TableLayout,
    info: TableInfo,
    values: PreparedValue[][],
    allowLoad: boolean,
  ): Promise<number> {
    const useLoad = allowLoad && method === 'load-data' && !info.delayed;
    if (useLoad) {
      const chunks: Buffer[] = [];
      let s = '';
      for (const v of values) {
        s += ldRow(v);
        if (s.length >= LD_CHUNK) {
          chunks.push(Buffer.from(s, 'latin1'));
          s = '';
        }
      }
      if (s !== '') chunks.push(Buffer.from(s, 'latin1'));
      const sql =
        `LOAD DATA LOCAL INFILE 'sipcapture-batch' INTO TABLE ${quoteIdent(name)} CHARACTER SET binary ` +
        // Hex literals: immune to NO_BACKSLASH_ESCAPES in the server's sql_mode.
        `FIELDS TERMINATED BY X'09' ESCAPED BY X'5C' LINES TERMINATED BY X'0A' ` +
        `(${layout.columns.map(quoteIdent).join(',')})`;
      try {
        const [res] = await conn.query<mysql.ResultSetHeader>({
          sql,
          // mysql2 needs Buffers from the stream (strings crash it, deps.md experiment 4).
          infileStreamFactory: () => Readable.from(chunks, { objectMode: false }),
        });
        // LOCAL turns data errors into warnings and skips bad rows (checked: a CHECK violation
        // or a bad date). Any warning means the batch was not written as given: it is rolled
        // back and redone with INSERTs, so the server's normal rules decide (strict mode: an
        // error, the writer isolates the row; otherwise stored as INSERT would store it).
        if (res.affectedRows !== values.length || res.warningStatus > 0) {
          throw Object.assign(
            new Error(
              `LOAD DATA into ${name} stored ${res.affectedRows} of ${values.length} rows with ${res.warningStatus} warning(s); batch rolled back`,
            ),
            { code: LOAD_DATA_INCOMPLETE },
          );
        }
        return res.insertId;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        // Server or client without local_infile: switch this store to prepared INSERTs for good.
        if (typeof code === 'string' && LOCAL_INFILE_REFUSED.has(code)) {
          method = 'execute';
        } else {
          throw err;
        }
      }
    }
    // mysql2's client-side escaping uses backslashes: under NO_BACKSLASH_ESCAPES it would let
    // header text break out of its string literal, so 'query' is only used when that mode is off.
    if (method === 'query' && !(await backslashEscapesOn(conn))) method = 'execute';
    // LOAD DATA's own fallback is the prepared path (MariaDB honours DELAYED there too).
    const prepared = method !== 'query';
    const perStmt = Math.max(
      1,
      Math.min(opts.rowsPerStatement ?? 500, prepared ? Math.floor(MAX_PLACEHOLDERS / layout.columns.length) : Infinity),
    );
    let insertId = 0;
    for (let i = 0; i < values.length; ) {
      const size = prepared ? preparedShape(values.length - i, perStmt) : Math.min(perStmt, values.length - i);
      const part = values.slice(i, (i += size));
      const sql = insertSql(name, layout, part.length, info.delayed);
      const flat: PreparedValue[] = [];
      for (const v of part) for (const x of v) flat.push(x);
      const [res] = prepared ? await conn.execute<mysql.ResultSetHeader>(sql, flat) : await conn.query<mysql.ResultSetHeader>(sql, flat);
      insertId = res.insertId;
    }
    return insertId;
  }

  async function insertBatch(name: string, kind: TableKind, batch: RowBatch): Promise<void> {
    const info = await tables.info(name, kind);
    const layout = layoutOf(kind);
    const local: ValueCounters = newCounters();
    const values = batch.rows.map((r) => prepareRow(rowOf(r, kind), layout, info.limits, local));
    const conn = await pool.getConnection();
    if (abandoned) {
      conn.release();
      throw new Error(ABANDONED);
    }
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    let giveUp: (why: string) => void = () => {};
    const timeout = new Promise<never>((_resolve, reject) => {
      giveUp = (why: string): void => {
        if (timedOut) return;
        timedOut = true;
        clearTimeout(timer);
        // The socket is cut; the server rolls the open transaction back.
        conn.connection.destroy();
        reject(new Error(why));
      };
      timer = setTimeout(() => giveUp(`insert into ${name} timed out after ${insertTimeoutMs} ms`), insertTimeoutMs);
    });
    timeout.catch(() => {});
    const abort = (): void => giveUp(`${ABANDONED} (insert into ${name})`);
    inFlight.add(abort);
    // Set once COMMIT is on its way: from then on a timeout leaves the outcome open.
    let commitSent = false;
    let commitToken: string | undefined;
    const attempt = async (allowLoad: boolean): Promise<void> => {
      await conn.beginTransaction();
      let insertId: number;
      try {
        insertId = await runBatch(conn, name, layout, info, values, allowLoad);
        if (batch.replayMark !== undefined) await writeMark(conn, batch.replayMark);
      } catch (err) {
        if (!timedOut) await conn.rollback().catch(() => {});
        throw err;
      }
      commitToken = !info.delayed && insertId > 0 ? `mysql:${name}:${insertId}` : undefined;
      commitSent = true;
      try {
        await conn.commit();
      } catch (err) {
        // A server error means no commit; without an answer the outcome is open.
        if (!timedOut && isServerError(err)) throw err;
        throw withCommitToken(err, commitToken);
      }
    };
    const work = (async () => {
      try {
        await attempt(true);
      } catch (err) {
        if ((err as { code?: unknown }).code !== LOAD_DATA_INCOMPLETE || timedOut) throw err;
        await attempt(false);
      }
    })();
    work.catch(() => {});
    try {
      try {
        await Promise.race([work, timeout]);
      } catch (err) {
        if (timedOut && commitSent) throw withCommitToken(err, commitToken);
        throw err;
      }
      addCounters(counters, local);
    } finally {
      clearTimeout(timer);
      inFlight.delete(abort);
      if (timedOut) conn.destroy();
      else conn.release();
    }
  }

  const store: MysqlStore = {
    backend: 'mysql',
    displayUrl: maskPasswords(url),
    valueCounters: counters,
    isRowError: isMysqlRowError,
    async wasCommitted(token: string): Promise<boolean> {
      const m = /^mysql:([A-Za-z_][A-Za-z0-9_]*):(\d+)$/.exec(token);
      if (m === null) return false;
      const [rows] = await pool.query<mysql.RowDataPacket[]>(`SELECT 1 AS x FROM ${quoteIdent(m[1]!)} WHERE id = ? LIMIT 1`, [m[2]]);
      return rows.length > 0;
    },
    async replayMarked(mark: ReplayMark): Promise<boolean> {
      await ensureDoneTable();
      const [rows] = await pool.query<mysql.RowDataPacket[]>(`SELECT 1 AS x FROM ${doneTable} WHERE spool_id = ? AND record = ? AND piece = ?`, [
        mark.spool,
        mark.record,
        mark.piece,
      ]);
      return rows.length > 0;
    },
    get method(): MysqlInsertMethod {
      return method;
    },
    async ping(): Promise<void> {
      await pool.query('SELECT 1');
    },
    ensureTable(table: string, kind: TableKind): Promise<void> {
      return tables.ensureTable(table, kind);
    },
    async insert(batch: RowBatch): Promise<void> {
      if (closed) throw new Error('store is closed');
      if (abandoned) throw new Error(ABANDONED);
      await tables.insert(
        batch,
        async (name) => {
          if (batch.replayMark !== undefined) await ensureDoneTable();
          await insertBatch(name, batch.kind, batch);
        },
        [`\0${doneName}`],
      );
    },
    abandon(): void {
      abandoned = true;
      for (const abort of [...inFlight]) abort();
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
  return store;
}
