import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { FragmentReassembler, type FragmentDropKind } from '../../src/raw/fragments.js';

function setup(limits = {}) {
  const drops: Array<[FragmentDropKind, number]> = [];
  const r = new FragmentReassembler(limits, (kind, _d, count) => drops.push([kind, count]));
  return { r, drops };
}

const data = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
/** Adds data[from, to) as a fragment. */
function add(r: FragmentReassembler, key: string, from: number, to: number, more: boolean, now = 0, src: Buffer = data) {
  return r.add(key, src, from, to, from, more, 17, now);
}

describe('fragment reassembly', () => {
  test('in order, reverse order and shuffled give the same bytes', () => {
    const orders = [
      [0, 1, 2, 3],
      [3, 2, 1, 0],
      [2, 0, 3, 1],
    ];
    for (const order of orders) {
      const { r, drops } = setup();
      let out = null;
      for (const i of order) {
        const res = add(r, 'k', i * 16, i * 16 + 16, i < 3);
        if (res !== null) out = res;
      }
      assert.ok(out !== null, `order ${order.join(',')}`);
      assert.deepEqual(out.payload, data);
      assert.equal(out.proto, 17);
      assert.equal(r.pendingCount, 0);
      assert.equal(r.pendingBytes, 0);
      assert.deepEqual(drops, []);
    }
  });

  test('exact duplicates and identical overlaps are merged and counted', () => {
    const { r, drops } = setup();
    assert.equal(add(r, 'k', 0, 24, true), null);
    assert.equal(add(r, 'k', 0, 24, true), null); // duplicate
    assert.equal(add(r, 'k', 16, 40, true), null); // overlaps 16..24 with the same bytes
    const out = add(r, 'k', 40, 64, false);
    assert.ok(out !== null);
    assert.deepEqual(out.payload, data);
    assert.equal(r.counters.duplicates, 1);
    assert.equal(r.counters.overlapsMerged, 1);
    assert.deepEqual(drops, []);
  });

  test('an overlap with different bytes discards the datagram and swallows the rest', () => {
    const { r, drops } = setup();
    add(r, 'k', 0, 24, true);
    const evil = Buffer.from(data);
    evil[20] = 0xff;
    assert.equal(add(r, 'k', 16, 32, true, 0, evil), null);
    assert.equal(add(r, 'k', 32, 64, false), null);
    assert.deepEqual(drops, [
      ['frag_overlap', 2],
      ['frag_discarded', 1],
    ]);
    assert.equal(r.pendingBytes, 0);
  });

  test('timeout drops incomplete datagrams (counted per fragment)', () => {
    const { r, drops } = setup({ timeoutMs: 1000 });
    add(r, 'a', 0, 16, true, 0);
    add(r, 'a', 32, 48, true, 10);
    add(r, 'b', 0, 16, true, 500);
    r.expire(999);
    assert.equal(r.pendingCount, 2);
    r.expire(1000);
    assert.deepEqual(drops, [['frag_timeout', 2]]);
    assert.equal(r.pendingCount, 1);
    // A late fragment of the expired datagram starts a new one (and never completes it wrongly).
    assert.equal(add(r, 'a', 16, 32, true, 1001), null);
    r.flush();
    assert.equal(r.pendingCount, 0);
    assert.equal(r.pendingBytes, 0);
  });

  test('bounded: oldest datagrams are evicted beyond maxDatagrams or maxBytes', () => {
    const { r, drops } = setup({ maxDatagrams: 3 });
    for (let i = 0; i < 5; i++) add(r, `d${i}`, 0, 16, true, i);
    assert.equal(r.pendingCount, 3);
    assert.deepEqual(drops, [
      ['frag_evicted', 1],
      ['frag_evicted', 1],
    ]);
    const big = setup({ maxBytes: 40 });
    for (let i = 0; i < 4; i++) add(big.r, `d${i}`, 0, 16, true, i);
    assert.ok(big.r.pendingBytes <= 40);
    assert.equal(big.drops.length, 2);
  });

  test('malformed fragments: unaligned middle, beyond 64 KiB, conflicting ends', () => {
    const { r, drops } = setup();
    assert.equal(r.add('x', data, 0, 10, 0, true, 17, 0), null); // not a multiple of 8
    assert.equal(r.add('y', data, 0, 16, 65528, false, 17, 0), null); // ends past 65535
    add(r, 'z', 32, 48, false); // says the datagram ends at 48…
    assert.equal(add(r, 'z', 0, 16, false), null); // …and then at 16
    assert.deepEqual(
      drops.map((d) => d[0]),
      ['frag_malformed', 'frag_malformed', 'frag_malformed'],
    );
  });

  test('IPv6: protocol known only from a later fragment still completes', () => {
    const { r } = setup();
    assert.equal(r.add('k', data, 32, 64, 32, false, -1, 0), null);
    const out = r.add('k', data, 0, 32, 0, true, 58, 0);
    assert.equal(out?.proto, 58);
  });
});
