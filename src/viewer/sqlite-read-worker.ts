/**
 * The viewer's SQLite reader thread: one read-only connection (query_only), opened on first use
 * and again after a failure, so a database file that does not exist yet only means no rows.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { SQLITE_DEADLINE_FUNCTION, type ReadRequest, type ReadResponse, type ReadWorkerInit } from './sqlite-read-protocol.js';

if (parentPort === null) throw new Error('sqlite-read-worker must run in a worker thread');
const port = parentPort;
const init = workerData as ReadWorkerInit;
let db: Database.Database | null = null;
let deadlineMs = 0;

function connection(): Database.Database | null {
  if (db !== null) return db;
  try {
    db = new Database(init.file, { readonly: true, fileMustExist: true });
  } catch {
    return null;
  }
  db.pragma('query_only = 1');
  // Called for every row a query visits: the only way to stop a SQLite statement from here.
  db.function(SQLITE_DEADLINE_FUNCTION, { deterministic: false }, () => {
    if (Date.now() > deadlineMs) throw new Error(`query cancelled: it ran past its time limit`);
    return 1;
  });
  // The writer holds the lock for the length of one batch at most.
  db.pragma('busy_timeout = 2000');
  return db;
}

port.on('message', (req: ReadRequest) => {
  const res: ReadResponse = { id: req.id };
  const conn = connection();
  if (conn === null) {
    res.rows = [];
  } else {
    try {
      deadlineMs = req.deadlineMs;
      res.rows = conn.prepare(req.sql).all(...req.params) as Record<string, unknown>[];
    } catch (err) {
      res.error = (err as Error).message;
      if (/no such table/.test(res.error)) {
        // A table can vanish between listing and reading (rotation): no rows, not an error.
        res.rows = [];
        delete res.error;
      }
    }
  }
  port.postMessage(res);
});
