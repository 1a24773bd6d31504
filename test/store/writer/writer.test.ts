import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { TableKind } from '../../../src/capture/rows.js';
import { DropReason } from '../../../src/telemetry/drop-reasons.js';
import { Stats } from '../../../src/telemetry/stats.js';
import { SqliteStore } from '../../../src/store/sqlite/index.js';
import type { RowBatch, Store } from '../../../src/store/store.js';
import { StoreWriter, estimateRowBytes, type StoreWriterOptions } from '../../../src/store/writer/writer.js';
import { FakeStore } from '../_fake-store.js';
import { reportRow, sipRow } from '../_rows.js';

let dir = '';
let seq = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sipcapture-writer-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A real SqliteStore, with every insert call recorded (rows, time, outcome). */
class RecordingStore implements Store {
  readonly backend = 'sqlite' as const;
  readonly displayUrl: string;
  readonly calls: { rows: number; at: number; ok: boolean }[] = [];
  constructor(readonly inner: SqliteStore) {
    this.displayUrl = inner.displayUrl;
  }
  ensureTable(table: string, kind: TableKind): Promise<void> {
    return this.inner.ensureTable(table, kind);
  }
  async insert(batch: RowBatch): Promise<void> {
    const at = Date.now();
    try {
      await this.inner.insert(batch);
      this.calls.push({ rows: batch.rows.length, at, ok: true });
    } catch (err) {
      this.calls.push({ rows: batch.rows.length, at, ok: false });
      throw err;
    }
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  get failures(): number {
    return this.calls.filter((c) => !c.ok).length;
  }
}

async function setup(
  opts: Partial<StoreWriterOptions> = {},
  busyTimeoutMs = 0,
): Promise<{ path: string; store: RecordingStore; stats: Stats; writer: StoreWriter }> {
  const path = join(dir, `w${++seq}.sqlite`);
  const store = new RecordingStore(await SqliteStore.open(`sqlite://${path}`, { busyTimeoutMs }));
  const stats = new Stats(null);
  const writer = new StoreWriter(store, {
    stats,
    batchSize: 100,
    batchTimeoutMs: 60_000,
    queueMaxRows: 100_000,
    insertRetries: 0,
    insertRetryTimeoutS: 0,
    retryBaseDelayMs: 10,
    ...opts,
  });
  return { path, store, stats, writer };
}

function count(path: string, table: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Holds SQLite's write lock from another connection: inserts fail with SQLITE_BUSY. */
function lock(path: string): { release(): void } {
  const db = new Database(path);
  db.exec('BEGIN EXCLUSIVE');
  return {
    release() {
      db.exec('COMMIT');
      db.close();
    },
  };
}

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(5);
  }
}

