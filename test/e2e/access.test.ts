/**
 * Who may send, end to end on real sockets: HEP auth keys (UDP, TCP, per listener), source
 * allow-lists (IPv4 from a second loopback address, IPv6 and IPv4-mapped on dual-stack
 * sockets) and HEP over TLS with client-certificate verification. Each case checks the rows
 * stored in SQLite and the counters of what was refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync, rmSync } from 'node:fs';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { ConnectionRejectReason } from '../../src/telemetry/stats.js';
import { startTestDaemon, tableRows, type TestDaemon } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/net.js';
import { uniqueOptionsHep } from '../helpers/sip-messages.js';
import { makeTestCerts, type TestCerts } from '../helpers/tls.js';

/** One HEP packet with a unique Call-ID (returned too). */
function hep(tag: string, opts: { authKey?: string; version?: 1 | 2 | 3 } = {}): { callId: string; packet: Buffer } {
  return uniqueOptionsHep(`access-${tag}`, opts);
}

function callIds(t: TestDaemon): Set<string> {
  return new Set(tableRows(t.dbFile, 'sip_capture').map((r) => String(r.callid)));
}

async function udpFrom(packets: readonly Buffer[], port: number, host: string, localAddress: string): Promise<void> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => sock.bind(0, localAddress, resolve));
  for (const p of packets) await new Promise<void>((resolve, reject) => sock.send(p, port, host, (e) => (e ? reject(e) : resolve())));
  await new Promise<void>((resolve) => sock.close(() => resolve()));
}

/** Connects (from `localAddress`), writes `data`, ends; resolves when the server side has closed too. */
async function tcpFrom(data: Buffer, port: number, host = '127.0.0.1', localAddress?: string): Promise<void> {
  const sock = net.createConnection({ port, host, ...(localAddress === undefined ? {} : { localAddress }) });
  sock.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    sock.once('connect', () => sock.end(data));
    sock.once('close', () => resolve());
    sock.resume();
  });
}

async function tlsSend(data: Buffer, port: number, opts: tls.ConnectionOptions): Promise<void> {
  const sock = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ...opts });
  sock.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    sock.once('secureConnect', () => sock.end(data));
    sock.once('close', () => resolve());
    sock.resume();
  });
}

const pem = (file: string): Buffer => readFileSync(file);

describe('hep_auth_keys', () => {
  let t: TestDaemon;
  let own: number;
  before(async () => {
    const port = await freePort();
    own = await freePort();
    t = await startTestDaemon({
      hep_auth_keys: ['s3cret', 'second-key'],
      listen: [`udp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port}`, { address: `udp:127.0.0.1:${own}`, hep_auth_keys: 'listener-key' }],
    });
    t.port = port;
  });
  after(() => t.close());

  test('UDP: the right keys are stored; no key, a wrong key and HEP v2 are dropped as auth_failed', async () => {
    const good = [hep('u-good1', { authKey: 's3cret' }), hep('u-good2', { authKey: 'second-key' })];
    const bad = [hep('u-none'), hep('u-wrong', { authKey: 's3cret!' }), hep('u-v2', { version: 2 })];
    await udpFrom([...good, ...bad].map((p) => p.packet), t.port, '127.0.0.1', '127.0.0.1');
    assert.ok(await waitFor(() => callIds(t).has(good[1]!.callId) && t.daemon.stats.droppedCount(DropReason.AUTH_FAILED) === 3), 'rows and drops');
    const ids = callIds(t);
    for (const b of bad) assert.ok(!ids.has(b.callId), b.callId);
    assert.equal(t.daemon.stats.droppedCount(DropReason.HEP_MALFORMED), 0);
  });

  test('TCP: in one stream, only the frames with an accepted key become rows', async () => {
    const before = t.daemon.stats.droppedCount(DropReason.AUTH_FAILED);
    const good = hep('t-good', { authKey: 'second-key' });
    const bad = [hep('t-none'), hep('t-wrong', { authKey: 'S3CRET' })];
    await tcpFrom(Buffer.concat([bad[0]!.packet, good.packet, bad[1]!.packet]), t.port);
    assert.ok(await waitFor(() => callIds(t).has(good.callId) && t.daemon.stats.droppedCount(DropReason.AUTH_FAILED) === before + 2));
    for (const b of bad) assert.ok(!callIds(t).has(b.callId));
  });

  test('a listen object has its own key list', async () => {
    const before = t.daemon.stats.droppedCount(DropReason.AUTH_FAILED);
    const good = hep('own-good', { authKey: 'listener-key' });
    const globalKey = hep('own-global', { authKey: 's3cret' });
    await udpFrom([good.packet, globalKey.packet], own, '127.0.0.1', '127.0.0.1');
    assert.ok(await waitFor(() => callIds(t).has(good.callId) && t.daemon.stats.droppedCount(DropReason.AUTH_FAILED) === before + 1));
    assert.ok(!callIds(t).has(globalKey.callId), 'the global key is not accepted on a listener with its own list');
  });
});

