/**
 * The thread that owns the SQLite connection that writes. better-sqlite3 is synchronous, so
 * running it here keeps the receive loop on the main thread from ever waiting on the disk.
 * Requests in arrival order: ensure (CREATE … IF NOT EXISTS), insert (one transaction per batch,
 * or per group of batches already waiting: insertGroup), marked, close. WAL checkpoints run on
 * a second thread (sqlite-checkpointer.ts; docs/storage.md, "SQLite: the writer and
 * checkpointer threads").
 */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort, receiveMessageOnPort, workerData, type Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { spawnSiblingWorker } from '../../util/worker-thread.js';
import type { TableKind } from '../../capture/rows.js';
import {
  BatchReader,
  CKPT_COMMITS,
  CKPT_LOCK,
  CKPT_SLOTS,
  CKPT_STOP,
  CKPT_WANTED,
  layoutOf,
  type CheckpointerInit,
  type EncodedBatch,
  type Request,
  type Response,
  type WireError,
  type WorkerInit,
} from './protocol.js';
import { parseSchemaTemplate, renderTableStatements } from '../schema-template.js';
import { SPOOL_DONE_MAX_AGE_S, type ReplayMark } from '../store.js';

if (parentPort === null) throw new Error('sqlite-worker must run in a worker thread');
const port = parentPort;
const init = workerData as WorkerInit;

interface TableStatements {
  single: Database.Statement;
  /** `rowsPerStatement` rows per INSERT, or null when that is 1. */
  multi: Database.Statement | null;
  /** Reused parameter arrays, so binding allocates nothing per row. */
  singleParams: unknown[];
  multiParams: unknown[];
}

const post = (msg: Response): void => port.postMessage(msg);

