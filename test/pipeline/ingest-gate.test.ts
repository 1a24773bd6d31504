/**
 * IngestGate, the daemon's IngestFlow: congested at three quarters of a writer's queue (rows or
 * bytes) or of the pipeline threads' bound, relieved under half; `room()` is how far a receive
 * thread may read ahead, ≤ 0 exactly when the gate closes; relief is called once, by a poll.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IngestGate, type QueueLevel } from '../../src/pipeline/ingest-gate.js';

function gate(writers: QueueLevel[], threads: { queuedBytes: number; maxQueuedBytes: number; queuedPackets: number } | null = null): IngestGate {
  return new IngestGate({ writers: () => writers, maxRows: 1000, maxBytes: 1_000_000, threads, pollMs: 2 });
}

describe('IngestGate', () => {
  test('room counts down to the congested mark of the fullest writer, minus the packets with the threads', () => {
    const a = { queueDepth: 100, queueBytes: 0 };
    const b = { queueDepth: 400, queueBytes: 0 };
    const threads = { queuedBytes: 1_000, maxQueuedBytes: 10_000, queuedPackets: 50 };
    const g = gate([a, b], threads);
    assert.deepEqual(g.room(), { packets: 750 - 400 - 50, bytes: 7_500 - 1_000 });
    assert.equal(g.congested, false);
    b.queueDepth = 700;
    assert.equal(g.room().packets, 0);
    assert.equal(g.congested, true, 'no room left is the congested mark');
    b.queueDepth = 460;
    assert.equal(g.congested, true, 'still closed above half (460 + 50 with the threads)');
    b.queueDepth = 440;
    threads.queuedPackets = 0;
    assert.ok(g.room().packets > 0);
    b.queueDepth = 100;
    assert.equal(g.congested, false, 'open again under half');
  });

  test('a writer three quarters full in bytes leaves no room; so does the threads\' byte bound', () => {
    const w = { queueDepth: 0, queueBytes: 750_000 };
    assert.equal(gate([w]).room().packets, 0);
    assert.equal(gate([w]).congested, true);
    const threads = { queuedBytes: 7_600, maxQueuedBytes: 10_000, queuedPackets: 0 };
    const g = gate([{ queueDepth: 0, queueBytes: 0 }], threads);
    assert.ok(g.room().bytes < 0);
    assert.equal(g.congested, true);
  });

  test('onRelief resumes each waiter once, when the queues are under half', async () => {
    const w = { queueDepth: 900, queueBytes: 0 };
    const g = gate([w]);
    assert.equal(g.congested, true);
    let resumed = 0;
    g.onRelief(() => resumed++);
    g.onRelief(() => resumed++);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(resumed, 0, 'not while congested');
    w.queueDepth = 10;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(resumed, 2);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(resumed, 2, 'once each');
  });
});
