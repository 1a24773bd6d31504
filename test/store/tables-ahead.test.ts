/**
 * Tables created ahead of time (tables-ahead.ts, db-init's tablesForConfig) and the date window
 * of the router (table_date_window_days): pure functions, no database.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import { Router } from '../../src/route/router.js';
import { tablesForConfig } from '../../src/store/db-init.js';
import { namesAhead, tablesAhead, templatesByUrl } from '../../src/store/tables-ahead.js';

// 23:30 UTC on Jan 31st: tomorrow is in another month.
const NOW = Date.UTC(2025, 0, 31, 23, 30) / 1000;
const DAY = 86_400;

function cfg(raw: Record<string, unknown>): ReturnType<typeof validateConfig> {
  return validateConfig({ db_url: 'sqlite:///tmp/x.sqlite', ...raw }, '/tmp/sipcapture.json5');
}

describe('tables ahead', () => {
  test('daily, hourly, constant and fine templates', () => {
    assert.deepEqual(namesAhead(['a_%Y%m%d'], NOW), ['a_20250131', 'a_20250201']);
    assert.deepEqual(namesAhead(['h_%Y%m%d%H'], NOW), ['h_2025013123', 'h_2025020100']);
    assert.deepEqual(namesAhead(['fixed', 'fixed'], NOW), ['fixed']);
    assert.deepEqual(namesAhead(['m_%Y%m%d%H%M'], NOW), [], 'per-minute tables are created on first use');
  });

  test('homer5: today and tomorrow of the three daily tables, in the default database only', () => {
    const c = cfg({ routes: 'homer5', capture_mode: ['other=>db_url=mysql://u@h/db;table_name=o;mt_mode=rand'] });
    const ahead = tablesAhead(c.routeRules, c.captureModes, NOW);
    assert.deepEqual([...ahead.keys()], ['sqlite:///tmp/x.sqlite'], 'an unused capture mode needs no tables');
    assert.deepEqual(
      ahead.get('sqlite:///tmp/x.sqlite')!.map((t) => t.name),
      ['sip_capture_registration_20250131', 'sip_capture_registration_20250201', 'sip_capture_call_20250131', 'sip_capture_call_20250201', 'sip_capture_rest_20250131', 'sip_capture_rest_20250201'],
    );
  });

  test('rules without a table use their mode\'s whole list; store:false rules need nothing', () => {
    const c = cfg({
      table_name: 'a|b_%Y%m%d',
      capture_mode: ['m=>db_url=postgres://u@h/db;table_name=x|y;mt_mode=hash'],
      routes: [{ method: ['INVITE'], capture_mode: 'm' }, { method: ['BYE'], table: 'never', store: false }, {}],
    });
    const by = templatesByUrl(c.routeRules, c.captureModes);
    assert.deepEqual(by.get('postgres://u@h/db'), ['x', 'y']);
    assert.deepEqual(by.get('sqlite:///tmp/x.sqlite'), ['a', 'b_%Y%m%d']);
    const init = tablesForConfig(c, new Date(NOW * 1000));
    assert.deepEqual(init.get('postgres://u@h/db')!.map((t) => t.name), ['x', 'y']);
    assert.deepEqual(
      init.get('sqlite:///tmp/x.sqlite')!.map((t) => `${t.name}:${t.kind}`),
      ['a:sip', 'b_20250131:sip', 'b_20250201:sip', 'rtcp_capture:rtcp', 'report_capture:report', 'logs_capture:logs'],
    );
  });
});

describe('table_date_window_days', () => {
  const c = cfg({ routes: 'homer5' });
  const facts = { type: 1 as const, method: 'INVITE', event: '' , hasToTag: false };
  const sources = { call_id: 'x', from_user: '', to_user: '' };
  const table = (r: Router, t: number): string => {
    const res = r.route(facts, sources, t);
    assert.ok('table' in res);
    return res.table;
  };

  test('dates outside [now − N days, now + 1 day] name the table by now, counted', () => {
    const r = new Router(c.routeRules, c.captureModes, { tableDateWindowDays: 30, nowSec: () => NOW });
    assert.equal(table(r, NOW - 29 * DAY), 'sip_capture_call_20250102');
    assert.equal(table(r, NOW + DAY - 60), 'sip_capture_call_20250201');
    assert.equal(r.tableDateClampedCount, 0);
    assert.equal(table(r, NOW - 31 * DAY), 'sip_capture_call_20250131');
    assert.equal(table(r, 0), 'sip_capture_call_20250131', '1970 (an agent without a clock)');
    assert.equal(table(r, NOW + 2 * DAY), 'sip_capture_call_20250131');
    assert.equal(table(r, 4_102_444_800), 'sip_capture_call_20250131', '2100');
    assert.equal(table(r, Number.NaN), 'sip_capture_call_20250131');
    assert.equal(r.tableDateClampedCount, 5);
  });

  test('0 = no limit; constant table names are never counted', () => {
    const r = new Router(c.routeRules, c.captureModes, { tableDateWindowDays: 0, nowSec: () => NOW });
    assert.equal(table(r, 0), 'sip_capture_call_19700101');
    const d = cfg({ routes: 'default', table_name: 'sip_capture' });
    const r2 = new Router(d.routeRules, d.captureModes, { tableDateWindowDays: 1, nowSec: () => NOW });
    assert.equal(table(r2, 0), 'sip_capture');
    assert.equal(r2.tableDateClampedCount, 0);
  });
});
