// limits.ts without a database: truncation, text cleaning, row preparation, schema templates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { SIP_CAPTURE_COLUMNS } from '../../../src/capture/rows.js';
import {
  COLUMN_WIDTHS,
  DEFAULT_LIMITS,
  SIP_LAYOUT,
  assertTableName,
  cleanText,
  findSchemaFile,
  maskUrl,
  newCounters,
  parseSchemaTemplate,
  prepareRow,
  renderStatements,
  truncateChars,
} from '../../../src/store/limits.js';
import { makeSipRows } from './helpers.js';

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

test('table names: the route/table-name.ts pattern, as TypeError', () => {
  assertTableName('sip_capture_call_20250101');
  assertTableName('_x');
  for (const bad of ['', '1a', 'a-b', 'a b', 'a"b', 'a`b', 'a'.repeat(64), 'ä']) assert.throws(() => assertTableName(bad), TypeError);
});

test('maskUrl hides passwords only', () => {
  assert.equal(maskUrl('postgres://u:pw@h:5432/db'), 'postgres://u:***@h:5432/db');
  assert.equal(maskUrl('mysql://root@h/db'), 'mysql://root@h/db');
});

for (const dialect of ['postgres', 'mysql'] as const) {
  test(`${dialect} schema.sql: sections parse, placeholders render, widths equal COLUMN_WIDTHS`, () => {
    const text = readFileSync(findSchemaFile(dialect), 'utf8');
    const t = parseSchemaTemplate(text);
    const sql = renderStatements([...t.sip, ...t.report], { table: 'tbl', ix: 'tbl' });
    assert.ok(sql.every((s) => !s.includes('{{')));
    const createSip = t.sip[0]!;
    const createReport = t.report[0]!;
    for (const [create, cols] of [
      [createSip, SIP_CAPTURE_COLUMNS],
      [createReport, ['date', 'micro_ts', 'correlation_id', 'source_ip', 'source_port', 'destination_ip', 'destination_port', 'proto', 'family', 'type', 'node', 'msg']],
    ] as const) {
      for (const col of cols) {
        const m = new RegExp(`^\\s*[\`"]?${col}[\`"]? (\\w+)(?:\\((\\d+)\\))?`, 'm').exec(create);
        assert.ok(m, `${dialect}: column ${col} present`);
        const w = COLUMN_WIDTHS[col];
        if (w !== undefined) assert.equal(Number(m[2]), w, `${dialect}: width of ${col}`);
      }
    }
    assert.throws(() => renderStatements(['{{nope}}'], {}), /unknown placeholder/);
    assert.throws(() => parseSchemaTemplate('CREATE TABLE x;'), /before the first @template/);
  });
}
