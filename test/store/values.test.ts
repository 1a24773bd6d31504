// values.ts without a database: truncation, text cleaning, row preparation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SIP_CAPTURE_COLUMNS } from '../../src/capture/rows.js';
import { DEFAULT_LIMITS, SIP_LAYOUT } from '../../src/store/columns.js';
import { cleanText, newCounters, prepareRow, truncateChars } from '../../src/store/values.js';
import { makeSipRows } from './postgres/helpers.js';

const codePoints = (s: string): number => [...s].length;

test('truncateChars: a prefix of at most max code points, never splitting a pair', () => {
  assert.equal(truncateChars('abc', 5), 'abc');
  assert.equal(truncateChars('abcdef', 3), 'abc');
  assert.equal(truncateChars('😀😀😀', 2), '😀😀');
  assert.equal(truncateChars('a😀b', 2), 'a😀');
  assert.equal(truncateChars('x'.repeat(10), 0), '');
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 80 }), fc.nat(90), (s, max) => {
      const t = truncateChars(s, max);
      assert.ok(s.startsWith(t));
      assert.ok(codePoints(t) <= max);
      if (codePoints(s) <= max) assert.equal(t, s);
      else assert.equal(codePoints(t), max);
      // A well-formed input stays well-formed (no half pair at the cut).
      if (!/[\ud800-\udfff]/.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) {
        assert.ok(!/[\ud800-\udbff]$/.test(t));
      }
    }),
  );
});

test('cleanText: strips NUL, replaces lone surrogates, counts both', () => {
  const c = newCounters();
  assert.equal(cleanText('a\0b\0', c), 'ab');
  assert.equal(cleanText('x\ud800y', c), 'x\ufffdy');
  assert.equal(cleanText('ok 😀', c), 'ok 😀');
  assert.deepEqual(c, { truncatedValues: 0, truncatedRows: 0, nulStripped: 1, invalidReplaced: 1 });
});

test('prepareRow: column order, ints, msg untouched, widths applied and counted', () => {
  const row = { ...makeSipRows(1)[0]!, callid: 'c'.repeat(300), via_1: 'v'.repeat(2000), source_port: 5060.7, contact_port: 2 ** 40, proto: NaN };
  const c = newCounters();
  const v = prepareRow(row, SIP_LAYOUT, DEFAULT_LIMITS, c);
  assert.equal(v.length, 44);
  assert.equal(v[SIP_CAPTURE_COLUMNS.indexOf('callid')], 'c'.repeat(256));
  assert.equal(v[SIP_CAPTURE_COLUMNS.indexOf('via_1')], 'v'.repeat(1024));
  assert.equal(v[SIP_CAPTURE_COLUMNS.indexOf('source_port')], 5060);
  assert.equal(v[SIP_CAPTURE_COLUMNS.indexOf('contact_port')], 2_147_483_647);
  assert.equal(v[SIP_CAPTURE_COLUMNS.indexOf('proto')], 0);
  assert.equal(v[SIP_CAPTURE_COLUMNS.indexOf('msg')], row.msg);
  assert.deepEqual(c, { truncatedValues: 2, truncatedRows: 1, nulStripped: 0, invalidReplaced: 0 });
});
