/**
 * The thread that checkpoints the SQLite WAL (copies committed pages from the -wal file into the
 * database file), so the writer thread never does it inside a COMMIT. Started by sqlite-worker.ts
 * with its own connection to the same file.
 *
 * It sleeps on a shared counter the writer bumps after each commit (Atomics.wait: no event loop,
 * nothing else runs on this thread), then runs a PASSIVE checkpoint, at most once per
 * `intervalMs`: a page changed by several commits in that time is copied once. PASSIVE never
 * waits for the writer or readers. The writer bounds the WAL itself (see startCheckpointer in
 * sqlite-worker.ts), for when this thread falls behind.
 */
import { workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { CKPT_COMMITS, CKPT_LOCK, CKPT_STOP, CKPT_WANTED, type CheckpointerInit } from './protocol.js';

const init = workerData as CheckpointerInit;
const sig = new Int32Array(init.signal);

const db = new Database(init.path, { fileMustExist: true });
try {
  // The checkpoint's fsyncs (WAL before copying, database after) follow this connection's
  // setting: NORMAL, as the writer's.
  db.pragma('synchronous = NORMAL');
  // A checkpoint copies frames without the page cache; this connection needs next to none.
  db.pragma('cache_size = 16');
  const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  // From 0: commits made before this thread was up are checkpointed at once.
  let seen = 0;
  let last = 0;
  while (Atomics.load(sig, CKPT_STOP) === 0) {
    Atomics.wait(sig, CKPT_COMMITS, seen);
    const wait = last + init.intervalMs - performance.now();
    // Sleeps, but wakes at once on stop (the writer notifies CKPT_STOP when closing).
    if (wait > 0) Atomics.wait(sig, CKPT_STOP, 0, wait);
    if (Atomics.load(sig, CKPT_STOP) !== 0) break;
    seen = Atomics.load(sig, CKPT_COMMITS);
    last = performance.now();
    // The writer wants to checkpoint itself (the WAL is too long): it leaves the next ones to us.
    if (Atomics.load(sig, CKPT_WANTED) !== 0 || Atomics.compareExchange(sig, CKPT_LOCK, 0, 1) !== 0) continue;
    try {
      checkpoint.run();
    } catch {
      // An I/O error now may be gone at the next commit; the writer bounds the WAL meanwhile.
    } finally {
      Atomics.store(sig, CKPT_LOCK, 0);
    }
  }
} finally {
  db.close();
}