let db: Database.Database;
/** walMaxBytes in pages. */
let walMaxPages = 1000;
try {
  // A missing directory is refused, not created: a typo in db_url must not make a tree (as root, anywhere).
  if (init.path !== ':memory:' && init.path !== '' && !existsSync(dirname(init.path))) {
    throw new Error(`the directory ${dirname(init.path)} of the SQLite file does not exist (create it; sipcapture does not create directories for it)`);
  }
  db = new Database(init.path);
  db.pragma('journal_mode = WAL'); // ':memory:' answers 'memory', which is fine
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(init.busyTimeoutMs))}`);
  // Nine indexes per sip table: a bigger page cache keeps their upper levels in memory.
  db.pragma(`cache_size = -${Math.max(2000, Math.floor(init.cacheSizeKiB))}`);
  // The writer checkpoints inside COMMIT only when the WAL has reached walMaxBytes (SQLite's
  // default is 1000 pages, ~4 MiB: a stall of two fsyncs every few batches); the file is cut
  // back to that size after each restart of the WAL.
  walMaxPages = Math.max(1, Math.ceil(init.walMaxBytes / (db.pragma('page_size', { simple: true }) as number)));
  db.pragma(`wal_autocheckpoint = ${walMaxPages}`);
  db.pragma(`journal_size_limit = ${Math.max(0, Math.floor(init.walMaxBytes))}`);
} catch (err) {
  post({ op: 'fatal', error: wireError(err) });
  port.close();
  throw err;
}

const schema = parseSchemaTemplate(init.schemaText, 'sql/sqlite/schema.sql');
const ensured = new Set<string>();
const statements = new Map<string, TableStatements>();
const rowsPerStatement = Math.max(1, Math.floor(init.rowsPerStatement));
/** Rows in one transaction at most when several batches are waiting (insertGroup). */
const GROUP_MAX_ROWS = Math.max(0, Math.floor(init.groupMaxRows));

const checkpointer = startCheckpointer();

post({ op: 'ready' });

port.on('message', (msg: Request) => {
  let req: Request | undefined = msg;
  while (req !== undefined) req = handle(req);
});

/** Handles one request; returns a request taken off the port meanwhile, to be handled next. */
function handle(req: Request): Request | undefined {
  try {
    switch (req.op) {
      case 'ensure':
        ensureTable(req.table, req.kind);
        break;
      case 'insert':
        return insertGroup(req);
      case 'marked':
        ensureDoneTable();
        post({ op: 'done', id: req.id, ok: true, value: markedStmt!.get(req.mark.spool, req.mark.record, req.mark.piece) !== undefined });
        return undefined;
      case 'close':
        void close(req.id);
        return undefined;
    }
    post({ op: 'done', id: req.id, ok: true });
  } catch (err) {
    post({ op: 'done', id: req.id, ok: false, error: wireError(err) });
  }
  return undefined;
}

async function close(id: number): Promise<void> {
  try {
    await checkpointer?.stop();
    db.close();
    post({ op: 'done', id, ok: true });
  } catch (err) {
    post({ op: 'done', id, ok: false, error: wireError(err) });
  }
  port.close();
}

interface Checkpointer {
  /** After each commit: wakes the checkpointer thread, or checkpoints here once the WAL is full. */
  committed(): void;
  stop(): Promise<void>;
}

/**
 * The checkpointer thread (sqlite-checkpointer.ts), for a WAL database in a file. While it runs,
 * SQLite's own checkpoint inside COMMIT is off. The WAL starts over (from its first byte) at a
 * transaction that begins after a checkpoint copied all of it; a writer that never pauses long
 * enough for that would let it grow forever. So once the -wal file is longer than walMaxBytes
 * (journal_size_limit cuts it back to that size at each restart, so a longer file means a
 * longer log) the writer does the last checkpoint itself, PASSIVE like the thread: it copies
 * what the thread has not, never waits for readers, and its next transaction starts the WAL
 * over. If the thread cannot start or dies, SQLite's own checkpoint at walMaxBytes takes over.
 */
function startCheckpointer(): Checkpointer | null {
  if (!init.checkpointThread || init.path === ':memory:' || init.path === '') return null;
  if (db.pragma('journal_mode', { simple: true }) !== 'wal') return null;
  const signal = new SharedArrayBuffer(CKPT_SLOTS * 4);
  const sig = new Int32Array(signal);
  const data: CheckpointerInit = { path: init.path, signal, intervalMs: init.checkpointIntervalMs };
  let worker: Worker;
  try {
    worker = spawnSiblingWorker(import.meta.url, 'sqlite-checkpointer', data, { maxYoungGenerationSizeMb: 1 });
  } catch {
    return null;
  }
  db.pragma('wal_autocheckpoint = 0');
  let alive = true;
  const exited = new Promise<void>((res) =>
    worker.once('exit', () => {
      alive = false;
      if (db.open) db.pragma(`wal_autocheckpoint = ${walMaxPages}`);
      res();
    }),
  );
  worker.on('error', () => undefined); // it exits; see 'exit'
  const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  const walFile = `${init.path}-wal`;
  const walBytes = (): number => {
    try {
      return statSync(walFile, { throwIfNoEntry: false })?.size ?? 0;
    } catch {
      return 0;
    }
  };
  return {
    committed() {
      if (!alive) return;
      if (walBytes() > init.walMaxBytes) {
        // The thread starts no checkpoint while we want the lock; if it is copying now, the
        // next commit tries again.
        Atomics.store(sig, CKPT_WANTED, 1);
        if (Atomics.compareExchange(sig, CKPT_LOCK, 0, 2) === 0) {
          try {
            checkpoint.run();
          } catch {
            // (I/O) the next commit tries again
          } finally {
            Atomics.store(sig, CKPT_WANTED, 0);
            Atomics.store(sig, CKPT_LOCK, 0);
          }
        }
      } else {
        // The thread's checkpoint has let the WAL start over meanwhile.
        Atomics.store(sig, CKPT_WANTED, 0);
      }
      Atomics.add(sig, CKPT_COMMITS, 1);
      Atomics.notify(sig, CKPT_COMMITS);
    },
    async stop() {
      Atomics.store(sig, CKPT_STOP, 1);
      Atomics.notify(sig, CKPT_STOP);
      Atomics.add(sig, CKPT_COMMITS, 1);
      Atomics.notify(sig, CKPT_COMMITS);
      // It exits after its current checkpoint; one stuck (a hung disk) must not hold up close().
      const timer = setTimeout(() => void worker.terminate(), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function ensureTable(table: string, kind: TableKind): void {
  if (ensured.has(table)) return;
  const stmts = renderTableStatements(schema, kind, { table });
  db.transaction(() => {
    for (const sql of stmts) db.exec(sql);
  })();
  ensured.add(table);
}

function forget(table: string): void {
  ensured.delete(table);
  statements.delete(table);
}

function statementsFor(table: string, kind: TableKind): TableStatements {
  let s = statements.get(table);
  if (s !== undefined) return s;
  const columns = layoutOf(kind).columns;
  const one = `(${columns.map(() => '?').join(',')})`;
  const head = `INSERT INTO "${table}" (${columns.join(',')}) VALUES `;
  s = {
    single: db.prepare(head + one),
    multi: rowsPerStatement > 1 ? db.prepare(head + new Array<string>(rowsPerStatement).fill(one).join(',')) : null,
    singleParams: new Array<unknown>(columns.length),
    multiParams: new Array<unknown>(columns.length * rowsPerStatement),
  };
  statements.set(table, s);
  return s;
}

let markedStmt: Database.Statement | null = null;
let markInsert: Database.Statement | null = null;
let markPrune: Database.Statement | null = null;

/** The marker table of replayed spool records, created on first use; markers of old runs go. */
function ensureDoneTable(): void {
  if (markedStmt !== null) return;
  const t = `"${init.doneTable}"`;
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${t} (spool_id TEXT NOT NULL, record TEXT NOT NULL, piece TEXT NOT NULL, ` +
      `created INTEGER NOT NULL, PRIMARY KEY (spool_id, record, piece))`,
  );
  db.prepare(`DELETE FROM ${t} WHERE created < ?`).run(Math.floor(Date.now() / 1000) - SPOOL_DONE_MAX_AGE_S);
  markedStmt = db.prepare(`SELECT 1 FROM ${t} WHERE spool_id = ? AND record = ? AND piece = ?`);
  markInsert = db.prepare(`INSERT INTO ${t} (spool_id, record, piece, created) VALUES (?, ?, ?, ?)`);
  markPrune = db.prepare(`DELETE FROM ${t} WHERE spool_id = ? AND record <> ?`);
}