describe('StoreWriter batching', () => {
  test('flushes at batch_size rows', async () => {
    const { path, store, stats, writer } = await setup({ batchSize: 100 });
    for (let i = 0; i < 250; i++) writer.enqueue('sip_capture', 'sip', sipRow(i));
    await waitFor(() => store.calls.length === 2);
    await sleep(50);
    assert.deepEqual(store.calls.map((c) => c.rows), [100, 100]);
    assert.equal(writer.queueDepth, 50);
    await writer.flush();
    assert.deepEqual(store.calls.map((c) => c.rows), [100, 100, 50]);
    assert.equal(writer.queueDepth, 0);
    assert.equal(stats.snapshot().stored['sip_capture'], 250);
    await writer.close();
    await store.close();
    assert.equal(count(path, 'sip_capture'), 250);
  });

  test('flushes after batch_timeout_ms', async () => {
    const { store, writer } = await setup({ batchSize: 1000, batchTimeoutMs: 80 });
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) writer.enqueue('sip_capture', 'sip', sipRow(i));
    await sleep(30);
    assert.equal(store.calls.length, 0);
    await waitFor(() => store.calls.length === 1);
    assert.ok(store.calls[0]!.at - t0 >= 75, `flushed after ${store.calls[0]!.at - t0} ms`);
    assert.equal(store.calls[0]!.rows, 10);
    await writer.close();
    await store.close();
  });

  test('one batch per table; tables created on first use; stored counted per table', async () => {
    const { path, store, stats, writer } = await setup({ batchSize: 1000 });
    for (let i = 0; i < 30; i++) writer.enqueue(i % 2 ? 'sip_capture_call_20261122' : 'sip_capture_rest_20261122', 'sip', sipRow(i));
    for (let i = 0; i < 5; i++) writer.enqueue('rtcp_capture', 'rtcp', reportRow(i));
    await writer.close();
    await store.close();
    assert.deepEqual(stats.snapshot().stored, { sip_capture_call_20261122: 15, sip_capture_rest_20261122: 15, rtcp_capture: 5 });
    assert.equal(count(path, 'sip_capture_call_20261122'), 15);
    assert.equal(count(path, 'rtcp_capture'), 5);
    assert.equal(store.calls.length, 3);
  });

  test('queue_max_rows bounds the queue; the excess is counted queue_full', async () => {
    const { path, store, stats, writer } = await setup({ batchSize: 1000, queueMaxRows: 100 });
    for (let i = 0; i < 150; i++) writer.enqueue('sip_capture', 'sip', sipRow(i));
    assert.equal(writer.queueDepth, 100);
    assert.equal(stats.droppedCount(DropReason.QUEUE_FULL), 50);
    await writer.flush();
    assert.equal(writer.queueDepth, 0);
    writer.enqueue('sip_capture', 'sip', sipRow(1000)); // room again
    await writer.close();
    await store.close();
    assert.equal(count(path, 'sip_capture'), 101);
    assert.equal(stats.droppedCount(DropReason.QUEUE_FULL), 50);
  });

  test('an unsafe table name is counted bad_table_name, never sent', async () => {
    const { store, stats, writer } = await setup();
    writer.enqueue('x; DROP TABLE sip_capture', 'sip', sipRow(1));
    writer.enqueue('ok_table', 'sip', sipRow(2));
    await writer.close();
    await store.close();
    assert.equal(stats.droppedCount(DropReason.BAD_TABLE_NAME), 1);
    assert.equal(store.calls.length, 1);
  });

  test('close() drains everything; later rows are counted shutdown', async () => {
    const { path, store, stats, writer } = await setup({ batchSize: 1000, batchTimeoutMs: 60_000 });
    for (let i = 0; i < 5000; i++) writer.enqueue('sip_capture', 'sip', sipRow(i));
    writer.enqueue('sip_capture', 'sip', sipRow(5000));
    await writer.close();
    writer.enqueue('sip_capture', 'sip', sipRow(5001));
    assert.equal(stats.droppedCount(DropReason.SHUTDOWN), 1);
    await store.close();
    assert.equal(count(path, 'sip_capture'), 5001);
    assert.equal(stats.snapshot().stored['sip_capture'], 5001);
  });
});

