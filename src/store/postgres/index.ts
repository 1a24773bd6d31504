/**
 * PostgreSQL backend: one `COPY … FROM STDIN` per batch (pg + pg-copy-streams).
 *
 * Each batch is `BEGIN; SELECT txid_current(); COPY …; COMMIT`: all or nothing, so a bad row
 * (constraint, bad date) aborts the whole batch and nothing is written, which is what the
 * writer's split-and-isolate logic expects. The transaction id makes a lost COMMIT answer
 * (connection cut just then) decidable: the error carries `commitToken` and `wasCommitted()`
 * asks the server with txid_status() instead of guessing, so a retry never duplicates a batch. Values pass through values.ts first (NUL stripped, lone surrogates replaced,
 * text cut to the column width), so a row is never rejected for its text; `msg` goes to a
 * bytea column byte for byte.
 *
 * Table names: validated, folded to lower case (PostgreSQL folds the unquoted names Kamailio
 * sends, spec §3.5 item 5) and double-quoted.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { columnValuesFiller, type ReportRow, type SipCaptureRow, type TableKind } from '../../capture/rows.js';
import { SPOOL_DONE_MAX_AGE_S, SPOOL_DONE_TABLE, isEncodingError, type ReplayMark, type RowBatch, type Store } from '../store.js';
import { BinaryCopyBatch, BufferPool, copyPlan, type CopyPlan } from './copy-binary.js';
import { maskPasswords } from '../../config/db-url.js';
import { assertValidTableName } from '../../route/table-name.js';
import { COLUMN_WIDTHS, DEFAULT_LIMITS, layoutOf, sameLimits, sameWidthsFor, type ColumnLimits, type TableLayout } from '../columns.js';
import { EncodedRow, rowsOf, type StoreRow } from '../encoded-row.js';
import { loadSchemaTemplate, renderTableStatements, type SchemaTemplate } from '../schema-template.js';
import { SqlTables, type TableChange } from '../sql-tables.js';
import { addCounters, newCounters, prepareRow, type CountingStore } from '../values.js';

export type CopyFormat = 'text' | 'binary';

export interface PostgresStoreOptions {
  /** Connections in the pool (default 2). */
  poolSize?: number;
  /**
   * COPY wire format (default 'binary', measured faster: bytea travels raw instead of as hex).
   * Binary needs the column types of our schema; a table with other types (e.g. smallint ports)
   * falls back to text automatically.
   */
  copyFormat?: CopyFormat;
  /** TCP connect timeout, ms (default 5000). */
  connectTimeoutMs?: number;
  /**
   * Last resort for a dead network: a COPY not finished after this long is abandoned and its
   * connection cut, ms (default 60000). If the server had already received the whole COPY, it may
   * still commit it, so a retry can duplicate that one batch; statementTimeoutMs (shorter) makes
   * the server give up first with a clean rollback in every case where it is still alive.
   */
  insertTimeoutMs?: number;
  /** Server-side statement_timeout for DDL and COPY, ms (default 30000). */
  statementTimeoutMs?: number;
  /** Schema template file (default sql/postgres/schema.sql of this package). */
  schemaFile?: string;
  /** Width overrides (characters) for tables whose widths cannot be read from the catalog. */
  limits?: Readonly<Record<string, number>>;
  /** Read the real column widths of each table from the catalog (default true). */
  detectWidths?: boolean;
  /** Marker table of replayed spool records (default SPOOL_DONE_TABLE; tests use their own). */
  spoolDoneTable?: string;
}

export interface PostgresStore extends Store, CountingStore {
  readonly backend: 'postgres';
}

export { pgTimestampMicros } from './copy-binary.js';

/** What the catalog says about one table. */
interface TableInfo {
  limits: ColumnLimits;
  format: CopyFormat;
  /** Binary encoder plan for these limits, made on first use (a table has one kind). */
  plan?: CopyPlan;
}

/** Column type our binary encoder writes, by column name (anything else is varchar/text). */
const BINARY_TYPES: Readonly<Record<string, string>> = {
  date: 'timestamp without time zone',
  micro_ts: 'bigint',
  msg: 'bytea',
};
const TEXT_TYPES = new Set(['character varying', 'text']);

