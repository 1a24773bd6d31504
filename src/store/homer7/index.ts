/**
 * The HOMER 7 store: a `Store` that writes the rows of a `schema: homer7` capture mode into
 * heplify-server's `hep_proto_*` tables (PostgreSQL only), for homer-app (docs/homer7.md).
 *
 * The writer hands it Homer 5 rows, batched per Homer 5 table name; the name is not used here.
 * Each row becomes a HOMER 7 row (row.ts) and goes to its parent by HEP type and CSeq method.
 * A batch is one transaction: `BEGIN; SELECT txid_current()`, one binary COPY per parent
 * (postgres/copy-binary.ts), the spool marker if any, `COMMIT` — all or nothing, with the same
 * lost-COMMIT settlement and spool markers as the PostgreSQL store, which this store keeps
 * beside it for those two questions.
 *
 * Partitions: the ones for today and tomorrow (UTC) are created at start and kept ahead on a
 * timer; a row outside them gets its partition created on demand when its time is within
 * [now − onDemandPastDays, now + 2 days], else it goes to the parent's DEFAULT partition
 * (`<parent>_default`, created when first needed). A partition that cannot be created (it would
 * overlap one made with another step) also sends its rows to the DEFAULT partition. Both are
 * counted. Every creation runs under an advisory lock named after the table, so several
 * daemons (or `db init`) creating the same partitions at once wait for each other instead of
 * failing.
 */
import { rowsOf } from '../encoded-row.js';
import { once } from 'node:events';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ReportRow, SipCaptureRow, TableKind } from '../../capture/rows.js';
import { SPOOL_DONE_TABLE, type ReplayMark, type RowBatch, type Store } from '../store.js';
import { BinaryCopyBatch, BufferPool, copyPlanOf, type CopyPlan } from '../postgres/copy-binary.js';
import { createPostgresStore, isPgRowError, newPgPool, pgTableName, type PostgresStore } from '../postgres/index.js';
import { maskPasswords } from '../../config/db-url.js';
import { ensureOnce } from '../sql-tables.js';
import { newCounters } from '../values.js';
import { DEFAULT_DATA_HEADER, HOMER7_PARENTS, homer7Row, type Homer7Parent, type Homer7Row } from './row.js';
import { HOMER7_COLUMNS, defaultPartitionDdl, defaultPartitionName, indexDdl, parentDdl, partitionDdl, partitionName, partitionStartUs } from './schema.js';

export interface Homer7StoreOptions {
  /** Connections for COPY (default 2); one more is kept for markers and commit checks. */
  poolSize?: number;
  /** Partition step in minutes; divides a day (default 120, heplify-server's default). */
  partitionMinutes?: number;
  /** data_header keys of SIP rows (default heplify-server's ten). */
  dataHeader?: readonly string[];
  /** Rows dated up to this many days back get their own partition created; older ones go to DEFAULT (default 30). */
  onDemandPastDays?: number;
  /** How often partitions are created ahead, ms (default 10 min; 0 = only at start and on use). */
  aheadIntervalMs?: number;
  /** The clock, ms since 1970 (tests). */
  nowMs?: () => number;
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** A batch not committed after this long is abandoned and its connection cut, ms (default 60000). */
  insertTimeoutMs?: number;
  /** Marker table of replayed spool records (tests use their own). */
  spoolDoneTable?: string;
  /** Told about partitions that could not be created ahead (logged by the caller). */
  onAheadError?: (err: Error) => void;
}

/** What the partition manager did, for metrics and stats. */
export interface Homer7Counters {
  partitionsCreated: number;
  /**
   * Rows whose own partition could not be created (too old or too far ahead, or overlapping a
   * partition of another step): PostgreSQL put them in an overlapping partition or the DEFAULT one.
   */
  fallbackRows: number;
}

export interface Homer7Store extends Store {
  readonly backend: 'postgres';
  readonly schema: 'homer7';
  readonly homer7Counters: Readonly<Homer7Counters>;
  /** Creates the parents and the partitions of today and tomorrow (UTC); resolves with the names created or found. */
  ensureAhead(nowMs?: number): Promise<string[]>;
}

