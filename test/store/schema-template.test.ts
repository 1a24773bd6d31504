// The schema templates sql/<dialect>/schema.sql (one format for every backend): sections parse,
// placeholders render, and the widths they create are columns.ts COLUMN_WIDTHS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SIP_CAPTURE_COLUMNS } from '../../src/capture/rows.js';
import { COLUMN_WIDTHS } from '../../src/store/columns.js';
import { findSchemaFile, parseSchemaTemplate, renderTableStatements } from '../../src/store/schema-template.js';

for (const dialect of ['postgres', 'mysql'] as const) {
  test(`${dialect} schema.sql: sections parse, placeholders render, widths equal COLUMN_WIDTHS`, () => {
    const text = readFileSync(findSchemaFile(dialect), 'utf8');
    const t = parseSchemaTemplate(text);
    for (const kind of ['sip', 'rtcp', 'report', 'logs'] as const) {
      const sql = renderTableStatements(t, kind, { table: 'tbl', ix: 'tbl' });
      assert.ok(sql.length > 0 && sql.every((s) => !s.includes('{{')));
    }
    const createSip = renderTableStatements(t, 'sip', { table: 'tbl', ix: 'tbl' })[0]!;
    const createReport = renderTableStatements(t, 'report', { table: 'tbl', ix: 'tbl' })[0]!;
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
    const one = parseSchemaTemplate('-- @kind sip rtcp report logs\nCREATE {{nope}};');
    assert.throws(() => renderTableStatements(one, 'sip', { table: 'x' }), /unknown placeholder/);
    assert.throws(() => parseSchemaTemplate('CREATE TABLE x;'), /no "-- @kind sip" section/);
  });
}