const PG_IDENT_MAX = 63;
const LONGEST_INDEX_SUFFIX = '_correlation_id_idx'.length;

/** PostgreSQL folds unquoted identifiers to lower case; Kamailio sends them unquoted. */
export function pgTableName(table: string): string {
  assertValidTableName(table);
  return table.toLowerCase();
}

/** Prefix for index names: the table name, or a short unique form so `<ix>_<col>_idx` fits 63 bytes. */
export function pgIndexPrefix(table: string): string {
  if (table.length + LONGEST_INDEX_SUFFIX <= PG_IDENT_MAX) return table;
  const hash = createHash('sha1').update(table).digest('hex').slice(0, 8);
  return `${table.slice(0, PG_IDENT_MAX - LONGEST_INDEX_SUFFIX - 9)}_${hash}`;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function columnList(layout: TableLayout): string {
  return layout.columns.map(quoteIdent).join(', ');
}

// ---- text COPY encoding ----

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_G = /[\\\t\n\r]/g;
const COPY_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Escapes a value for COPY text format (NUL was already removed by prepareRow). */
export function copyTextEscape(s: string): string {
  return COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_G, (ch) => COPY_ESCAPES[ch]!) : s;
}

/** The txid from the answers to `BEGIN; SELECT txid_current()::text AS x` ('' if absent). */
function txidOf(results: unknown): string {
  const last: unknown = Array.isArray(results) ? results[results.length - 1] : results;
  const rows = (last as { rows?: unknown } | null)?.rows;
  const x = Array.isArray(rows) ? (rows[0] as { x?: unknown } | undefined)?.x : undefined;
  return typeof x === 'string' ? x : '';
}

function encodeTextRow(values: readonly (string | number | Buffer)[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (i > 0) line += '\t';
    if (typeof v === 'number') line += String(v);
    else if (typeof v === 'string') line += copyTextEscape(v);
    // bytea hex input `\x…`; the backslash itself is escaped for COPY.
    else line += '\\\\x' + v.toString('hex');
  }
  return line + '\n';
}

const CHUNK_BYTES = 256 * 1024;
const ABANDONED = 'insert given up: the daemon is stopping and the database does not answer';

function isSqlState(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/**
 * SQLSTATE classes caused by the rows, not by the server's state: 22 data exception, 23
 * integrity constraint violation, 54 program limit exceeded (e.g. an index row too large), P0
 * raised by a trigger or function. Plus values our encoder cannot represent (RangeError).
 */
const PG_ROW_ERROR_CLASSES = new Set(['22', '23', '54', 'P0']);

export function isPgRowError(err: unknown): boolean {
  if (isEncodingError(err)) return true;
  if (!isSqlState(err)) return false;
  return PG_ROW_ERROR_CLASSES.has(String((err as { code: string }).code).slice(0, 2));
}

/**
 * What a PostgreSQL error says about the table: 42P01 undefined table; other class 42 errors
 * (undefined column, wrong type) and 22P03 (binary COPY format against other column types)
 * mean it was altered; 22001 (string data right truncation) means a value passed a column's
 * width, which was read before and may have been narrowed since.
 */
export function pgTableChange(err: unknown): TableChange {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  if (code === '42P01') return 'missing';
  if (code.startsWith('42') || code === '22P03') return 'columns';
  if (code === '22001') return 'width';
  return null;
}

function withCommitToken(err: unknown, token: string | undefined): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  return token === undefined ? e : Object.assign(e, { commitToken: token });
}

/** The connection pool of a PostgreSQL store (this one, or the HOMER 7 store). */
export function newPgPool(url: string, opts: Pick<PostgresStoreOptions, 'poolSize' | 'connectTimeoutMs' | 'statementTimeoutMs'>): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 2,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    statement_timeout: opts.statementTimeoutMs ?? 30_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    client_encoding: 'UTF8',
    application_name: 'sipcapture',
  });
  // An idle client losing its connection emits 'error' on the pool; without a listener that
  // would crash the daemon. The next checkout simply opens a new connection.
  pool.on('error', () => {});
  return pool;
}

