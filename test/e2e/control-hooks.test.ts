/**
 * nonsip_hook through the running daemon: a hook module stores reports itself, rejects packets,
 * stores SIP in its own table, and lets the rest take the default path (SIP rows are not lost
 * in hook mode, on UDP or TCP). A hook that throws, hangs, answers late or returns nonsense is
 * contained: counted, logged, time-limited, and the packet still stored the default way.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { startDaemon } from '../../src/daemon.js';
import { PROJECT_ROOT } from '../helpers/env.js';
import { sendTcpChunks, sendUdp, waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';
import { DAY, hep, makeTmpDir, rpcHttp, startTestDaemon, tableNames, tableRows, TS_SEC, type TestDaemon } from '../control/helpers.js';

const HOOKS = path.join(PROJECT_ROOT, 'test', 'fixtures', 'hooks');

function callIds(t: TestDaemon, table: string): string[] {
  return tableRows(t.dbFile, table).map((r) => String(r['callid']));
}

describe('hook module: stores reports, rejects, steers', () => {
  let t: TestDaemon;
  before(async () => {
    t = await startTestDaemon({ nonsip_hook: 1, event_callback: 'ksr_sipcapture_event', hook_module: path.join(HOOKS, 'steering.mjs') });
  });
  after(() => t.close());

  test('reports are stored by the hook with per-packet time, chunks and float2int; nothing leaks between packets', async () => {
    await sendUdp(
      [
        hep('{"MOS":4.1}', { protoType: 32, correlationId: 'call-1', tsSec: TS_SEC, tsUsec: 11, captureId: 3 }),
        hep('{"MOS":3.9}', { protoType: 32, correlationId: 'call-2', tsSec: TS_SEC + 60, tsUsec: 22, captureId: 4, srcIp: '2001:db8::7', dstIp: '2001:db8::8' }),
      ],
      t.port,
    );
    assert.ok(await waitFor(() => tableRows(t.dbFile, 'hook_reports').length === 2));
    const [a, b] = tableRows(t.dbFile, 'hook_reports');
    assert.equal(a?.['correlation_id'], 'call-1');
    assert.equal(a?.['micro_ts'], TS_SEC * 1e6 + 11);
    assert.equal(a?.['date'], '2026-11-22 12:00:00');
    assert.equal(a?.['node'], 'homer01:3');
    assert.equal(a?.['type'], 0);
    assert.equal(a?.['source_ip'], '192.0.2.1');
    assert.deepEqual(JSON.parse(Buffer.from(a?.['msg'] as Uint8Array).toString()), { mos: 409, version: 3, src: '192.0.2.1', proto: 17, cid: 'call-1', absent: null, leaked: null });
    // The second row has its own time and node (Kamailio's event route would reuse the first's).
    assert.equal(b?.['micro_ts'], (TS_SEC + 60) * 1e6 + 22);
    assert.equal(b?.['node'], 'homer01:4');
    assert.equal(b?.['family'], 10);
    assert.deepEqual(JSON.parse(Buffer.from(b?.['msg'] as Uint8Array).toString()), { mos: 409, version: 3, src: null, proto: 17, cid: 'call-2', absent: null, leaked: null });
    assert.equal(tableRows(t.dbFile, 'report_capture').length, 0, 'handled (0): no default-path report row');
  });

  test('SIP is stored on the default path over UDP and TCP; X-Reject is dropped; X-Hook-Table goes to the hook table only', async () => {
    const plainUdp = sipRequest('INVITE', 'hook-plain-udp@x');
    const plainTcp = sipRequest('BYE', 'hook-plain-tcp@x');
    const rejected = sipRequest('OPTIONS', 'hook-rejected@x', ['X-Reject: yes']);
    const steered = sipRequest('MESSAGE', 'hook-steered@x', ['X-Hook-Table: yes']);
    const rejectsBefore = t.daemon.stats.droppedCount(DropReason.HOOK_REJECTED);
    await sendUdp([hep(plainUdp.text), hep(rejected.text), hep(steered.text)], t.port);
    await sendTcpChunks([hep(plainTcp.text)], t.port);
    assert.ok(await waitFor(() => callIds(t, 'sip_capture').length === 2 && callIds(t, `hooked_${DAY}`).length === 1));
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(callIds(t, 'sip_capture').sort(), ['hook-plain-tcp@x', 'hook-plain-udp@x']);
    assert.deepEqual(callIds(t, `hooked_${DAY}`), ['hook-steered@x']);
    assert.equal(t.daemon.stats.droppedCount(DropReason.HOOK_REJECTED), rejectsBefore + 1);
    const h = t.daemon.stats.snapshot().hook;
    assert.equal(h['rejected'], 1);
    assert.equal(h['continue'], 2);
    assert.equal(h['handled'], 3);
  });

  test('with capture off the hook still runs, but its report_capture stores nothing', async () => {
    assert.equal((await rpcHttp(t.httpPort, 'sipcapture.status', ['off'])).body.result, 'Disabled');
    const handled = t.daemon.stats.hookCount('handled');
    await sendUdp([hep('{"MOS":1}', { protoType: 32, correlationId: 'while-off' })], t.port);
    assert.ok(await waitFor(() => t.daemon.stats.hookCount('handled') === handled + 1));
    await rpcHttp(t.httpPort, 'sipcapture.status', ['on']);
    await sendUdp([hep('{"MOS":2}', { protoType: 32, correlationId: 'while-on' })], t.port);
    assert.ok(await waitFor(() => tableRows(t.dbFile, 'hook_reports').some((r) => r['correlation_id'] === 'while-on')));
    assert.equal(tableRows(t.dbFile, 'hook_reports').some((r) => r['correlation_id'] === 'while-off'), false);
  });

  test('metrics count the hook outcomes', async () => {
    const text = await (await fetch(`http://127.0.0.1:${t.httpPort}/metrics`)).text();
    assert.match(text, /^sipcapture_hook_calls_total\{result="rejected"\} 1$/m);
    assert.match(text, /^sipcapture_hook_queue_packets 0$/m);
  });
});

describe('hook containment', () => {
  let t: TestDaemon;
  before(async () => {
    t = await startTestDaemon({ nonsip_hook: 1, event_callback: 'chaos', hook_module: path.join(HOOKS, 'chaos.mjs'), hook_timeout_ms: 100 });
  });
  after(() => t.close());

  test('throw, bad return, slow promise, endless loop and late stores: every packet still stored, each counted and logged', async () => {
    const kinds = ['throw', 'weird', 'slow', 'loop', 'late-store'];
    const msgs = kinds.map((k) => sipRequest('OPTIONS', `chaos-${k}@x`, [`X-Chaos: ${k}`]));
    const normal = sipRequest('OPTIONS', 'chaos-normal@x');
    const started = Date.now();
    await sendUdp([...msgs.map((m) => hep(m.text)), hep(normal.text)], t.port);
    assert.ok(await waitFor(() => callIds(t, 'sip_capture').length === 6, 15_000), `stored: ${callIds(t, 'sip_capture').join(', ')}`);
    // The hang is cut after about hook_timeout_ms + a grace, not after seconds.
    assert.ok(Date.now() - started < 5000);
    const h = t.daemon.stats.snapshot().hook;
    assert.equal(h['error'], 1, JSON.stringify(h));
    assert.equal(h['bad_return'], 1);
    assert.equal(h['timeout'], 2, 'the slow promise and the loop');
    const logs = t.logs.join('');
    assert.match(logs, /hook error: Error: boom/);
    assert.match(logs, /hook bad_return: returned string/);
    assert.match(logs, /did not return within 100 ms/);

    // The worker was restarted after the loop: the hook runs again for later packets.
    const again = sipRequest('OPTIONS', 'chaos-after@x', ['X-Chaos: weird']);
    await sendUdp([hep(again.text)], t.port);
    assert.ok(await waitFor(() => t.daemon.stats.hookCount('bad_return') === 2, 10_000));
    assert.ok(await waitFor(() => callIds(t, 'sip_capture').includes('chaos-after@x')));
    // The store attempted after the hook had answered was refused.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(tableNames(t.dbFile).includes('late_rows'), false);
  });
});

describe('hook modules: TypeScript, load failures, reload', () => {
  test('a TypeScript hook module works', async () => {
    const t = await startTestDaemon({ nonsip_hook: 1, event_callback: 'onPacket', hook_module: path.join(HOOKS, 'typed.ts') });
    try {
      await sendUdp([hep('kamailio: something happened', { protoType: 100, correlationId: 'log-1' }), hep(sipRequest('OPTIONS', 'typed-sip@x').text)], t.port);
      assert.ok(await waitFor(() => tableRows(t.dbFile, 'typed_logs').length === 1 && callIds(t, 'sip_capture').length === 1));
      assert.equal(tableRows(t.dbFile, 'typed_logs')[0]?.['correlation_id'], 'typed-log-1');
      assert.equal(tableRows(t.dbFile, 'logs_capture').length, 0);
    } finally {
      await t.close();
    }
  });

  test('a module without the named function stops start-up with a clear message', async () => {
    const dir = makeTmpDir('sipcapture-hookfail-');
    const cfg = validateConfig(
      { db_url: `sqlite://${path.join(dir, 'x.sqlite')}`, listen: [], http_listen: '', rpc_socket: '', spool_dir: path.join(dir, 'spool'), nonsip_hook: 1, event_callback: 'missing', hook_module: path.join(HOOKS, 'steering.mjs') },
      path.join(dir, 'c.json5'),
    );
    await assert.rejects(startDaemon(cfg, pino({ level: 'silent' }), { processMetrics: false }), /does not export a function named missing \(event_callback\); it exports: ksr_sipcapture_event/);
  });

  test('a module with a syntax error stops start-up naming the file and the line', async () => {
    const dir = makeTmpDir('sipcapture-hooksyntax-');
    const mod = path.join(dir, 'broken.mjs');
    writeFileSync(mod, 'export function h(e, hep) {\n  return 1 1;\n}\n');
    const cfg = validateConfig(
      { db_url: `sqlite://${path.join(dir, 'x.sqlite')}`, listen: [], http_listen: '', rpc_socket: '', spool_dir: path.join(dir, 'spool'), nonsip_hook: 1, event_callback: 'h', hook_module: mod },
      path.join(dir, 'c.json5'),
    );
    await assert.rejects(startDaemon(cfg, pino({ level: 'silent' }), { processMetrics: false }), (err: Error) => {
      assert.ok(err.message.startsWith(`hook_module ${mod} does not parse: SyntaxError: Unexpected number (at ${mod}:2)`), err.message);
      return true;
    });
  });

  test('reload re-imports the hook module and applies hook settings', async () => {
    const dir = makeTmpDir('sipcapture-hookreload-');
    const mod = path.join(dir, 'hook.mjs');
    writeFileSync(mod, "export function h(_e, hep) { hep.report_capture('v1_rows', 'one'); return 1; }\n");
    const t = await startTestDaemon({ nonsip_hook: 1, event_callback: 'h', hook_module: mod });
    try {
      await sendUdp([hep(sipRequest('OPTIONS', 'reload-1@x').text)], t.port);
      assert.ok(await waitFor(() => tableRows(t.dbFile, 'v1_rows').length === 1));
      writeFileSync(mod, "export function h(_e, hep) { hep.report_capture('v2_rows', 'two'); return 0; }\n");
      const r = await rpcHttp(t.httpPort, 'sipcapture.reload');
      assert.deepEqual(r.body.result, { applied: [], restart_needed: [] });
      await sendUdp([hep(sipRequest('OPTIONS', 'reload-2@x').text)], t.port);
      assert.ok(await waitFor(() => tableRows(t.dbFile, 'v2_rows').length === 1));
      assert.deepEqual(callIds(t, 'sip_capture'), ['reload-1@x']);
      // Switching the hook off by reload: packets take the default path directly.
      t.rewrite({ nonsip_hook: 0, event_callback: 'h', hook_module: mod });
      const off = await rpcHttp(t.httpPort, 'sipcapture.reload');
      assert.deepEqual(off.body.result, { applied: ['nonsip_hook'], restart_needed: [] });
      assert.equal(t.daemon.hook, null);
      await sendUdp([hep(sipRequest('OPTIONS', 'reload-3@x').text)], t.port);
      assert.ok(await waitFor(() => callIds(t, 'sip_capture').includes('reload-3@x')));
    } finally {
      await t.close();
    }
  });
});
