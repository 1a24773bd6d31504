/**
 * The thread that owns the SQLite connection. better-sqlite3 is synchronous, so running it here
 * keeps the receive loop on the main thread from ever waiting on the disk. One request at a
 * time, in arrival order: ensure (CREATE … IF NOT EXISTS), insert (one transaction per batch),
 * close.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { TableKind } from '../../capture/rows.js';
import { BatchReader, layoutOf, type EncodedBatch, type Request, type Response, type WireError, type WorkerInit } from './protocol.js';
import { parseSchemaTemplate, renderTableStatements } from './schema.js';
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
try {
  if (init.path !== ':memory:' && init.path !== '') mkdirSync(dirname(init.path), { recursive: true });
  db = new Database(init.path);
  db.pragma('journal_mode = WAL'); // ':memory:' answers 'memory', which is fine
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(init.busyTimeoutMs))}`);
  // Nine indexes per sip table: a bigger page cache keeps their upper levels in memory.
  db.pragma(`cache_size = -${Math.max(2000, Math.floor(init.cacheSizeKiB))}`);
} catch (err) {
  post({ op: 'fatal', error: wireError(err) });
  port.close();
  throw err;
}

const schema = parseSchemaTemplate(init.schemaText, 'sql/sqlite/schema.sql');
const ensured = new Set<string>();
const statements = new Map<string, TableStatements>();
const rowsPerStatement = Math.max(1, Math.floor(init.rowsPerStatement));

post({ op: 'ready' });

port.on('message', (req: Request) => {
  try {
    switch (req.op) {
      case 'ensure':
        ensureTable(req.table, req.kind);
        break;
      case 'insert':
        insert(req.batch, req.mark);
        break;
      case 'marked':
        ensureDoneTable();
        post({ op: 'done', id: req.id, ok: true, value: markedStmt!.get(req.mark.spool, req.mark.record, req.mark.piece) !== undefined });
        return;
      case 'close':
        db.close();
        post({ op: 'done', id: req.id, ok: true });
        port.close();
        return;
    }
    post({ op: 'done', id: req.id, ok: true });
  } catch (err) {
    const error = wireError(err);
    if (error.noSuchTable === true && req.op === 'insert') forget(req.batch.table);
    post({ op: 'done', id: req.id, ok: false, error });
  }
});

function ensureTable(table: string, kind: TableKind): void {
  if (ensured.has(table)) return;
  const stmts = renderTableStatements(schema, kind, table);
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

function insert(batch: EncodedBatch, mark: ReplayMark | undefined): void {
  if (mark !== undefined) ensureDoneTable();
  // The writer always ensures first; this only matters after a table was dropped under us.
  if (!ensured.has(batch.table)) ensureTable(batch.table, batch.kind);
  const s = statementsFor(batch.table, batch.kind);
  const reader = new BatchReader(batch);
  const width = layoutOf(batch.kind).columns.length;
  db.transaction(() => {
    let i = 0;
    if (s.multi !== null) {
      for (; i + rowsPerStatement <= reader.rows; i += rowsPerStatement) {
        for (let k = 0; k < rowsPerStatement; k++) reader.fill(i + k, s.multiParams, k * width);
        s.multi.run(s.multiParams);
      }
    }
    for (; i < reader.rows; i++) {
      reader.fill(i, s.singleParams, 0);
      s.single.run(s.singleParams);
    }
    if (mark !== undefined) {
      // Commits with the rows; older markers of that spool are behind its read position.
      markInsert!.run(mark.spool, mark.record, mark.piece, Math.floor(Date.now() / 1000));
      markPrune!.run(mark.spool, mark.record);
    }
  })();
}

function wireError(err: unknown): WireError {
  const e = err as { message?: unknown; code?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const out: WireError = { message };
  if (typeof e.code === 'string') out.code = e.code;
  if (message.startsWith('no such table')) out.noSuchTable = true;
  return out;
}
