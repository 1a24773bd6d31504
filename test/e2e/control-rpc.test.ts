/**
 * The RPC against a running daemon: sipcapture.status over HTTP, over the unix socket and from
 * `sipcapture rpc` switches storage visibly (rows stop, are counted capture_off, and resume
 * without a restart); faults and protocol errors; the socket's permissions and life cycle.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { callRpc } from '../../src/control/rpc/client.js';
import { startDaemon } from '../../src/daemon.js';
import { runCli } from '../helpers/cli.js';
import { sendUdp, waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';
import { hep, rpcHttp, startTestDaemon, tableRows, type TestDaemon } from '../control/helpers.js';

let seq = 0;
/** Sends `n` SIP OPTIONS over UDP; resolves to their Call-IDs. */
async function sendSip(t: TestDaemon, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => `rpc-${++seq}@test`);
  await sendUdp(ids.map((id) => hep(sipRequest('OPTIONS', id).text)), t.port);
  return ids;
}

function storedIds(t: TestDaemon): Set<string> {
  return new Set(tableRows(t.dbFile, 'sip_capture').map((r) => String(r['callid'])));
}

/** Asserts that exactly the packets sent while capture was on were stored, the others counted. */
async function expectToggle(t: TestDaemon, turnOff: () => Promise<unknown>, turnOn: () => Promise<unknown>): Promise<void> {
  const before = await sendSip(t, 2);
  assert.ok(await waitFor(() => before.every((id) => storedIds(t).has(id))), 'stored while on');
  await turnOff();
  assert.equal(t.daemon.state.captureOn, false);
  const offBefore = t.daemon.stats.droppedCount(DropReason.CAPTURE_OFF);
  const during = await sendSip(t, 3);
  assert.ok(await waitFor(() => t.daemon.stats.droppedCount(DropReason.CAPTURE_OFF) === offBefore + 3), 'counted capture_off');
  await turnOn();
  const afterIds = await sendSip(t, 2);
  assert.ok(await waitFor(() => afterIds.every((id) => storedIds(t).has(id))), 'stored again without a restart');
  const stored = storedIds(t);
  for (const id of during) assert.equal(stored.has(id), false, `${id} was sent while capture was off`);
}