describe('allow_sources', () => {
  let t: TestDaemon;
  let dual: number;
  before(async () => {
    const port = await freePort();
    dual = await freePort();
    t = await startTestDaemon({
      allow_sources: ['127.0.0.2', '10.0.0.0/8'],
      listen: [
        `udp:127.0.0.1:${port}`,
        `tcp:127.0.0.1:${port}`,
        // Dual-stack sockets: IPv4 clients arrive as ::ffff:a.b.c.d.
        { address: `udp:[::]:${dual}`, allow_sources: ['::1'] },
        { address: `tcp:[::]:${dual}`, allow_sources: ['127.0.0.0/8'] },
      ],
    });
    t.port = port;
  });
  after(() => t.close());

  test('UDP: an allowed source is stored, a foreign one dropped as source_denied', async () => {
    const ok = hep('src-ok');
    const foreign = hep('src-foreign');
    await udpFrom([foreign.packet], t.port, '127.0.0.1', '127.0.0.1');
    await udpFrom([ok.packet], t.port, '127.0.0.1', '127.0.0.2');
    assert.ok(await waitFor(() => callIds(t).has(ok.callId) && t.daemon.stats.droppedCount(DropReason.SOURCE_DENIED) === 1));
    assert.ok(!callIds(t).has(foreign.callId));
  });

  test('TCP: a foreign source is closed at accept and counted; an allowed one is stored', async () => {
    const ok = hep('tcp-src-ok');
    const foreign = hep('tcp-src-foreign');
    await tcpFrom(foreign.packet, t.port, '127.0.0.1', '127.0.0.1');
    await tcpFrom(ok.packet, t.port, '127.0.0.1', '127.0.0.2');
    assert.ok(await waitFor(() => callIds(t).has(ok.callId)));
    assert.equal(t.daemon.stats.connectionRejectedCount(ConnectionRejectReason.SOURCE_DENIED), 1);
    assert.ok(!callIds(t).has(foreign.callId));
  });

  test('IPv6 and IPv4-mapped sources on dual-stack listeners', async () => {
    const v6ok = hep('v6-ok');
    const v4denied = hep('v4-denied');
    await udpFrom([v6ok.packet], dual, '::1', '::1');
    await udpFrom([v4denied.packet], dual, '127.0.0.1', '127.0.0.2'); // seen as ::ffff:127.0.0.2, not ::1
    const mappedOk = hep('mapped-ok');
    const v6denied = hep('v6-denied');
    await tcpFrom(mappedOk.packet, dual, '127.0.0.1', '127.0.0.3'); // ::ffff:127.0.0.3 is in 127.0.0.0/8
    await tcpFrom(v6denied.packet, dual, '::1', '::1');
    assert.ok(await waitFor(() => callIds(t).has(v6ok.callId) && callIds(t).has(mappedOk.callId)));
    assert.ok(await waitFor(() => t.daemon.stats.droppedCount(DropReason.SOURCE_DENIED) === 2));
    assert.equal(t.daemon.stats.connectionRejectedCount(ConnectionRejectReason.SOURCE_DENIED), 2);
    assert.ok(!callIds(t).has(v4denied.callId) && !callIds(t).has(v6denied.callId));
  });
});

describe('HEP over TLS', () => {
  let certs: TestCerts;
  let t: TestDaemon;
  let verified: number;
  let open: number;
  before(async () => {
    certs = makeTestCerts();
    verified = await freePort();
    open = await freePort();
    t = await startTestDaemon({
      tls_cert_file: certs.serverCert,
      tls_key_file: certs.serverKey,
      tls_ca_file: certs.caCert,
      tcp_idle_timeout_s: 2,
      listen: [{ address: `tls:127.0.0.1:${verified}`, tls_verify_client: 1 }, `tls:127.0.0.1:${open}`],
    });
  });
  after(async () => {
    await t.close();
    rmSync(certs.dir, { recursive: true, force: true });
  });

  /** A client that trusts the test CA (so it verifies the server's certificate). */
  const client = (): tls.ConnectionOptions => ({ ca: [pem(certs.caCert)] });

  test('with verification: a good client certificate is stored; none, or one from another CA, is refused and counted', async () => {
    const good = hep('tls-good');
    await tlsSend(good.packet, verified, { ...client(), cert: pem(certs.clientCert), key: pem(certs.clientKey) });
    assert.ok(await waitFor(() => callIds(t).has(good.callId)), 'row from the verified client');

    const none = hep('tls-nocert');
    const foreign = hep('tls-foreign');
    await tlsSend(none.packet, verified, client());
    await tlsSend(foreign.packet, verified, { ...client(), cert: pem(certs.foreignCert), key: pem(certs.foreignKey) });
    assert.ok(await waitFor(() => t.daemon.stats.connectionRejectedCount(ConnectionRejectReason.TLS_CLIENT_CERT) === 2));
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!callIds(t).has(none.callId) && !callIds(t).has(foreign.callId));
  });

  test('plain TCP against a tls: port is a failed handshake, counted, nothing stored', async () => {
    const plain = hep('tls-plain');
    await tcpFrom(plain.packet, verified);
    assert.ok(await waitFor(() => t.daemon.stats.connectionRejectedCount(ConnectionRejectReason.TLS_HANDSHAKE) === 1));
    assert.ok(!callIds(t).has(plain.callId));
  });

  test('without verification any TLS client may send; the client checks the server certificate', async () => {
    const anon = hep('tls-anon');
    await tlsSend(anon.packet, open, client());
    assert.ok(await waitFor(() => callIds(t).has(anon.callId)));
    const res = await fetch(`http://127.0.0.1:${t.httpPort}/metrics`);
    const text = await res.text();
    assert.match(text, /sipcapture_tcp_connections_rejected_total\{reason="tls_client_cert"\} 2/);
    assert.match(text, /sipcapture_tcp_connections_rejected_total\{reason="tls_handshake"\} 1/);
  });
});
