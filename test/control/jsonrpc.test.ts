/**
 * JSON-RPC dispatch and the RPC methods without a transport: sipcapture.status answers exactly
 * as Kamailio 5.6.3, the old MI sip_capture as the older admin guide, and protocol
 * errors as JSON-RPC 2.0 with jsonrpcs' texts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CaptureState } from '../../src/pipeline/capture-state.js';
import { Stats } from '../../src/telemetry/stats.js';
import { RpcDispatcher, type RpcResponse } from '../../src/control/rpc/jsonrpc.js';
import { createRpcMethods, type ControlContext } from '../../src/control/rpc/methods.js';
import { pino } from 'pino';

function setup(reload: ControlContext['reload'] = () => Promise.resolve({ applied: ['routes'], restartNeeded: ['listen'] })) {
  const state = new CaptureState({ capture_on: 0, hep_capture_on: 1 });
  const stats = new Stats(null);
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) });
  let d: RpcDispatcher | null = null;
  const ctx: ControlContext = {
    stats,
    state,
    stores: () => [{ db: 'sqlite:///x.sqlite', queueDepth: 3, inFlightBatches: 1, failing: false, spoolBytes: 10 }],
    hookQueueDepth: () => null,
    reload,
    version: '9.9.9',
    startedAtMs: Date.now() - 5000,
  };
  d = new RpcDispatcher(createRpcMethods(ctx, () => d?.names() ?? [], (n) => d?.method(n)?.doc, logger));
  const call = async (method: string, params?: unknown, id: unknown = 1, caller?: string): Promise<RpcResponse> => {
    const req: Record<string, unknown> = { jsonrpc: '2.0', method, id };
    if (params !== undefined) req['params'] = params;
    return (await d.handleText(JSON.stringify(req), caller)) as RpcResponse;
  };
  return { state, stats, d, call, logs };
}

describe('sipcapture.status (Kamailio replies and faults)', () => {
  const cases: [unknown[] | undefined, boolean | null, string, number | null][] = [
    // params, capture_on after (null = unchanged), result or fault message, fault code
    [['on'], true, 'Enabled', null],
    [['On'], true, 'Enabled', null],
    [['ONxyz'], true, 'Enabled', null],
    [['off'], false, 'Disabled', null],
    [['OFF'], false, 'Disabled', null],
    [['OFFxyz'], false, 'Disabled', null],
    [['onoff'], true, 'Enabled', null],
    [undefined, null, 'Not enough parameters (on, off or check)', 500],
    [[], null, 'Not enough parameters (on, off or check)', 500],
    [[1], null, 'Not enough parameters (on, off or check)', 500],
    [['foo'], null, 'Bad parameter (on, off or check)', 500],
    [['o'], null, 'Bad parameter (on, off or check)', 500],
    [['of'], null, 'Bad parameter (on, off or check)', 500],
    [['chec'], null, 'Bad parameter (on, off or check)', 500],
    [[''], null, 'Bad parameter (on, off or check)', 500],
  ];
  for (const [params, after, text, code] of cases) {
    test(`${JSON.stringify(params)} → ${code === null ? text : `fault ${code} ${text}`}`, async () => {
      for (const initial of [false, true]) {
        const { state, call } = setup();
        state.captureOn = initial;
        const r = await call('sipcapture.status', params);
        if (code === null) {
          assert.equal(r.result, text);
          assert.equal(r.error, undefined);
        } else {
          assert.deepEqual(r.error, { code, message: text });
          assert.equal(r.result, undefined);
        }
        assert.equal(state.captureOn, after ?? initial);
        assert.equal(r.id, 1);
      }
    });
  }

  test('check reports without changing', async () => {
    const { state, call } = setup();
    for (const param of ['check', 'CHECK', 'checkxyz']) {
      state.captureOn = false;
      assert.equal((await call('sipcapture.status', [param])).result, 'Disabled');
      state.captureOn = true;
      assert.equal((await call('sipcapture.status', [param])).result, 'Enabled');
      assert.equal(state.captureOn, true);
    }
  });

  test('named params are taken in order, as jsonrpcs does', async () => {
    const { state, call } = setup();
    assert.equal((await call('sipcapture.status', { mode: 'on' })).result, 'Enabled');
    assert.equal(state.captureOn, true);
  });

  test('sipcapture.hep_status switches hep_capture_on with the same grammar', async () => {
    const { state, call } = setup();
    assert.equal((await call('sipcapture.hep_status', ['off'])).result, 'Disabled');
    assert.equal(state.hepCaptureOn, false);
    assert.equal(state.captureOn, false);
    assert.equal((await call('sipcapture.hep_status', ['check'])).result, 'Disabled');
    assert.equal((await call('sipcapture.hep_status', ['on'])).result, 'Enabled');
    assert.equal(state.hepCaptureOn, true);
    assert.deepEqual((await call('sipcapture.hep_status', ['x'])).error, { code: 500, message: 'Bad parameter (on, off or check)' });
  });
});

describe('old MI command sip_capture', () => {
  test('no parameter: on / off; on|off (any case, exact): OK; else 400 Bad parameter', async () => {
    const { state, call } = setup();
    assert.equal((await call('sip_capture')).result, 'off');
    assert.equal((await call('sip_capture', ['ON'])).result, 'OK');
    assert.equal(state.captureOn, true);
    assert.equal((await call('sip_capture')).result, 'on');
    assert.equal((await call('sip_capture', ['off'])).result, 'OK');
    assert.equal(state.captureOn, false);
    for (const bad of [['onx'], ['o'], ['check'], [1], ['on', 'off']]) {
      assert.deepEqual((await call('sip_capture', bad)).error, { code: 400, message: 'Bad parameter' }, JSON.stringify(bad));
    }
    assert.equal(state.captureOn, false);
  });
});

describe('operator methods', () => {
  test('sipcapture.stats returns the counters, switches and stores', async () => {
    const { stats, call } = setup();
    stats.received('udp:127.0.0.1:9060', 'hep3');
    stats.stored('sip_capture', 4);
    stats.drop('capture_off', 'x', 2);
    stats.batchWritten('sqlite:///x.sqlite', 4, 0.002, true);
    const r = (await call('sipcapture.stats')).result as Record<string, unknown>;
    assert.equal(r['capture_on'], false);
    assert.equal(r['hep_capture_on'], true);
    assert.deepEqual(r['received'], { 'udp:127.0.0.1:9060|hep3': 1 });
    assert.deepEqual(r['stored'], { sip_capture: 4 });
    assert.deepEqual(r['dropped'], { capture_off: 2 });
    assert.ok((r['uptime_s'] as number) >= 4);
    const [store] = r['stores'] as Record<string, unknown>[];
    assert.equal(store?.['queue_rows'], 3);
    assert.equal(store?.['spool_bytes'], 10);
    assert.equal(store?.['batches'], 1);
    assert.equal(store?.['batch_seconds_max'], 0.002);
    assert.equal('hook' in r, false, 'no hook section without a hook');
  });

  test('sipcapture.stats takes no parameters', async () => {
    const { call } = setup();
    assert.deepEqual((await call('sipcapture.stats', ['x'])).error, { code: -32602, message: 'Invalid Parameters' });
  });

  test('sipcapture.reload reports applied and restart-needed keys, or faults with the reason', async () => {
    const ok = setup();
    assert.deepEqual((await ok.call('sipcapture.reload')).result, { applied: ['routes'], restart_needed: ['listen'] });
    const bad = setup(() => Promise.reject(new Error('cfg.json5: 1 configuration problem')));
    assert.deepEqual((await bad.call('sipcapture.reload')).error, { code: 500, message: 'Reload failed: cfg.json5: 1 configuration problem' });
  });

  test('system.listMethods, system.methodHelp, core.version, core.uptime', async () => {
    const { call } = setup();
    const names = (await call('system.listMethods')).result as string[];
    for (const m of ['sipcapture.status', 'sip_capture', 'sipcapture.stats', 'sipcapture.reload', 'sipcapture.hep_status']) assert.ok(names.includes(m), m);
    assert.equal((await call('system.methodHelp', ['sipcapture.status'])).result, 'Get status or turn on/off sipcapture.');
    assert.deepEqual((await call('system.methodHelp', ['nope'])).error, { code: -32601, message: 'Method Not Found' });
    assert.match(String((await call('core.version')).result), /^sipcapture 9\.9\.9 /);
    const up = (await call('core.uptime')).result as { uptime: number };
    assert.ok(up.uptime >= 4);
  });
});

describe('JSON-RPC protocol errors', () => {
  test('unknown method, bad JSON, bad request, bad params', async () => {
    const { d, call } = setup();
    assert.deepEqual((await call('nope.nothing')).error, { code: -32601, message: 'Method Not Found' });
    assert.deepEqual(await d.handleText('{not json'), { jsonrpc: '2.0', error: { code: -32700, message: 'Parse Error' }, id: null });
    assert.deepEqual(await d.handleText('{"method":"sipcapture.status","id":4}'), { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: 4 });
    assert.deepEqual(await d.handleText('{"jsonrpc":"2.0","method":7,"id":5}'), { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: 5 });
    assert.deepEqual(await d.handleText('"hello"'), { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null });
    assert.deepEqual(await d.handleText('[]'), { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null });
    assert.deepEqual((await call('sipcapture.status', 'on')).error, { code: -32602, message: 'Invalid Parameters' });
  });

  test('notifications get no reply but still act; batches get one reply per request', async () => {
    const { state, d } = setup();
    assert.equal(await d.handleText('{"jsonrpc":"2.0","method":"sipcapture.status","params":["on"]}'), null);
    assert.equal(state.captureOn, true);
    const replies = (await d.handleText(
      JSON.stringify([
        { jsonrpc: '2.0', method: 'sipcapture.status', params: ['off'], id: 'a' },
        { jsonrpc: '2.0', method: 'sipcapture.status', params: ['check'] },
        { jsonrpc: '2.0', method: 'nope', id: 'b' },
      ]),
    )) as RpcResponse[];
    assert.deepEqual(replies, [
      { jsonrpc: '2.0', result: 'Disabled', id: 'a' },
      { jsonrpc: '2.0', error: { code: -32601, message: 'Method Not Found' }, id: 'b' },
    ]);
  });

  test('a method that throws a non-fault answers Internal Error and is reported', async () => {
    const seen: string[] = [];
    const d = new RpcDispatcher([{ name: 'boom', doc: 'x', handler: () => { throw new TypeError('bug'); } }], (m) => seen.push(m));
    assert.deepEqual(await d.handleText('{"jsonrpc":"2.0","method":"boom","id":1}'), { jsonrpc: '2.0', error: { code: -32603, message: 'Internal Error' }, id: 1 });
    assert.deepEqual(seen, ['boom']);
  });
});

describe('switching capture is logged with who asked', () => {
  test('sipcapture.status, sipcapture.hep_status and the MI sip_capture each log the switch and the caller', async () => {
    const { call, logs } = setup();
    await call('sipcapture.status', ['on'], 1, 'rpc_socket /run/sipcapture/sipcapture.sock');
    await call('sipcapture.status', ['check'], 2, 'http 127.0.0.1:40000');
    await call('sipcapture.hep_status', ['off'], 3, 'http 127.0.0.1:40001');
    await call('sip_capture', ['off'], 4, 'http 127.0.0.1:40002');
    await call('sip_capture', ['off'], 5, 'http 127.0.0.1:40003');
    assert.deepEqual(
      logs.map((l) => l['msg']),
      [
        'capture_on switched on by rpc_socket /run/sipcapture/sipcapture.sock',
        'hep_capture_on switched off by http 127.0.0.1:40001',
        'capture_on switched off by http 127.0.0.1:40002 (MI sip_capture)',
        'capture_on already off (asked by http 127.0.0.1:40003 (MI sip_capture))',
      ],
    );
    assert.deepEqual([logs[0]?.['key'], logs[0]?.['on'], logs[0]?.['was'], logs[0]?.['by']], ['capture_on', true, false, 'rpc_socket /run/sipcapture/sipcapture.sock']);
  });

  test('sipcapture.reload passes its caller to the reload', async () => {
    let by: string | undefined;
    const { call } = setup((b) => {
      by = b;
      return Promise.resolve({ applied: [], restartNeeded: [] });
    });
    await call('sipcapture.reload', undefined, 1, 'http 127.0.0.1:40004');
    assert.equal(by, 'http 127.0.0.1:40004');
  });
});
