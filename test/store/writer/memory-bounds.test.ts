/**
 * The memory bounds of the writer and the process: queue_max_bytes refuses rows beyond an
 * estimated byte size (counted queue_full), spool_after_batches sends batches to the spool
 * instead of letting them wait in memory when the database is slower than the traffic, and the
 * memory guard sheds above its RSS limit and takes traffic again below it (or once nothing of
 * ours is queued). Fast and deterministic: a fake store, no sockets.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DropReason } from '../../../src/telemetry/drop-reasons.js';
import { MemoryGuard } from '../../../src/control/memory-guard.js';
import { Stats } from '../../../src/telemetry/stats.js';
import type { RowBatch } from '../../../src/store/store.js';
import { estimateRowBytes, ROW_OVERHEAD_BYTES, StoreWriter } from '../../../src/store/writer/writer.js';
import { FakeStore } from '../_fake-store.js';
import { sipRow } from '../_rows.js';

function writer(store: FakeStore, stats: Stats, extra: Partial<ConstructorParameters<typeof StoreWriter>[1]> = {}): StoreWriter {
  return new StoreWriter(store, {
    stats,
    batchSize: 10,
    batchTimeoutMs: 60_000,
    queueMaxRows: 1_000_000,
    insertRetries: 0,
    insertRetryTimeoutS: 0,
    ...extra,
  });
}

describe('queue_max_bytes', () => {
  test('a row costs its message twice plus a fixed overhead', () => {
    const row = sipRow(1);
    assert.ok(Buffer.isBuffer(row.msg));
    assert.equal(estimateRowBytes(row), ROW_OVERHEAD_BYTES + 2 * row.msg.length);
  });

  test('rows beyond the byte bound are refused and counted queue_full; room comes back after the write', async () => {
    const store = new FakeStore();
    store.delayMs = 20;
    const stats = new Stats(null);
    const row = (i: number): ReturnType<typeof sipRow> => sipRow(i, { msg: Buffer.alloc(300, 0x41) });
    const per = estimateRowBytes(row(0));
    const w = writer(store, stats, { queueMaxBytes: per * 25 + per / 2 });
    for (let i = 0; i < 100; i++) w.enqueue('t_faults', 'sip', row(i));
    assert.equal(w.queueDepth, 25);
    assert.ok(w.queueBytes <= per * 25 + per / 2, `${w.queueBytes} bytes queued`);
    assert.equal(stats.droppedCount(DropReason.QUEUE_FULL), 75);
    await w.flush();
    assert.equal(w.queueDepth, 0);
    assert.equal(w.queueBytes, 0);
    w.enqueue('t_faults', 'sip', row(1000));
    await w.close();
    assert.equal(store.committed.get('t_faults')?.length, 26);
    assert.equal(stats.droppedCount(DropReason.QUEUE_FULL), 75);
  });
});

describe('spool_after_batches', () => {
  test('a slow database: batches beyond the limit go to the spool, not memory; nothing dropped', async () => {
    const store = new FakeStore();
    store.delayMs = 50;
    const stats = new Stats(null);
    const spooled: RowBatch[] = [];
    const w = writer(store, stats, { spoolAfterBatches: 2, onUnwritable: (b) => void spooled.push(b) });
    let maxReady = 0;
    for (let i = 0; i < 200; i++) {
      w.enqueue('t_faults', 'sip', sipRow(i));
      maxReady = Math.max(maxReady, w.readyBatches);
    }
    // 20 batches cut at once: one in flight, two waiting, the rest handed to the spool.
    assert.ok(maxReady <= 2, `${maxReady} batches waited`);
    await w.close();
    const spooledRows = spooled.reduce((n, b) => n + b.rows.length, 0);
    const written = store.committed.get('t_faults')?.length ?? 0;
    assert.ok(spooledRows >= 150, `${spooledRows} rows spooled`);
    assert.equal(spooledRows + written, 200);
    assert.deepEqual(stats.snapshot().dropped, {});
    assert.equal(w.queueBytes, 0);
  });

  test('0 keeps every batch in memory (the old behaviour)', async () => {
    const store = new FakeStore();
    store.delayMs = 5;
    const stats = new Stats(null);
    const spooled: RowBatch[] = [];
    const w = writer(store, stats, { spoolAfterBatches: 0, onUnwritable: (b) => void spooled.push(b) });
    for (let i = 0; i < 200; i++) w.enqueue('t_faults', 'sip', sipRow(i));
    assert.equal(w.readyBatches, 19);
    await w.close();
    assert.equal(spooled.length, 0);
    assert.equal(store.committed.get('t_faults')?.length, 200);
  });

  test('without a spool nothing is spilled', async () => {
    const store = new FakeStore();
    store.delayMs = 5;
    const stats = new Stats(null);
    const w = writer(store, stats, { spoolAfterBatches: 1 });
    for (let i = 0; i < 100; i++) w.enqueue('t_faults', 'sip', sipRow(i));
    await w.close();
    assert.equal(store.committed.get('t_faults')?.length, 100);
  });
});

describe('MemoryGuard', () => {
  test('sheds above the limit, takes traffic again below 90 % of it', () => {
    let rss = 100;
    const queued = 1000;
    const g = new MemoryGuard({ limitBytes: 200, rss: () => rss, queuedBytes: () => queued });
    g.sample(0);
    assert.equal(g.shedding, false);
    rss = 201;
    g.sample(1);
    assert.equal(g.shedding, true);
    rss = 185; // below the limit, not below 90 %: still shedding while our queues drain
    g.sample(2);
    assert.equal(g.shedding, true);
    rss = 179;
    g.sample(3);
    assert.equal(g.shedding, false);
    assert.deepEqual({ ...g.state(), rssBytes: 0 }, { rssBytes: 0, limitBytes: 200, shedding: false, episodes: 1, peakRssBytes: 201 });
  });

  test('RSS high with nothing queued: resumes; sheds again only when RSS grows past that floor (+10 % of the limit), not within holdOffMs', () => {
    let rss = 300;
    let queued = 10;
    const g = new MemoryGuard({ limitBytes: 200, rss: () => rss, queuedBytes: () => queued, holdOffMs: 1000 });
    g.sample(0);
    assert.equal(g.shedding, true);
    queued = 0;
    g.sample(100);
    assert.equal(g.shedding, false, 'nothing of ours to free: shedding would only lose traffic');
    queued = 10;
    g.sample(1200);
    assert.equal(g.shedding, false, 'RSS stuck at the floor (300): not ours, no shedding');
    rss = 315;
    g.sample(1400);
    assert.equal(g.shedding, false, 'within floor + 10 % of the limit');
    rss = 310;
    g.sample(1500);
    rss = 321;
    g.sample(1600);
    assert.equal(g.shedding, true, 'grew past the floor: shed');
    assert.equal(g.state().episodes, 2);
    rss = 170;
    g.sample(1700);
    assert.equal(g.shedding, false);
    rss = 201;
    g.sample(1800);
    assert.equal(g.shedding, true, 'below the resume mark the floor is forgotten: the limit applies again');
  });

  test('the hold-off: no new episode within holdOffMs of a resume with nothing queued', () => {
    let rss = 300;
    let queued = 10;
    const g = new MemoryGuard({ limitBytes: 200, rss: () => rss, queuedBytes: () => queued, holdOffMs: 1000 });
    g.sample(0);
    queued = 0;
    g.sample(100);
    rss = 400;
    queued = 10;
    g.sample(600);
    assert.equal(g.shedding, false, 'held off');
    g.sample(1200);
    assert.equal(g.shedding, true);
  });

  test('the real RSS: a limit below it sheds at the first sample', () => {
    const g = new MemoryGuard({ limitBytes: 1024 * 1024 });
    g.start();
    try {
      assert.equal(g.shedding, true);
      assert.ok(g.state().rssBytes > 1024 * 1024);
    } finally {
      g.stop();
    }
  });
});