export async function createPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const template: SchemaTemplate = await loadSchemaTemplate('postgres', opts.schemaFile);
  const pool = newPgPool(url, opts);
  const counters = newCounters();
  const preferred: CopyFormat = opts.copyFormat ?? 'binary';
  const defaultLimits: ColumnLimits = new Map(Object.entries({ ...COLUMN_WIDTHS, ...(opts.limits ?? {}) }));
  const insertTimeoutMs = opts.insertTimeoutMs ?? 60_000;
  const buffers = new BufferPool();
  const doneTable = quoteIdent(pgTableName(opts.spoolDoneTable ?? SPOOL_DONE_TABLE));
  let closed = false;
  /** How to give up each COPY in flight (Store.abandon). */
  const inFlight = new Set<() => void>();
  let abandoned = false;

  /** Creates the marker table of replayed spool records once, and prunes markers of old runs. */
  function ensureDoneTable(): Promise<void> {
    return tables.once(`\0${doneTable}`, () =>
      underCreateLock(doneTable, async (client) => {
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${doneTable} (spool_id varchar(32) NOT NULL, record varchar(48) NOT NULL, ` +
            `piece varchar(48) NOT NULL, created bigint NOT NULL, PRIMARY KEY (spool_id, record, piece))`,
        );
        await client.query(`DELETE FROM ${doneTable} WHERE created < $1`, [Math.floor(Date.now() / 1000) - SPOOL_DONE_MAX_AGE_S]);
      }),
    );
  }

  /**
   * Runs `work` in a transaction holding the advisory lock `sipcapture:<name>`. It serialises
   * concurrent creators (two daemons, or db-init racing the daemon): plain CREATE TABLE IF NOT
   * EXISTS can still fail on pg_type's unique index under a race.
   */
  async function underCreateLock(name: string, work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const { client, release } = await checkout();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sipcapture:${name}`]);
      await work(client);
      await client.query('COMMIT');
      release();
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      release(err);
      throw err;
    }
  }

  /** Reads column types and widths; undefined when the table does not exist. */
  async function describe(name: string, kind: TableKind): Promise<TableInfo | undefined> {
    const res = await pool.query<{ attname: string; typ: string; width: number | null }>(
      `SELECT a.attname, format_type(a.atttypid, NULL) AS typ,
              CASE WHEN a.atttypmod > 4 AND a.atttypid IN ('varchar'::regtype, 'bpchar'::regtype)
                   THEN a.atttypmod - 4 END AS width
         FROM pg_attribute a
        WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
      [quoteIdent(name)],
    );
    if (res.rows.length === 0) return undefined;
    const layout = layoutOf(kind);
    const cols = new Map(res.rows.map((r) => [r.attname, r]));
    const missing = layout.columns.filter((c) => !cols.has(c));
    if (missing.length > 0) {
      throw new Error(`table ${name} exists but lacks column(s) ${missing.join(', ')}; it is not a sipcapture/Homer 5 table`);
    }
    let binaryOk = true;
    const limits = new Map<string, number>();
    for (const c of layout.columns) {
      const r = cols.get(c)!;
      const want = BINARY_TYPES[c] ?? (layout.ints.has(c) ? 'integer' : undefined);
      if (want !== undefined ? r.typ !== want : !TEXT_TYPES.has(r.typ)) binaryOk = false;
      if (!layout.ints.has(c) && c !== 'msg' && c !== 'date') {
        if (opts.detectWidths === false) {
          const w = defaultLimits.get(c);
          if (w !== undefined) limits.set(c, w);
        } else if (r.width !== null) {
          limits.set(c, r.width);
        }
      }
    }
    return { limits, format: preferred === 'binary' && binaryOk ? 'binary' : 'text' };
  }

  async function createTable(name: string, kind: TableKind): Promise<void> {
    const stmts = renderTableStatements(template, kind, { table: name, ix: pgIndexPrefix(name) });
    await underCreateLock(name, async (client) => {
      const exists = await client.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [quoteIdent(name)]);
      // An existing table is used as it is: adding indexes to someone's big table would lock it.
      if (exists.rows[0]?.r == null) for (const s of stmts) await client.query(s);
    });
  }

  const tables = new SqlTables<TableInfo>({
    serverName: (table) => table.toLowerCase(),
    describe,
    defaults: { limits: defaultLimits, format: preferred },
    create: createTable,
    changeOf: pgTableChange,
    same: (a, b) => a.format === b.format && sameLimits(a.limits, b.limits),
  });

  /** Checks a client out with an error listener: a socket dying under a checked-out client would otherwise crash the process. */
  async function checkout(): Promise<{ client: pg.PoolClient; release: (err?: unknown) => void }> {
    const client = await pool.connect();
    const onError = (): void => {};
    client.on('error', onError);
    let released = false;
    return {
      client,
      release(err?: unknown): void {
        if (released) return;
        released = true;
        client.removeListener('error', onError);
        client.release(err === undefined ? undefined : err instanceof Error ? err : true);
      },
    };
  }

  async function copyBatch(name: string, kind: TableKind, stored: readonly StoreRow[], mark?: ReplayMark): Promise<void> {
    const info = await tables.info(name, kind);
    const layout = layoutOf(kind);
    const binary = info.format === 'binary';
    // Tuples a pipeline thread encoded go in as they are when this table has the layout and
    // widths they were encoded for; otherwise they become rows again and are encoded here.
    const hasEncoded = stored.some((r) => r instanceof EncodedRow);
    const asIs = !hasEncoded || (binary && sameWidthsFor(layout, info.limits, DEFAULT_LIMITS));
    // Count changes only once the batch is committed: a failed batch is retried or split by
    // the writer and would otherwise be counted several times.
    const local = newCounters();
    if (!asIs) {
      // Their text was cleaned in the thread: what that changed is counted here, not again.
      for (const r of stored) {
        if (!(r instanceof EncodedRow)) continue;
        local.nulStripped += r.nulStripped;
        local.invalidReplaced += r.invalidReplaced;
      }
    }
    const rows = asIs ? stored : rowsOf(stored, kind);
    // Binary: the whole batch is encoded before the connection is taken, so a row the encoder
    // refuses (RangeError) fails the batch without touching the server.
    let encoded: BinaryCopyBatch | undefined;
    if (binary) {
      const plan = info.plan?.columns === layout.columns ? info.plan : (info.plan = copyPlan(layout, info.limits, columnValuesFiller(kind)));
      encoded = new BinaryCopyBatch(plan, buffers.take());
      try {
        for (const row of rows) {
          if (row instanceof EncodedRow) {
            encoded.addEncoded(row.bytes, row.start, row.end);
            local.nulStripped += row.nulStripped;
            local.invalidReplaced += row.invalidReplaced;
          } else encoded.add(row, local);
        }
      } catch (err) {
        buffers.give(encoded.buffer);
        throw err;
      }
    }
    const sql = `COPY ${quoteIdent(name)} (${columnList(layout)}) FROM STDIN${binary ? ' (FORMAT binary)' : ''}`;
    const { client, release } = await checkout();
    if (abandoned) {
      release();
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
        const err = new Error(why);
        // A stuck server may never answer a CopyFail: cut the socket. Without COMMIT the server
        // rolls back when it notices; with COMMIT sent the outcome is open (a commit token).
        client.connection.stream.destroy(err);
        reject(err);
      };
      timer = setTimeout(() => giveUp(`COPY into ${name} timed out after ${insertTimeoutMs} ms`), insertTimeoutMs);
    });
    // Keep rejections handled even when we fail before awaiting them.
    timeout.catch(() => {});
    const abort = (): void => giveUp(`${ABANDONED} (COPY into ${name})`);
    inFlight.add(abort);
    let txid: string;
    try {
      // One round trip for both: a multi-statement simple query answers with one result each.
      const results: unknown = await Promise.race([client.query('BEGIN; SELECT txid_current()::text AS x'), timeout]);
      txid = txidOf(results);
    } catch (err) {
      clearTimeout(timer);
      inFlight.delete(abort);
      if (!timedOut) await client.query('ROLLBACK').catch(() => {});
      release(err);
      throw err;
    }
    const stream = client.query(copyFrom(sql));
    // The stream reports server errors with 'error'; keep one listener for its whole life so a
    // late or repeated emission can never become an uncaught exception.
    let streamError: unknown;
    stream.on('error', (e: unknown) => {
      streamError ??= e;
    });
    const done = once(stream, 'finish');
    done.catch(() => {});
    try {
      const write = async (chunk: Buffer | string): Promise<void> => {
        if (!stream.write(chunk)) await Promise.race([once(stream, 'drain'), timeout]);
      };
      if (encoded !== undefined) {
        // CopyData messages of ≤ 256 KiB: the server buffers each message whole. They are views
        // of the batch buffer (all queued at once; the stream is corked until the server is ready).
        const bytes = encoded.end();
        let off = 0;
        for (; off + CHUNK_BYTES < bytes.length; off += CHUNK_BYTES) stream.write(bytes.subarray(off, off + CHUNK_BYTES));
        stream.end(bytes.subarray(off));
      } else {
        let chunk = '';
        for (const row of rows as readonly (SipCaptureRow | ReportRow)[]) {
          chunk += encodeTextRow(prepareRow(row, layout, info.limits, local));
          if (chunk.length >= CHUNK_BYTES) {
            await write(chunk);
            chunk = '';
          }
        }
        stream.end(chunk);
      }
      await Promise.race([done, timeout]);
      if (mark !== undefined) {
        // The replayed record's marker commits with its rows; older markers of that spool are
        // no longer needed (its read position is past them).
        await Promise.race([
          client.query(`INSERT INTO ${doneTable} (spool_id, record, piece, created) VALUES ($1, $2, $3, $4)`, [
            mark.spool,
            mark.record,
            mark.piece,
            Math.floor(Date.now() / 1000),
          ]),
          timeout,
        ]);
        await Promise.race([client.query(`DELETE FROM ${doneTable} WHERE spool_id = $1 AND record <> $2`, [mark.spool, mark.record]), timeout]);
      }
    } catch (err) {
      clearTimeout(timer);
      inFlight.delete(abort);
      // Our own failure (encoder, timeout) mid-stream: CopyFail rolls the COPY back.
      if (streamError === undefined && !stream.destroyed) stream.destroy(err instanceof Error ? err : new Error(String(err)));
      // A server-side error (SQLSTATE) leaves a healthy connection in an aborted transaction;
      // anything else (timeout, socket error, encoder bug) may not, so that connection is dropped.
      if (!timedOut && isSqlState(err)) {
        await client.query('ROLLBACK').then(
          () => release(),
          (e: unknown) => release(e),
        );
      } else {
        release(err);
      }
      throw err;
    }
    try {
      await Promise.race([client.query('COMMIT'), timeout]);
    } catch (err) {
      clearTimeout(timer);
      inFlight.delete(abort);
      release(err);
      // A server error means it did not commit; without an answer the outcome is open.
      if (!timedOut && isSqlState(err)) throw err;
      throw withCommitToken(err, txid === '' ? undefined : `pg:${txid}`);
    }
    clearTimeout(timer);
    inFlight.delete(abort);
    release();
    // The COPY is over (its bytes were all sent): the buffer can take the next batch. After an
    // error it is not reused, as a write may still hold it.
    if (encoded !== undefined) buffers.give(encoded.buffer);
    addCounters(counters, local);
  }

  const store: PostgresStore = {
    backend: 'postgres',
    displayUrl: maskPasswords(url),
    valueCounters: counters,
    isRowError: isPgRowError,
    async wasCommitted(token: string): Promise<boolean> {
      const m = /^pg:(\d+)$/.exec(token);
      if (m === null) return false;
      const r = await pool.query<{ s: string | null }>('SELECT txid_status($1::bigint) AS s', [m[1]]);
      const status = r.rows[0]?.s ?? null;
      // 'in progress': the server has not yet noticed the dead connection; ask again later.
      if (status === 'in progress') throw new Error(`transaction ${m[1]} is still in progress`);
      return status === 'committed';
    },
    async replayMarked(mark: ReplayMark): Promise<boolean> {
      await ensureDoneTable();
      const r = await pool.query(`SELECT 1 FROM ${doneTable} WHERE spool_id = $1 AND record = $2 AND piece = $3`, [mark.spool, mark.record, mark.piece]);
      return r.rows.length > 0;
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
          await copyBatch(name, batch.kind, batch.rows, batch.replayMark);
        },
        [`\0${doneTable}`],
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