describe('RPC against a running daemon', () => {
  let t: TestDaemon;
  before(async () => {
    t = await startTestDaemon();
  });
  after(() => t.close());

  test('HTTP: sipcapture.status off / check / on switches storage live', async () => {
    await expectToggle(
      t,
      async () => assert.deepEqual((await rpcHttp(t.httpPort, 'sipcapture.status', ['off'])).body.result, 'Disabled'),
      async () => {
        assert.deepEqual((await rpcHttp(t.httpPort, 'sipcapture.status', ['check'])).body.result, 'Disabled');
        assert.deepEqual((await rpcHttp(t.httpPort, 'sipcapture.status', ['On'])).body.result, 'Enabled');
      },
    );
  });

  test('HTTP: faults are HTTP 500 with the Kamailio texts; protocol errors; methods and sizes', async () => {
    const missing = await rpcHttp(t.httpPort, 'sipcapture.status', [], 7);
    assert.equal(missing.status, 500);
    assert.deepEqual(missing.body, { jsonrpc: '2.0', error: { code: 500, message: 'Not enough parameters (on, off or check)' }, id: 7 });
    const bad = await rpcHttp(t.httpPort, 'sipcapture.status', ['foo'], 'x');
    assert.equal(bad.status, 500);
    assert.deepEqual(bad.body.error, { code: 500, message: 'Bad parameter (on, off or check)' });
    const unknown = await rpcHttp(t.httpPort, 'sipcapture.nope');
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body.error, { code: -32601, message: 'Method Not Found' });
    const base = `http://127.0.0.1:${t.httpPort}`;
    const parse = await fetch(`${base}/RPC`, { method: 'POST', body: '{oops' });
    assert.equal(parse.status, 400);
    assert.deepEqual(await parse.json(), { jsonrpc: '2.0', error: { code: -32700, message: 'Parse Error' }, id: null });
    assert.equal((await fetch(`${base}/RPC`)).status, 405);
    assert.equal((await fetch(`${base}/RPC`, { method: 'POST', body: 'x'.repeat(70_000) })).status, 413);
    assert.equal((await fetch(`${base}/nothing`)).status, 404);
    const note = await fetch(`${base}/RPC`, { method: 'POST', body: '{"jsonrpc":"2.0","method":"sipcapture.status","params":["on"]}' });
    assert.equal(note.status, 204);
  });

  test('unix socket: mode 0600, one reply line per request in order, toggles storage', async () => {
    assert.equal(statSync(t.socket).mode & 0o777, 0o600);
    const lines = await new Promise<string[]>((resolve, reject) => {
      const sock = net.createConnection(t.socket);
      let buf = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (buf += d));
      sock.on('end', () => resolve(buf.split('\n').filter((l) => l !== '')));
      sock.on('error', reject);
      sock.write('{"jsonrpc":"2.0","method":"sipcapture.status","params":["check"],"id":1}\n');
      sock.write('{"jsonrpc":"2.0","method":"sipcapture.status","params":["check"]}\n'); // notification: no line
      sock.end('{"jsonrpc":"2.0","method":"sip_capture","id":2}'); // no newline: answered at half-close
    });
    assert.deepEqual(lines.map((l) => JSON.parse(l) as unknown), [
      { jsonrpc: '2.0', result: 'Enabled', id: 1 },
      { jsonrpc: '2.0', result: 'on', id: 2 },
    ]);
    await expectToggle(
      t,
      async () => assert.equal((await callRpc({ socket: t.socket }, 'sip_capture', ['OFF'])).result, 'OK'),
      async () => assert.equal((await callRpc({ socket: t.socket }, 'sipcapture.status', ['on'])).result, 'Enabled'),
    );
  });

  test('CLI: `sipcapture rpc` finds the socket in the config, prints replies like kamcmd', async () => {
    await expectToggle(
      t,
      async () => {
        const r = await runCli(['rpc', '-c', t.configFile, 'sipcapture.status', 'off']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, 'Disabled\n');
      },
      async () => {
        const mi = await runCli(['rpc', '-c', t.configFile, 'sip_capture']);
        assert.equal(mi.stdout, 'off\n');
        const r = await runCli(['rpc', '-u', `http://127.0.0.1:${t.httpPort}/RPC`, 'sipcapture.status', 'on']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, 'Enabled\n');
      },
    );
    const bad = await runCli(['rpc', '-s', t.socket, 'sipcapture.status', 'maybe']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'error: 500 - Bad parameter (on, off or check)\n');
    const unknown = await runCli(['rpc', '-s', t.socket, 'no.such']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'error: -32601 - Method Not Found\n');
    const stats = await runCli(['rpc', '-s', t.socket, 'sipcapture.stats']);
    assert.equal(stats.code, 0, stats.stderr);
    const parsed = JSON.parse(stats.stdout) as { capture_on: boolean; stored: Record<string, number> };
    assert.equal(parsed.capture_on, true);
    assert.ok((parsed.stored['sip_capture'] ?? 0) >= 6);
    const down = await runCli(['rpc', '-s', path.join(t.dir, 'nothing.sock'), 'sipcapture.status', 'check']);
    assert.equal(down.code, 2);
    assert.match(down.stderr, /cannot reach the sipcapture RPC socket/);
  });

  test('sipcapture.hep_status off: HEP is not decoded, counted hep_capture_off', async () => {
    assert.equal((await rpcHttp(t.httpPort, 'sipcapture.hep_status', ['off'])).body.result, 'Disabled');
    const before = t.daemon.stats.droppedCount(DropReason.HEP_CAPTURE_OFF);
    const ids = await sendSip(t, 2);
    assert.ok(await waitFor(() => t.daemon.stats.droppedCount(DropReason.HEP_CAPTURE_OFF) === before + 2));
    assert.equal((await rpcHttp(t.httpPort, 'sipcapture.hep_status', ['on'])).body.result, 'Enabled');
    const later = await sendSip(t, 1);
    assert.ok(await waitFor(() => later.every((id) => storedIds(t).has(id))));
    for (const id of ids) assert.equal(storedIds(t).has(id), false);
  });

  test('a second daemon on the same socket is refused; a stale socket file is replaced', async () => {
    const cfg = loadConfig(t.configFile);
    const other = { ...cfg, listen: [], listenAddresses: [], http_listen: '', spool_dir: path.join(t.dir, 'spool-other') };
    await assert.rejects(startDaemon(other, pino({ level: 'silent' }), { processMetrics: false }), /another process .* is listening there/);

    // A socket file nobody listens on (left by a killed daemon): renamed away from a live server, whose close removes only its own name.
    const stale = path.join(t.dir, 'stale.sock');
    const tmpName = path.join(t.dir, 'tmp.sock');
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(tmpName, r));
    renameSync(tmpName, stale);
    await new Promise<void>((r) => srv.close(() => r()));
    assert.ok(statSync(stale).isSocket());
    const d = await startDaemon({ ...other, rpc_socket: stale }, pino({ level: 'silent' }), { processMetrics: false });
    try {
      assert.equal((await callRpc({ socket: stale }, 'sipcapture.status', ['check'])).result, cfg.capture_on === 1 ? 'Enabled' : 'Disabled');
    } finally {
      await d.stop();
    }
    const regular = path.join(t.dir, 'regular-file');
    writeFileSync(regular, 'x');
    await assert.rejects(startDaemon({ ...other, rpc_socket: regular }, pino({ level: 'silent' }), { processMetrics: false }), /is not a socket/);
  });

  test('http_rpc 0: /RPC is off, /metrics and /health still answer', async () => {
    const u = await startTestDaemon({ http_rpc: 0, rpc_socket: '' });
    try {
      const r = await fetch(`http://127.0.0.1:${u.httpPort}/RPC`, { method: 'POST', body: '{}' });
      assert.equal(r.status, 404);
      assert.equal((await fetch(`http://127.0.0.1:${u.httpPort}/metrics`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${u.httpPort}/health`)).status, 200);
    } finally {
      await u.close();
    }
  });
});
