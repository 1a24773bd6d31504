/** Which tables the reader opens for a time range: templates turned back into patterns, days filtered. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import { sipTemplatesFor, tablePattern, tablesFor } from '../../src/viewer/tables.js';

const DAY = 86_400_000_000;
const at = (ymd: string): number => Date.parse(`${ymd}T12:00:00Z`) * 1000;
const EXISTING = [
  'sip_capture', 'sip_capture_call_20261121', 'sip_capture_call_20261122', 'sip_capture_call_20261123', 'sip_capture_call_20261130',
  'sip_capture_call_20261222', 'sip_capture_rest_20261122', 'rtcp_capture', 'other_20261122', 'SIP_CAPTURE_CALL_20261122x',
];

test('tablePattern: strftime conversions become digit groups; the day is read back', () => {
  const p = tablePattern('sip_capture_call_%Y%m%d');
  assert.ok(p.regex.test('sip_capture_call_20261122'));
  assert.ok(p.regex.test('SIP_CAPTURE_CALL_20261122'), 'PostgreSQL folds names to lower case, MySQL may not');
  assert.ok(!p.regex.test('sip_capture_call_2026112'));
  assert.ok(!p.regex.test('sip_capture_callx20261122'));
  assert.notEqual(p.dayGroups, null);
  assert.equal(tablePattern('calls_%Y_%W').dayGroups, null);
  assert.ok(tablePattern('calls_%Y_%W').regex.test('calls_2026_47'));
  assert.ok(tablePattern('t.%s').regex.test('t.1795348800') === true);
});

test('tablesFor: the days of the range (±1), fixed names always, other names never', () => {
  const patterns = ['sip_capture', 'sip_capture_call_%Y%m%d', 'sip_capture_rest_%Y%m%d'].map(tablePattern);
  const range = { fromUs: at('2026-11-22') - 3_600_000_000, toUs: at('2026-11-22') };
  assert.deepEqual(tablesFor(patterns, EXISTING, range), ['sip_capture', 'sip_capture_call_20261121', 'sip_capture_call_20261122', 'sip_capture_call_20261123', 'sip_capture_rest_20261122']);
  // With table_date_window_days 30, packets older than 30 days on arrival went to the arrival day's table.
  assert.deepEqual(tablesFor(patterns, EXISTING, range, 30), [
    'sip_capture', 'sip_capture_call_20261121', 'sip_capture_call_20261122', 'sip_capture_call_20261123', 'sip_capture_call_20261222', 'sip_capture_rest_20261122',
  ]);
  assert.deepEqual(tablesFor(patterns, EXISTING, { fromUs: at('2026-11-30'), toUs: at('2026-11-30') + DAY / 2 }), ['sip_capture', 'sip_capture_call_20261130']);
});

test('sipTemplatesFor: per database, the rules\' tables or their capture mode\'s list', () => {
  const cfg = validateConfig(
    {
      db_url: 'sqlite://a.sqlite',
      table_name: 'sip_capture|sip_capture_b',
      capture_mode: ['alt=>db_url=sqlite://b.sqlite;table_name=alt_%Y%m%d;mt_mode=rand'],
      routes: [{ method: ['BYE'], capture_mode: 'alt' }, { method: ['OPTIONS'], store: false, table: 'never' }, { method: ['INVITE'], table: 'calls_%Y%m%d' }, {}],
    },
    '/tmp/x.json5',
  );
  assert.deepEqual(sipTemplatesFor(cfg, cfg.captureModes.get('default')!.db_url).sort(), ['calls_%Y%m%d', 'sip_capture', 'sip_capture_b']);
  assert.deepEqual(sipTemplatesFor(cfg, cfg.captureModes.get('alt')!.db_url), ['alt_%Y%m%d']);
});
