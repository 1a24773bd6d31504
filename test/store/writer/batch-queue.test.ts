/**
 * The queue knows nothing of rows or SQL: here its items are plain frames for two
 * destinations, as an output that is not a database would queue them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchQueue, type QueuedBatch } from '../../../src/store/writer/batch-queue.js';

type Frame = Buffer;

function queue(over: Partial<ConstructorParameters<typeof BatchQueue<Frame, string>>[0]> = {}) {
  const written: QueuedBatch<Frame, string>[] = [];
  const spilled: QueuedBatch<Frame, string>[] = [];
  let release: (() => void) | null = null;
  const q = new BatchQueue<Frame, string>({
    batchSize: 3,
    batchTimeoutMs: 20,
    maxItems: 100,
    maxInFlight: 1,
    mergeMaxItems: 3,
    spillAfterBatches: 0,
    bytesOf: (f) => f.length,
    write: async (b) => {
      written.push(b);
      if (release === null) await Promise.resolve();
    },
    maySpill: () => true,
    spill: (b) => {
      spilled.push(b);
      return Promise.resolve();
    },
    ...over,
  });
  return { q, written, spilled, hold: (r: (() => void) | null) => (release = r) };
}

test('batches per key, cut at batchSize or after batchTimeoutMs, in order', async () => {
  const { q, written } = queue();
  for (let i = 0; i < 4; i++) assert.equal(q.offer('udp:a', 'a', Buffer.from([i])), null);
  assert.equal(q.offer('tcp:b', 'b', Buffer.from([9])), null);
  await sleep(60);
  await q.flush();
  assert.deepEqual(
    written.map((b) => [b.key, b.meta, b.items.map((f) => f[0])]),
    [
      ['udp:a', 'a', [0, 1, 2]],
      ['udp:a', 'a', [3]],
      ['tcp:b', 'b', [9]],
    ],
  );
  assert.equal(q.itemCount, 0);
});

test('bounds: items and bytes refused beyond them, given back once written', async () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const { q } = queue({ maxItems: 4, maxBytes: 10, write: () => gate });
  assert.equal(q.offer('k', '', Buffer.alloc(4)), null);
  assert.equal(q.offer('k', '', Buffer.alloc(4)), null);
  assert.equal(q.offer('k', '', Buffer.alloc(4)), 'bytes');
  assert.equal(q.offer('k', '', Buffer.alloc(1)), null);
  assert.equal(q.offer('k', '', Buffer.alloc(1)), null);
  assert.equal(q.offer('k', '', Buffer.alloc(0)), 'items');
  open();
  await q.flush();
  assert.equal(q.byteCount, 0);
  assert.equal(q.offer('k', '', Buffer.alloc(4)), null);
  await q.flush();
});

test('beyond spillAfterBatches waiting batches, new ones go to spill; takeWaiting empties the queue in order', async () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const { q, spilled } = queue({ spillAfterBatches: 1, write: () => gate });
  for (let i = 0; i < 9; i++) q.offer('k', '', Buffer.from([i]));
  // One in flight, one waiting, the third spilled.
  assert.deepEqual(spilled.map((b) => b.items.map((f) => f[0])), [[6, 7, 8]]);
  q.offer('k', '', Buffer.from([9]));
  const taken = q.takeWaiting();
  assert.deepEqual(taken.map((b) => b.items.map((f) => f[0])), [[3, 4, 5], [9]]);
  open();
  await q.flush();
  assert.equal(q.itemCount, 0);
});