const DAY_US = 86_400_000_000;
const CHUNK_BYTES = 256 * 1024;

const PLAN: CopyPlan<Homer7Row> = copyPlanOf<Homer7Row>(HOMER7_COLUMNS, ['text', 'epoch_us', 'jsonb', 'jsonb', 'bytes'], (r, out) => {
  out[0] = r.sid;
  out[1] = r.createUs;
  out[2] = r.protocolHeader;
  out[3] = r.dataHeader;
  out[4] = r.raw;
});
const COPY_COLUMNS = HOMER7_COLUMNS.join(', ');

/** Checks a partition step: whole minutes from 5 to 1440 that divide a day. */
export function partitionMinutesProblem(m: number): string | undefined {
  if (!Number.isInteger(m) || m < 5 || m > 1440 || 1440 % m !== 0) return 'must be a number of minutes from 5 to 1440 that divides a day (e.g. 60, 120, 360, 1440)';
  return undefined;
}

export async function createHomer7Store(url: string, opts: Homer7StoreOptions = {}): Promise<Homer7Store> {
  const stepMin = opts.partitionMinutes ?? 120;
  const stepProblem = partitionMinutesProblem(stepMin);
  if (stepProblem !== undefined) throw new Error(`homer7 partition step ${stepMin}: ${stepProblem}`);
  const dataHeader = opts.dataHeader ?? DEFAULT_DATA_HEADER;
  const nowMs = opts.nowMs ?? Date.now;
  const pastUs = (opts.onDemandPastDays ?? 30) * DAY_US;
  const insertTimeoutMs = opts.insertTimeoutMs ?? 60_000;
  const pool = newPgPool(url, opts);
  // The PostgreSQL store answers the lost-COMMIT and spool-marker questions on the same database.
  const markers: PostgresStore = await createPostgresStore(url, {
    poolSize: 1,
    ...(opts.spoolDoneTable === undefined ? {} : { spoolDoneTable: opts.spoolDoneTable }),
    ...(opts.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: opts.connectTimeoutMs }),
  });
  const doneTable = `"${pgTableName(opts.spoolDoneTable ?? SPOOL_DONE_TABLE)}"`;
  const ensured = new Map<string, Promise<void>>();
  /** Partitions known to be unavailable (creation failed): their rows go to DEFAULT. */
  const unavailable = new Set<string>();
  const counters: Homer7Counters = { partitionsCreated: 0, fallbackRows: 0 };
  const buffers = new BufferPool();
  let closed = false;

  async function withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    const onError = (): void => {};
    client.on('error', onError);
    try {
      const r = await work(client);
      client.removeListener('error', onError);
      client.release();
      return r;
    } catch (err) {
      client.removeListener('error', onError);
      client.release(err instanceof Error ? err : true);
      throw err;
    }
  }

  /** Runs DDL in a transaction holding the advisory lock `sipcapture:<table>`, unless the table exists. Resolves true when it created it. */
  function createUnderLock(table: string, statements: readonly string[]): Promise<boolean> {
    return withClient(async (client) => {
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sipcapture:${table}`]);
        const exists = await client.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [table]);
        let created = false;
        if (exists.rows[0]?.r == null) {
          for (const s of statements) await client.query(s);
          created = true;
        }
        await client.query('COMMIT');
        return created;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    });
  }

  function ensureParents(): Promise<void> {
    return ensureOnce(ensured, '\0parents', async () => {
      for (const p of HOMER7_PARENTS) await createUnderLock(p, [parentDdl(p)]);
    });
  }

  function ensurePartition(parent: Homer7Parent, startUs: number): Promise<void> {
    const name = partitionName(parent, startUs);
    return ensureOnce(ensured, name, async () => {
      await ensureParents();
      if (await createUnderLock(name, [partitionDdl(parent, startUs, stepMin), ...indexDdl(parent, name)])) counters.partitionsCreated++;
    });
  }

  function ensureDefaultPartition(parent: Homer7Parent): Promise<void> {
    const name = defaultPartitionName(parent);
    return ensureOnce(ensured, name, async () => {
      await ensureParents();
      if (await createUnderLock(name, [defaultPartitionDdl(parent), ...indexDdl(parent, name)])) counters.partitionsCreated++;
    });
  }

  /** True when the row's own partition exists (or was just created); false: it goes to DEFAULT. */
  async function partitionFor(parent: Homer7Parent, us: number): Promise<boolean> {
    const start = partitionStartUs(us, stepMin);
    const name = partitionName(parent, start);
    if (unavailable.has(name)) return false;
    const now = nowMs() * 1000;
    if (!ensured.has(name) && (us < now - pastUs || us >= partitionStartUs(now, 1440) + 2 * DAY_US)) return false;
    try {
      await ensurePartition(parent, start);
      return true;
    } catch (err) {
      // 42P17: it would overlap a partition of another step; 23514: the DEFAULT partition
      // already holds rows of its range. Anything else (server down) is the batch's failure.
      const code = (err as { code?: unknown }).code;
      if (code === '42P17' || code === '23514') {
        unavailable.add(name);
        return false;
      }
      throw err;
    }
  }

  async function ensureAhead(at = nowMs()): Promise<string[]> {
    // A partition that overlapped one of another step may be creatable now (retention dropped the old one).
    unavailable.clear();
    await ensureParents();
    const names: string[] = [];
    const midnight = partitionStartUs(at * 1000, 1440);
    const current = partitionStartUs(at * 1000, stepMin);
    const step = stepMin * 60_000_000;
    // The current partition first, then the rest of today and tomorrow, then today's earlier ones.
    const starts: number[] = [];
    for (let s = current; s < midnight + 2 * DAY_US; s += step) starts.push(s);
    for (let s = midnight; s < current; s += step) starts.push(s);
    for (const s of starts) {
      for (const p of HOMER7_PARENTS) {
        await ensurePartition(p, s);
        names.push(partitionName(p, s));
      }
    }
    return names.sort();
  }

  let aheadTimer: NodeJS.Timeout | null = null;
  let aheadRunning = false;
  const aheadInBackground = (): void => {
    if (aheadRunning || closed) return;
    aheadRunning = true;
    ensureAhead()
      .catch((err: unknown) => opts.onAheadError?.(err instanceof Error ? err : new Error(String(err))))
      .finally(() => (aheadRunning = false));
  };
  const every = opts.aheadIntervalMs ?? 600_000;
  if (every > 0) {
    aheadTimer = setInterval(aheadInBackground, every);
    aheadTimer.unref();
  }

  async function copyInto(client: pg.PoolClient, parent: Homer7Parent, bytes: Buffer): Promise<void> {
    const stream = client.query(copyFrom(`COPY ${parent} (${COPY_COLUMNS}) FROM STDIN (FORMAT binary)`));
    stream.on('error', () => {});
    const done = once(stream, 'finish');
    let off = 0;
    for (; off + CHUNK_BYTES < bytes.length; off += CHUNK_BYTES) stream.write(bytes.subarray(off, off + CHUNK_BYTES));
    stream.end(bytes.subarray(off));
    await done;
  }

  async function insertRows(kind: TableKind, rows: readonly (SipCaptureRow | ReportRow)[], mark: ReplayMark | undefined): Promise<void> {
    const byParent = new Map<Homer7Parent, Homer7Row[]>();
    for (const row of rows) {
      const h = homer7Row(kind, row, { dataHeader });
      let list = byParent.get(h.parent);
      if (list === undefined) byParent.set(h.parent, (list = []));
      list.push(h);
    }
    await ensureParents();
    let toDefault = 0;
    for (const [parent, list] of byParent) {
      const seen = new Map<number, boolean>();
      for (const h of list) {
        const start = partitionStartUs(h.createUs, stepMin);
        let ok = seen.get(start);
        if (ok === undefined) seen.set(start, (ok = await partitionFor(parent, h.createUs)));
        if (!ok) toDefault++;
      }
      if ([...seen.values()].includes(false)) await ensureDefaultPartition(parent);
    }
    if (mark !== undefined) await markers.replayMarked?.(mark); // creates the marker table if needed
    // Encoded before a connection is taken: a row the encoder refuses fails the batch alone.
    const encoded: [Homer7Parent, BinaryCopyBatch<Homer7Row>][] = [];
    try {
      for (const [parent, list] of byParent) {
        const b = new BinaryCopyBatch(PLAN, buffers.take());
        encoded.push([parent, b]);
        const c = newCounters();
        for (const h of list) b.add(h, c);
      }
    } catch (err) {
      for (const [, b] of encoded) buffers.give(b.buffer);
      throw err;
    }
    const client = await pool.connect();
    // A socket dying under a checked-out client would otherwise crash the process.
    const onError = (): void => {};
    client.on('error', onError);
    const release = (err?: unknown): void => {
      client.removeListener('error', onError);
      client.release(err === undefined ? undefined : err instanceof Error ? err : true);
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      client.connection.stream.destroy(new Error(`insert into ${[...byParent.keys()].join(', ')} timed out after ${insertTimeoutMs} ms`));
    }, insertTimeoutMs);
    let txid = '';
    let committing = false;
    try {
      const res = (await client.query('BEGIN; SELECT txid_current()::text AS x')) as unknown as pg.QueryResult<{ x: string }>[];
      txid = res[1]?.rows[0]?.x ?? '';
      for (const [parent, b] of encoded) await copyInto(client, parent, b.end());
      if (mark !== undefined) {
        const created = Math.floor(nowMs() / 1000);
        await client.query(`INSERT INTO ${doneTable} (spool_id, record, piece, created) VALUES ($1, $2, $3, $4)`, [mark.spool, mark.record, mark.piece, created]);
        await client.query(`DELETE FROM ${doneTable} WHERE spool_id = $1 AND record <> $2`, [mark.spool, mark.record]);
      }
      committing = true;
      await client.query('COMMIT');
    } catch (err) {
      clearTimeout(timer);
      const sqlState = typeof (err as { code?: unknown }).code === 'string';
      if (!committing && !timedOut && sqlState) {
        await client.query('ROLLBACK').then(
          () => release(),
          (e: unknown) => release(e),
        );
      } else {
        release(err);
      }
      // Without an answer to COMMIT the outcome is open: the writer settles it with wasCommitted().
      if (committing && !sqlState && txid !== '') throw Object.assign(err instanceof Error ? err : new Error(String(err)), { commitToken: `pg:${txid}` });
      throw err;
    }
    clearTimeout(timer);
    release();
    for (const [, b] of encoded) buffers.give(b.buffer);
    counters.fallbackRows += toDefault;
  }

  const store: Homer7Store = {
    backend: 'postgres',
    schema: 'homer7',
    displayUrl: maskPasswords(url),
    homer7Counters: counters,
    // 23514 here is "no partition for this row": a partition dropped behind our back (retention),
    // created again by the retry — never the row's fault.
    isRowError: (err) => (err as { code?: unknown } | null)?.code !== '23514' && isPgRowError(err),
    wasCommitted: (token) => markers.wasCommitted?.(token) ?? Promise.resolve(false),
    replayMarked: (mark) => markers.replayMarked?.(mark) ?? Promise.resolve(false),
    ensureAhead,
    async ensureTable(): Promise<void> {
      // Table names of the capture mode do not apply: the parents and today's partitions do.
      await ensureParents();
      await ensurePartition(HOMER7_PARENTS[0], partitionStartUs(nowMs() * 1000, stepMin));
      aheadInBackground();
    },
    async insert(batch: RowBatch): Promise<void> {
      if (closed) throw new Error('store is closed');
      if (batch.rows.length === 0) return;
      try {
        await insertRows(batch.kind, rowsOf(batch.rows, batch.kind), batch.replayMark);
      } catch (err) {
        // A partition or parent dropped behind our back: forget it, the retry creates it again.
        if ((err as { code?: unknown }).code === '42P01' || (err as { code?: unknown }).code === '23514') ensured.clear();
        throw err;
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (aheadTimer !== null) clearInterval(aheadTimer);
      await Promise.allSettled([pool.end(), markers.close()]);
    },
  };
  return store;
}