describe('StoreWriter backlog merging (batch_merge)', () => {
  const callids = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, k) => sipRow(from + k).callid);

  test('batches waiting behind a slow insert go out together, in order, at most batchMerge at a time', async () => {
    const store = new FakeStore();
    store.delayMs = 40;
    const stats = new Stats(null);
    const writer = new StoreWriter(store, { stats, batchSize: 100, batchTimeoutMs: 60_000, queueMaxRows: 100_000, insertRetries: 0, insertRetryTimeoutS: 0, batchMerge: 3 });
    for (let i = 0; i < 100; i++) writer.enqueue('t', 'sip', sipRow(i)); // cut and in flight at once
    for (let i = 100; i < 800; i++) writer.enqueue('t', 'sip', sipRow(i)); // 7 batches wait behind it
    assert.equal(writer.readyBatches, 7);
    await writer.close();
    assert.deepEqual(store.calls.map((c) => c.rows), [100, 300, 300, 100]);
    assert.deepEqual(store.committed.get('t'), callids(0, 800));
    assert.equal(stats.snapshot().stored['t'], 800);
    assert.equal(writer.queueDepth, 0);
    assert.equal(writer.queueBytes, 0);
  });

  test('only consecutive batches of the same table merge; the order of tables is kept', async () => {
    const store = new FakeStore();
    store.delayMs = 40;
    const stats = new Stats(null);
    const writer = new StoreWriter(store, { stats, batchSize: 10, batchTimeoutMs: 60_000, queueMaxRows: 100_000, insertRetries: 0, insertRetryTimeoutS: 0, batchMerge: 8 });
    const fill = (table: string, from: number): void => {
      for (let i = from; i < from + 10; i++) writer.enqueue(table, 'sip', sipRow(i));
    };
    fill('a', 0); // in flight
    fill('a', 10);
    fill('a', 20);
    fill('b', 30);
    fill('a', 40);
    await writer.close();
    assert.deepEqual(store.calls, [
      { table: 'a', rows: 10 },
      { table: 'a', rows: 20 },
      { table: 'b', rows: 10 },
      { table: 'a', rows: 10 },
    ]);
    assert.deepEqual(store.committed.get('a'), [...callids(0, 30), ...callids(40, 50)]);
  });

  test('a poisoned row in a merged insert loses only itself', async () => {
    const store = new FakeStore((c) => c === sipRow(250).callid);
    store.delayMs = 20;
    const stats = new Stats(null);
    const writer = new StoreWriter(store, { stats, batchSize: 100, batchTimeoutMs: 60_000, queueMaxRows: 100_000, insertRetries: 0, insertRetryTimeoutS: 0, batchMerge: 4 });
    for (let i = 0; i < 500; i++) writer.enqueue('t', 'sip', sipRow(i));
    await writer.close();
    assert.equal(store.calls[1]?.rows, 400, 'the four waiting batches went as one insert');
    assert.deepEqual(store.committed.get('t'), callids(0, 500).filter((c) => c !== sipRow(250).callid));
    assert.equal(stats.droppedCount(DropReason.DB_ERROR), 1);
  });

  test('rows in flight stay within half of queue_max_bytes: a merge stops early', async () => {
    const store = new FakeStore();
    store.delayMs = 40;
    const stats = new Stats(null);
    // The biggest batch's estimate (rows differ by a few bytes of Call-ID).
    let batchBytes = 0;
    for (let b = 0; b < 7; b++) {
      let sum = 0;
      for (let i = b * 100; i < (b + 1) * 100; i++) sum += estimateRowBytes(sipRow(i));
      batchBytes = Math.max(batchBytes, sum);
    }
    const writer = new StoreWriter(store, {
      stats,
      batchSize: 100,
      batchTimeoutMs: 60_000,
      queueMaxRows: 100_000,
      queueMaxBytes: 8 * batchBytes + 2, // the budget in flight: 4 batches
      insertRetries: 0,
      insertRetryTimeoutS: 0,
      maxInFlight: 2,
      batchMerge: 4,
    });
    for (let i = 0; i < 700; i++) writer.enqueue('t', 'sip', sipRow(i)); // 2 in flight, 5 waiting
    assert.equal(writer.readyBatches, 5);
    await writer.close();
    // When the first finishes one batch is still in flight, so three ride together, not four.
    assert.deepEqual(store.calls.map((c) => c.rows), [100, 100, 300, 100, 100]);
    assert.equal(stats.droppedCount(DropReason.QUEUE_FULL), 0);
    assert.equal(stats.snapshot().stored['t'], 700);
  });

  test('batchMerge 1 (the writer default) never merges', async () => {
    const store = new FakeStore();
    store.delayMs = 20;
    const writer = new StoreWriter(store, { stats: new Stats(null), batchSize: 100, batchTimeoutMs: 60_000, queueMaxRows: 100_000, insertRetries: 0, insertRetryTimeoutS: 0 });
    for (let i = 0; i < 400; i++) writer.enqueue('t', 'sip', sipRow(i));
    await writer.close();
    assert.deepEqual(store.calls.map((c) => c.rows), [100, 100, 100, 100]);
  });
});