type InsertRequest = Extract<Request, { op: 'insert' }>;

const begin = db.prepare('BEGIN');
const commit = db.prepare('COMMIT');
const rollback = db.prepare('ROLLBACK');
const savepoint = db.prepare('SAVEPOINT batch');
const release = db.prepare('RELEASE batch');
const rollbackTo = db.prepare('ROLLBACK TO batch');

/**
 * Writes `first` and, in the same transaction, the inserts that are already waiting on the port
 * (group commit, up to GROUP_MAX_ROWS rows): when the writer is behind, one COMMIT for two
 * batches writes each index page once instead of twice. Each batch is its own SAVEPOINT, so a
 * batch that fails is undone alone and answered with its own error; the batches before it still
 * commit. Answers go out after the COMMIT, in arrival order. A request that cannot join (not an
 * insert, or one that would have to create a table first) is returned, to be handled next.
 */
function insertGroup(first: InsertRequest): Request | undefined {
  const group: InsertRequest[] = [first];
  const answers: Response[] = [];
  let next: Request | undefined;
  try {
    prepareFor(first);
    begin.run();
    let req = first;
    let rows = 0;
    for (;;) {
      savepoint.run();
      try {
        insertRows(req.batch, req.mark);
        release.run();
        answers.push({ op: 'done', id: req.id, ok: true });
      } catch (err) {
        // A failure that ended the transaction (I/O, disk full) fails the whole group below.
        if (!db.inTransaction) throw err;
        rollbackTo.run();
        release.run();
        answers.push(failed(req, err));
        break; // the writer retries or splits it; the batches behind it wait for that
      }
      rows += req.batch.rows;
      if (rows >= GROUP_MAX_ROWS) break;
      const m = receiveMessageOnPort(port);
      if (m === undefined) break;
      next = m.message as Request;
      if (next.op !== 'insert' || !ready(next)) break;
      req = next;
      next = undefined;
      group.push(req);
    }
    commit.run();
  } catch (err) {
    try {
      if (db.inTransaction) rollback.run();
    } catch {
      // the error below is the one that matters
    }
    // Nothing of the group is committed: every batch gets the error.
    answers.length = 0;
    for (const req of group) answers.push(failed(req, err));
  }
  for (const a of answers) post(a);
  if (answers.some((a) => a.op === 'done' && a.ok)) checkpointer?.committed();
  return next;
}

function failed(req: InsertRequest, err: unknown): Response {
  const error = wireError(err);
  if (error.noSuchTable === true) forget(req.batch.table);
  return { op: 'done', id: req.id, ok: false, error };
}

/** Creates what a batch needs before its transaction (the writer ensures first; this only matters after a table was dropped under us). */
function prepareFor(req: InsertRequest): void {
  if (req.mark !== undefined) ensureDoneTable();
  if (!ensured.has(req.batch.table)) ensureTable(req.batch.table, req.batch.kind);
}

/** Whether a batch can join a transaction without creating anything first. */
function ready(req: InsertRequest): boolean {
  return ensured.has(req.batch.table) && (req.mark === undefined || markedStmt !== null);
}

function insertRows(batch: EncodedBatch, mark: ReplayMark | undefined): void {
  const s = statementsFor(batch.table, batch.kind);
  const reader = new BatchReader(batch);
  const width = layoutOf(batch.kind).columns.length;
  let i = 0;
  // Arguments, not one array: better-sqlite3 then binds each value without a keyed array read.
  if (s.multi !== null) {
    for (; i + rowsPerStatement <= reader.rows; i += rowsPerStatement) {
      for (let k = 0; k < rowsPerStatement; k++) reader.fill(i + k, s.multiParams, k * width);
      s.multi.run(...s.multiParams);
    }
  }
  for (; i < reader.rows; i++) {
    reader.fill(i, s.singleParams, 0);
    s.single.run(...s.singleParams);
  }
  if (mark !== undefined) {
    // Commits with the rows; older markers of that spool are behind its read position.
    markInsert!.run(mark.spool, mark.record, mark.piece, Math.floor(Date.now() / 1000));
    markPrune!.run(mark.spool, mark.record);
  }
}

function wireError(err: unknown): WireError {
  const e = err as { message?: unknown; code?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const out: WireError = { message };
  if (typeof e.code === 'string') out.code = e.code;
  if (message.startsWith('no such table')) out.noSuchTable = true;
  return out;
}
