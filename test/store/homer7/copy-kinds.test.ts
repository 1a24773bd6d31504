// The two COPY BINARY kinds the HOMER 7 store adds to postgres/copy-binary.ts, byte for byte:
// jsonb (version byte 1, then the text) and epoch_us (µs since 1970 → µs since 2000, int64).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinaryCopyBatch, BufferPool, copyPlanOf } from '../../../src/store/postgres/copy-binary.js';
import { newCounters } from '../../../src/store/values.js';

interface R {
  j: string;
  t: number;
}

test('jsonb and epoch_us fields', () => {
  const plan = copyPlanOf<R>(['j', 't'], ['jsonb', 'epoch_us'], (r, out) => {
    out[0] = r.j;
    out[1] = r.t;
  });
  const b = new BinaryCopyBatch(plan, new BufferPool().take());
  b.add({ j: '{"a":"é"}', t: 946_684_800_000_001 }, newCounters());
  const bytes = b.end();
  const row = bytes.subarray(19, bytes.length - 2); // after the 19-byte header, before the trailer
  const json = Buffer.from('{"a":"é"}');
  assert.equal(row.readInt16BE(0), 2);
  assert.equal(row.readInt32BE(2), json.length + 1);
  assert.equal(row[6], 1);
  assert.deepEqual(row.subarray(7, 7 + json.length), json);
  const t = 7 + json.length;
  assert.equal(row.readInt32BE(t), 8);
  assert.equal(row.readBigInt64BE(t + 4), 1n);
  assert.throws(() => b.add({ j: '{}', t: 1e20 }, newCounters()), RangeError); // beyond what a timestamp can hold
});