describe('StoreWriter failures', () => {
  async function poisoned(positions: number[], n: number, ordered = true): Promise<void> {
    const { path, store, stats, writer } = await setup({ batchSize: n, insertRetries: 1 });
    await store.ensureTable('sip_capture', 'sip');
    const side = new Database(path);
    side.exec(`CREATE TRIGGER poison BEFORE INSERT ON sip_capture WHEN NEW.callid LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END`);
    side.close();
    for (let i = 0; i < n; i++) writer.enqueue('sip_capture', 'sip', sipRow(i, positions.includes(i) ? { callid: `poison-${i}` } : {}));
    await writer.close();
    await store.close();
    assert.equal(stats.droppedCount(DropReason.DB_ERROR), positions.length);
    assert.equal(stats.snapshot().stored['sip_capture'], n - positions.length);
    const db = new Database(path, { readonly: true });
    const cids = (db.prepare('SELECT callid FROM sip_capture ORDER BY id').all() as { callid: string }[]).map((r) => r.callid);
    db.close();
    const want = Array.from({ length: n }, (_, i) => i)
      .filter((i) => !positions.includes(i))
      .map((i) => sipRow(i).callid);
    if (ordered) assert.deepEqual(cids, want, 'every other row stored, in order');
    else assert.deepEqual([...cids].sort(), [...want].sort(), 'every other row stored');
    // Retries of the whole batch (2), then about 2·log2(n) pieces per poisoned row, not n.
    assert.ok(store.calls.length <= 2 + positions.length * 2 * Math.ceil(Math.log2(n)) + 2, `${store.calls.length} insert calls`);
  }

  test('a poisoned row loses only itself', () => poisoned([637], 1000));
  test('poisoned first and last rows', () => poisoned([0, 999], 1000));
  test('several poisoned rows in a row', () => poisoned([10, 11, 12, 13, 14, 15, 16, 17, 18, 19], 200));
  // More bad rows at the start than isolationGiveUpAfter (8): the probe of the last row shows
  // the database works, so splitting goes on and the good rows are not handed on.
  test('ten poisoned rows at the start of a batch', () => poisoned([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 100, false));

  test('retries with exponential back-off, then succeeds: nothing lost', async () => {
    const { path, store, stats, writer } = await setup({ batchSize: 10, insertRetries: 10, retryBaseDelayMs: 40, retryMaxDelayMs: 2000 });
    await store.ensureTable('sip_capture', 'sip');
    const l = lock(path);
    for (let i = 0; i < 10; i++) writer.enqueue('sip_capture', 'sip', sipRow(i));
    await waitFor(() => store.failures === 4);
    l.release();
    await writer.flush();
    assert.equal(stats.droppedCount(DropReason.DB_ERROR), 0);
    assert.equal(stats.snapshot().stored['sip_capture'], 10);
    assert.ok(!writer.failing);
    const at = store.calls.map((c) => c.at);
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    // 40, 80, 160 ms between the first failed attempts (timers fire late, never early).
    assert.ok(gaps[0]! >= 38 && gaps[1]! >= 78 && gaps[2]! >= 158, `gaps ${gaps.join(',')}`);
    assert.ok(gaps[2]! > gaps[0]!, `back-off grows: ${gaps.join(',')}`);
    await writer.close();
    await store.close();
    assert.equal(count(path, 'sip_capture'), 10);
  });

  test('insert_retries bounds the attempts; then split, give up early on a dead database, hand on', async () => {
    const handed: RowBatch[] = [];
    const { path, store, stats, writer } = await setup({
      batchSize: 10,
      insertRetries: 3,
      retryBaseDelayMs: 5,
      isolationGiveUpAfter: 2,
      outageProbeIntervalMs: 0,
      onUnwritable: (b) => {
        handed.push(b);
      },
    });
    await store.ensureTable('sip_capture', 'sip');
    const l = lock(path);
    for (let i = 0; i < 10; i++) writer.enqueue('sip_capture', 'sip', sipRow(i));
    await writer.flush();
    assert.equal(store.calls.filter((c) => c.rows === 10).length, 4, 'first attempt + 3 retries');
    assert.ok(store.calls.length <= 4 + 2 * Math.ceil(Math.log2(10)) + 2, `${store.calls.length} calls`);
    assert.equal(handed.reduce((n, b) => n + b.rows.length, 0), 10, 'every row handed on exactly once');
    assert.deepEqual(handed.flatMap((b) => b.rows.map((r) => (r as { callid: string }).callid)), Array.from({ length: 10 }, (_, i) => sipRow(i).callid));
    assert.equal(stats.droppedCount(DropReason.DB_ERROR), 0, 'the handler took them');

    // Known outage + a spool: the next batch gets one attempt (outageProbeIntervalMs 0 here),
    // then goes to the handler.
    const before = store.calls.length;
    for (let i = 10; i < 20; i++) writer.enqueue('sip_capture', 'sip', sipRow(i));
    await writer.flush();
    assert.equal(store.calls.length - before, 1);
    assert.equal(handed.reduce((n, b) => n + b.rows.length, 0), 20);

    l.release();
    for (let i = 20; i < 30; i++) writer.enqueue('sip_capture', 'sip', sipRow(i));
    await writer.close();
    await store.close();
    assert.equal(count(path, 'sip_capture'), 10);
    assert.ok(!writer.failing);
  });

  test('without a handler, unwritable rows are counted db_error', async () => {
    const { path, store, stats, writer } = await setup({ batchSize: 10, insertRetries: 1, retryBaseDelayMs: 5 });
    await store.ensureTable('sip_capture', 'sip');
    const l = lock(path);
    for (let i = 0; i < 10; i++) writer.enqueue('sip_capture', 'sip', sipRow(i));
    await writer.close();
    l.release();
    await store.close();
    assert.equal(stats.droppedCount(DropReason.DB_ERROR), 10);
  });

  test('a failing handler counts the rows as db_error', async () => {
    const { path, store, stats, writer } = await setup({
      batchSize: 4,
      onUnwritable: () => Promise.reject(new Error('spool full')),
    });
    await store.ensureTable('sip_capture', 'sip');
    const l = lock(path);
    for (let i = 0; i < 4; i++) writer.enqueue('sip_capture', 'sip', sipRow(i));
    await writer.close();
    l.release();
    await store.close();
    assert.equal(stats.droppedCount(DropReason.DB_ERROR), 4);
  });

  test('insert_retry_timeout bounds the time spent retrying', async () => {
    const { path, store, writer } = await setup({ batchSize: 5, insertRetries: 500, insertRetryTimeoutS: 1, retryBaseDelayMs: 50, retryMaxDelayMs: 200, onUnwritable: () => {} });
    await store.ensureTable('sip_capture', 'sip');
    const l = lock(path);
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) writer.enqueue('sip_capture', 'sip', sipRow(i));
    await writer.flush();
    const elapsed = Date.now() - t0;
    l.release();
    const full = store.calls.filter((c) => c.rows === 5).length;
    assert.ok(elapsed >= 950 && elapsed < 3000, `${elapsed} ms`);
    assert.ok(full >= 5 && full <= 12, `${full} attempts (not a busy loop, not 501)`);
    await writer.close();
    await store.close();
  });

  test('stopRetrying() ends back-off at once (shutdown that cannot wait)', async () => {
    const handed: RowBatch[] = [];
    const { path, store, writer } = await setup({
      batchSize: 5,
      insertRetries: 500,
      insertRetryTimeoutS: 300,
      retryBaseDelayMs: 1000,
      onUnwritable: (b) => {
        handed.push(b);
      },
    });
    await store.ensureTable('sip_capture', 'sip');
    const l = lock(path);
    for (let i = 0; i < 5; i++) writer.enqueue('sip_capture', 'sip', sipRow(i));
    await waitFor(() => store.failures === 1);
    const t0 = Date.now();
    writer.stopRetrying();
    await writer.close();
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(handed.reduce((n, b) => n + b.rows.length, 0), 5);
    l.release();
    await store.close();
  });
});
