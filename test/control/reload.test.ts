/** What a reload applies live and what waits for a restart (control/reload.ts, pure part). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import type { SipcaptureConfig } from '../../src/config/types.js';
import { liveReloadKeys, planReload } from '../../src/control/reload.js';

const BASE = { db_url: 'sqlite:///tmp/a.sqlite', capture_on: 1, hep_capture_on: 1, routes: 'homer5' };

function cfg(extra: Record<string, unknown> = {}): SipcaptureConfig {
  return validateConfig({ ...BASE, ...extra }, '/tmp/reload-test.json5');
}

const OPEN = new Set(['sqlite:///tmp/a.sqlite']);

describe('planReload', () => {
  test('nothing changed: nothing applied, nothing to restart', () => {
    const p = planReload(cfg(), cfg(), OPEN);
    assert.deepEqual(p.report, { applied: [], restartNeeded: [] });
    assert.equal(p.routingChanged, false);
  });

  test('routes, row options, switches, logging and hook keys apply live', () => {
    const p = planReload(
      cfg(),
      cfg({ routes: [{ table: 'b_%Y%m%d' }], capture_node: 'n2', callid_aleg_header: 'X-A;X-B', capture_on: 0, log_level: 'debug', hook_timeout_ms: 50 }),
      OPEN,
    );
    assert.deepEqual(p.report.restartNeeded, []);
    assert.deepEqual([...p.report.applied].sort(), ['callid_aleg_header', 'capture_node', 'capture_on', 'hook_timeout_ms', 'log_level', 'routes'].sort());
    assert.equal(p.routingChanged, true);
    assert.equal(p.rowOptionsChanged, true);
    assert.equal(p.captureOnChanged, true);
    assert.equal(p.hookChanged, true);
    assert.equal(p.logChanged, true);
    assert.equal(p.next.capture_node, 'n2');
    assert.deepEqual(p.next.routeRules, [{ table: 'b_%Y%m%d' }]);
  });

  test('sockets, queues and new databases need a restart; their running values are kept', () => {
    const running = cfg();
    const p = planReload(
      running,
      cfg({ listen: ['udp:127.0.0.1:9999'], batch_size: 10, queue_max_rows: 100, http_listen: '127.0.0.1:1', db_url: 'sqlite:///tmp/b.sqlite', capture_node: 'x' }),
      OPEN,
    );
    assert.deepEqual([...p.report.restartNeeded].sort(), ['batch_size', 'db_url', 'http_listen', 'listen', 'queue_max_rows'].sort());
    assert.deepEqual(p.report.applied, ['capture_node']);
    assert.deepEqual(p.next.listen, running.listen);
    assert.equal(p.next.db_url, running.db_url);
    assert.equal(p.next.captureModes, running.captureModes);
    assert.equal(p.routingChanged, false);
  });

  test('a capture mode on an already open database applies live', () => {
    const p = planReload(cfg(), cfg({ capture_mode: 'cm=>db_url=sqlite:///tmp/a.sqlite;table_name=cm_%Y%m%d;mt_mode=rand', routes: [{ capture_mode: 'cm' }] }), OPEN);
    assert.deepEqual([...p.report.applied].sort(), ['capture_mode', 'routes']);
    assert.ok(p.next.captureModes.has('cm'));
  });

  test('a capture mode that changes its schema on an open database needs a restart', () => {
    const pgUrl = 'postgres://u@127.0.0.1/h';
    const mode = (schema: string): Record<string, unknown> => ({ capture_mode: `h=>db_url=${pgUrl};table_name=t;mt_mode=rand;schema=${schema}`, routes: [{ capture_mode: 'h', table: 'x_%Y' }] });
    const p = planReload(cfg(mode('homer5')), cfg(mode('homer7')), new Set([...OPEN, pgUrl]));
    assert.deepEqual(p.report.applied, []);
    assert.deepEqual(p.report.restartNeeded, ['capture_mode']);
    assert.equal(p.next.captureModes.get('h')!.schema, undefined);
  });

  test('the live keys are the documented ones', () => {
    assert.deepEqual(
      [...liveReloadKeys()].sort(),
      [
        'callid_aleg_header', 'capture_bad_msgs', 'capture_mode', 'capture_node', 'capture_on', 'custom_field1_header', 'custom_field2_header',
        'custom_field3_header', 'date_time_zone', 'db_url', 'dedup', 'dedup_max_entries', 'dedup_window_ms', 'event_callback', 'hash_source', 'hep_capture_on', 'hook_module', 'hook_timeout_ms',
        'log_level', 'log_rate_limit_s', 'log_summary_s', 'mt_mode', 'nonsip_hook', 'routes', 'schema', 'table_name', 'topoh_callid_prefix', 'topoh_mask_key', 'topoh_unmask',
      ].sort(),
    );
  });
});
