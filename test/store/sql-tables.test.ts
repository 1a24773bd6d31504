/**
 * What the PostgreSQL and MySQL stores share about their tables (src/store/sql-tables.ts),
 * against the real servers: a column narrowed while the daemon runs is read again at the first
 * value too long for it, and the rows are written cut to the new width, instead of every row
 * failing as a poisoned one until a restart.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore } from '../../src/store/factory.js';
import { requireOrSkip } from '../helpers/env.js';
import { MYSQL_URL, PG_URL, mysqlNamespace, pgNamespace, reachable } from './_e2e.js';
import { sipRow } from './_rows.js';

for (const [kind, url, port, make, narrow] of [
  ['postgres', PG_URL, 5432, pgNamespace, 'ALTER TABLE sip_capture ALTER COLUMN callid TYPE varchar(20)'],
  ['mysql', MYSQL_URL, 3306, mysqlNamespace, "ALTER TABLE sip_capture MODIFY callid varchar(20) NOT NULL DEFAULT ''"],
] as const) {
  const skip = requireOrSkip(await reachable(url, port), `${kind} at ${url}`);
  describe(`${kind}: schema drift`, { skip }, () => {
    test('a column narrowed while running: widths read again, rows cut to the new width and stored', { timeout: 60_000 }, async () => {
      const ns = await make('drift');
      const store = await createStore(ns.url());
      try {
        await store.ensureTable('sip_capture', 'sip');
        await store.insert({ table: 'sip_capture', kind: 'sip', rows: [sipRow(0, { callid: 'short' })] });
        await ns.exec(narrow);
        const long = 'x'.repeat(100);
        await store.insert({ table: 'sip_capture', kind: 'sip', rows: [sipRow(1, { callid: long }), sipRow(2, { callid: 'ok' })] });
        assert.deepEqual((await ns.callids()).sort(), ['ok', 'short', 'x'.repeat(20)]);
      } finally {
        await store.close();
        await ns.drop();
      }
    });
  });
}
