/**
 * Reload of a running daemon (RPC sipcapture.reload; SIGHUP is in control-signals.test.ts): a
 * table template changes live, restart-only keys are reported and keep their value, an invalid
 * file changes nothing, and an RPC capture switch survives a reload that does not touch it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { sendUdp, waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';
import { DAY, hep, rpcHttp, startTestDaemon, tableNames, tableRows, type TestDaemon } from '../control/helpers.js';

describe('sipcapture.reload', () => {
  let t: TestDaemon;
  before(async () => {
    t = await startTestDaemon({ routes: [{ table: 'first_%Y%m%d' }] });
  });
  after(() => t.close());

  const ids = (table: string): string[] => tableRows(t.dbFile, table).map((r) => String(r['callid']));

  test('a new table template and capture_node take effect for the next packet; listen needs a restart', async () => {
    await sendUdp([hep(sipRequest('OPTIONS', 'before-reload@x').text)], t.port);
    assert.ok(await waitFor(() => ids(`first_${DAY}`).length === 1));

    t.rewrite({ routes: [{ table: 'second_%Y%m%d' }], capture_node: 'reloaded', listen: [`udp:127.0.0.1:${t.port}`] });
    const r = await rpcHttp(t.httpPort, 'sipcapture.reload');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.result, { applied: ['capture_node', 'routes'], restart_needed: ['listen'] });
    assert.equal(t.daemon.config.capture_node, 'reloaded');
    assert.deepEqual(t.daemon.config.listen, [`udp:127.0.0.1:${t.port}`, `tcp:127.0.0.1:${t.port}`], 'running value kept');
    // Tables ahead follow the new template: tomorrow's table (by the clock, UTC) exists before its first row.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
    assert.ok(await waitFor(() => tableNames(t.dbFile).includes(`second_${tomorrow}`)), `second_${tomorrow} created ahead`);

    await sendUdp([hep(sipRequest('OPTIONS', 'after-reload@x').text)], t.port);
    assert.ok(await waitFor(() => ids(`second_${DAY}`).length === 1));
    assert.deepEqual(ids(`first_${DAY}`), ['before-reload@x']);
    assert.equal(tableRows(t.dbFile, `second_${DAY}`)[0]?.['node'], 'reloaded:7');
    assert.match(t.logs.join(''), /changed parameters keep their running value until a restart/);
  });

  test('an invalid file is refused with the reason and changes nothing', async () => {
    writeFileSync(t.configFile, '{ routes: [{ table: "9bad" }], batch_size: -1 }');
    const r = await rpcHttp(t.httpPort, 'sipcapture.reload');
    assert.equal(r.status, 500);
    assert.equal(r.body.error?.code, 500);
    assert.match(r.body.error?.message ?? '', /^Reload failed: .*batch_size/s);
    await sendUdp([hep(sipRequest('OPTIONS', 'after-bad@x').text)], t.port);
    assert.ok(await waitFor(() => ids(`second_${DAY}`).includes('after-bad@x')));
  });

  test('capture_on from the file applies only when the file changed it', async () => {
    assert.equal((await rpcHttp(t.httpPort, 'sipcapture.status', ['off'])).body.result, 'Disabled');
    t.rewrite({ routes: [{ table: 'second_%Y%m%d' }], capture_node: 'reloaded', log_level: 'debug' });
    assert.deepEqual((await rpcHttp(t.httpPort, 'sipcapture.reload')).body.result, { applied: ['log_level'], restart_needed: [] });
    assert.equal(t.daemon.state.captureOn, false, 'the RPC switch survives');
    t.rewrite({ routes: [{ table: 'second_%Y%m%d' }], capture_node: 'reloaded', log_level: 'debug', capture_on: 0 });
    assert.deepEqual((await rpcHttp(t.httpPort, 'sipcapture.reload')).body.result, { applied: ['capture_on'], restart_needed: [] });
    t.rewrite({ routes: [{ table: 'second_%Y%m%d' }], capture_node: 'reloaded', log_level: 'debug', capture_on: 1 });
    assert.deepEqual((await rpcHttp(t.httpPort, 'sipcapture.reload')).body.result, { applied: ['capture_on'], restart_needed: [] });
    assert.equal(t.daemon.state.captureOn, true);
    // Each switch is logged with who asked: the RPC over HTTP, then the reloads it asked for.
    const switches = t.logs.map((l) => JSON.parse(l) as { msg: string }).filter((l) => l.msg.startsWith('capture_on ')).map((l) => l.msg);
    assert.equal(switches.length, 3, switches.join('\n'));
    assert.match(switches[0] ?? '', /^capture_on switched off by http 127\.0\.0\.1:\d+$/);
    assert.match(switches[1] ?? '', /^capture_on already off \(asked by reload \(http 127\.0\.0\.1:\d+\)\)$/);
    assert.match(switches[2] ?? '', /^capture_on switched on by reload \(http 127\.0\.0\.1:\d+\)$/);
    const text = await (await fetch(`http://127.0.0.1:${t.httpPort}/metrics`)).text();
    assert.match(text, /^sipcapture_config_reloads_total\{result="ok"\} 4$/m);
    assert.match(text, /^sipcapture_config_reloads_total\{result="failed"\} 1$/m);
  });
});
