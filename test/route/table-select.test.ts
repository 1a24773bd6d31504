import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { CaptureMode, HashSource, MtMode } from '../../src/config/types.js';
import { crc32 } from 'node:zlib';
import { hashKey, TableSelector } from '../../src/route/table-select.js';

function mode(tables: string[], mt_mode: MtMode, hash_source: HashSource = 'call_id'): CaptureMode {
  return { name: 'm', db_url: 'sqlite://:memory:', table_name: tables, mt_mode, hash_source };
}
const sources = (call_id: string, from_user = '', to_user = ''): Record<HashSource, string> => ({ call_id, from_user, to_user });

describe('TableSelector', () => {
  test('rand: uniform, every table used', () => {
    const sel = new TableSelector(mode(['a', 'b', 'c', 'd'], 'rand'));
    const counts = [0, 0, 0, 0];
    const n = 40_000;
    for (let i = 0; i < n; i++) counts[sel.select().index]!++;
    for (const c of counts) assert.ok(Math.abs(c - n / 4) < n / 4 / 10, `counts ${counts.join(',')}`);
  });

  test('rand: index stays in range for random() at the edges', () => {
    let r = 0;
    const sel = new TableSelector(mode(['a', 'b', 'c'], 'rand'), { random: () => r });
    assert.equal(sel.select().index, 0);
    r = 0.999999999;
    assert.equal(sel.select().index, 2);
    r = 1; // a broken generator must not produce index n
    assert.equal(sel.select().index, 2);
  });

  test('round_robin: in order, one counter per selector, advanced on every select', () => {
    const sel = new TableSelector(mode(['t_a', 't_b', 't_c'], 'round_robin'));
    assert.deepEqual(Array.from({ length: 7 }, () => sel.select().index), [0, 1, 2, 0, 1, 2, 0]);
    const other = new TableSelector(mode(['t_a', 't_b', 't_c'], 'round_robin'));
    assert.equal(other.select().index, 0);
    assert.equal(sel.select().index, 1);
  });

  test('round_robin: Kamailio worker rank start (observed: worker 1 wrote t_b, t_c, t_a, t_b)', () => {
    const w1 = new TableSelector(mode(['t_a', 't_b', 't_c'], 'round_robin'), { roundRobinStart: 1 });
    const w2 = new TableSelector(mode(['t_a', 't_b', 't_c'], 'round_robin'), { roundRobinStart: 2 });
    assert.deepEqual([0, 1, 2, 3].map(() => w1.select().index), [1, 2, 0, 1]);
    assert.deepEqual([0, 1, 2, 3].map(() => w2.select().index), [2, 0, 1, 2]);
  });

  test('hash: Kamailio\'s placement for n = 2, 3, 4', () => {
    const expected: [string, number[]][] = [
      ['hash-0@host', [0, 1, 0]],
      ['hash-1@host', [1, 1, 1]],
      ['cid-0001@10.0.0.1', [1, 0, 1]],
      ['a84b4c76e66710@pc33.atlanta.com', [0, 0, 2]],
    ];
    const sels = [2, 3, 4].map((n) => new TableSelector(mode(Array.from({ length: n }, (_, i) => `t${i}`), 'hash')));
    for (const [cid, idx] of expected) {
      assert.deepEqual(
        sels.map((s) => s.select(sources(cid)).index),
        idx,
        cid,
      );
      // The same rows always land in the same table.
      assert.deepEqual(
        sels.map((s) => s.select(sources(cid)).index),
        idx,
      );
    }
  });

  test('hash: Call-ID whitespace is not hashed (trailing space kept in the column)', () => {
    assert.equal(hashKey('call_id', 'cid-0001@10.0.0.1 '), 'cid-0001@10.0.0.1');
    assert.equal(hashKey('call_id', ' \tcid-0001@10.0.0.1 x'), 'cid-0001@10.0.0.1');
    assert.equal(hashKey('from_user', ' alice '), ' alice ');
    const sel = new TableSelector(mode(['t0', 't1', 't2'], 'hash'));
    assert.equal(sel.select(sources('cid-0001@10.0.0.1 ')).index, 0);
  });

  test('hash: from_user / to_user sources, object or callback', () => {
    const sel = new TableSelector(mode(['t0', 't1', 't2', 't3'], 'hash', 'to_user'));
    assert.equal(sel.select(sources('x', 'y', 'a84b4c76e66710@pc33.atlanta.com')).index, 2);
    const asked: HashSource[] = [];
    const cb = (s: HashSource): string => {
      asked.push(s);
      return 'hash-1@host';
    };
    assert.equal(sel.select(cb).index, 1);
    assert.deepEqual(asked, ['to_user']);
  });

  test('hash: an empty source uses index 0 and is counted (Kamailio drops the row)', () => {
    const sel = new TableSelector(mode(['t0', 't1', 't2'], 'hash', 'from_user'));
    assert.deepEqual(sel.select(sources('hash-0@host', '')), { index: 0, emptyHashSource: true });
    assert.deepEqual(sel.select(sources('', '   ', '')), { index: crc32Index('   ', 3), emptyHashSource: false });
    const cid = new TableSelector(mode(['t0', 't1'], 'hash'));
    assert.deepEqual(cid.select(sources('  ')), { index: 0, emptyHashSource: true });
    assert.equal(sel.emptyHashSourceCount, 1);
    assert.equal(cid.emptyHashSourceCount, 1);
  });

  test('one table: always index 0', () => {
    for (const m of ['rand', 'round_robin', 'hash'] as const) {
      const sel = new TableSelector(mode(['only'], m));
      for (let i = 0; i < 5; i++) assert.equal(sel.select(sources('hash-1@host')).index, 0);
    }
  });

  test('an empty list is a configuration error', () => {
    assert.throws(() => new TableSelector(mode([], 'rand')), /empty/);
  });
});

function crc32Index(s: string, n: number): number {
  return crc32(s) % n;
}
