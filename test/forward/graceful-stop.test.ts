/**
 * A forwarder at full speed against the daemon's own TCP/TLS listener, stopped gracefully and
 * started again ten times: every packet arrives exactly once. Over TLS this used to repeat the
 * write whose acknowledgement came after the listener's close, and to lose what an edge sent
 * on a connection still in its handshake when the stop began. And a destination that ends its
 * side but never reads: send() settles after the drain time, the break is reported at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import net from 'node:net';
import type { ForwardDestination } from '../../src/config/types.js';
import { Forwarder } from '../../src/forward/forwarder.js';
import { openLink } from '../../src/forward/link.js';
import { decodeHep } from '../../src/hep/decode.js';
import { encodeHep } from '../../src/hep/encode.js';
import { TcpListener } from '../../src/listeners/tcp.js';
import { Stats } from '../../src/telemetry/stats.js';
import { memoryLogger } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/net.js';
import { makeTestCerts, type TestCerts } from '../helpers/tls.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function destination(protocol: 'tcp' | 'tls', port: number, certs: TestCerts | null): ForwardDestination {
  return {
    name: 'central',
    protocol,
    host: '127.0.0.1',
    port,
    spec: `${protocol}:127.0.0.1:${port}`,
    hepTypes: null,
    methods: null,
    sources: null,
    authKey: undefined,
    tls: certs === null ? null : { caFile: certs.caCert, certFile: certs.clientCert, keyFile: certs.clientKey },
  };
}

for (const protocol of ['tcp', 'tls'] as const) {
  test(`a forwarder over ${protocol.toUpperCase()} at full speed, its destination's listener stopped gracefully and started 10 times: every packet exactly once`, async (t) => {
    const certs = protocol === 'tls' ? makeTestCerts() : null;
    const port = await freePort();
    const received: Buffer[] = [];
    const listen = async (): Promise<TcpListener> => {
      const l = new TcpListener({
        address: {
          spec: `${protocol}:127.0.0.1:${port}`,
          protocol,
          host: '127.0.0.1',
          port,
          access: { authKeys: [], allowSources: [], tls: certs === null ? null : { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.caCert, verifyClient: true } },
        },
        maxFrame: 65_535,
        idleTimeoutMs: 0,
        onFrame: (frame) => void received.push(Buffer.from(frame)),
        stats: new Stats(null),
      });
      await l.start();
      return l;
    };
    let listener = await listen();
    const fwd = new Forwarder({ dest: destination(protocol, port, certs), spool: null, queueMaxBytes: 256 * 1024 * 1024, logger: memoryLogger([]) });
    let sent = 0;
    let pumping = true;
    // As fast as the link takes them, a few MiB ahead: writes of a whole batch, often not yet acknowledged at the stop.
    const pump = (async () => {
      while (pumping) {
        if (fwd.stats().queueBytes < 2 * 1024 * 1024) {
          for (let i = 0; i < 200; i++) {
            fwd.send(encodeHep({ srcIp: '192.0.2.1', dstIp: '192.0.2.2', srcPort: 5060, dstPort: 5060, tsSec: 1, tsUsec: 0, captureId: 1, payload: `${sent++} ${'x'.repeat(150)}` }));
          }
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      for (let cycle = 0; cycle < 10; cycle++) {
        // Each stop finds the forwarder connected, at a different point of its writes.
        assert.ok(await waitFor(() => fwd.up, 10_000, 5), `connected again (cycle ${cycle})`);
        await sleep(20 + ((cycle * 37) % 130));
        await listener.stop();
        await sleep(50);
        listener = await listen();
      }
      pumping = false;
      await pump;
      assert.ok(await waitFor(() => received.length >= sent, 20_000), `${received.length} of ${sent}`);
      await sleep(200);
      const seen = new Map<number, number>();
      for (const frame of received) {
        const d = decodeHep(frame);
        assert.ok(d.ok);
        const id = Number(d.packet.payload.toString().split(' ')[0]);
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      const s = fwd.stats();
      const twice = received.length - seen.size;
      t.diagnostic(`${protocol}: ${sent} sent, ${received.length} received, ${twice} twice, ${s.connects} connections`);
      assert.ok(s.connects >= 11, `the forwarder reconnected after each stop (${s.connects})`);
      assert.equal(seen.size, sent, 'nothing lost');
      assert.equal(twice, 0, 'nothing twice');
      assert.deepEqual(s.dropped, {});
    } finally {
      pumping = false;
      await pump;
      await fwd.close(0);
      await listener.stop();
    }
  });
}

test('a destination that ends its side and stops reading: send() settles after the drain time with what was acknowledged; the break is reported at once', async () => {
  const port = await freePort();
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    // Reads the first bytes, then neither reads nor takes more: our writes stay unacknowledged.
    socket.once('data', () => {
      socket.pause();
      socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  try {
    const link = await openLink(destination('tcp', port, null));
    let brokeAfter = -1;
    const t0 = Date.now();
    link.onBreak = () => (brokeAfter = Date.now() - t0);
    // 32 MiB: more than both kernels' buffers on loopback hold.
    const packets = Array.from({ length: 512 }, () => Buffer.alloc(64 * 1024, 1));
    const acked = await link.send(packets);
    const settledAfter = Date.now() - t0;
    assert.ok(acked < packets.length, `${acked} acknowledged`);
    assert.ok(link.broken);
    assert.ok(brokeAfter >= 0 && brokeAfter < 1000, `break reported after ${brokeAfter} ms`);
    assert.ok(settledAfter >= 2500 && settledAfter < 6000, `settled after ${settledAfter} ms`);
    assert.equal(await link.send([Buffer.from('more')]), 0, 'no writes after the far side ended');
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('TLS: a connection still in its handshake when the listener stops is served to the end, so what the edge sent on it is stored', async () => {
  const certs = makeTestCerts();
  const port = await freePort();
  const received: Buffer[] = [];
  const listener = new TcpListener({
    address: {
      spec: `tls:127.0.0.1:${port}`,
      protocol: 'tls',
      host: '127.0.0.1',
      port,
      access: { authKeys: [], allowSources: [], tls: { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.caCert, verifyClient: true } },
    },
    maxFrame: 65_535,
    idleTimeoutMs: 0,
    onFrame: (frame) => void received.push(Buffer.from(frame)),
    stats: new Stats(null),
  });
  await listener.start();
  // A proxy that passes the ClientHello, then holds what the edge sends until released: the
  // edge has the listener's Finished (TLS 1.3) and writes, the listener is still in its handshake.
  const proxyPort = await freePort();
  const held: Buffer[] = [];
  let release: (() => void) | null = null;
  const proxy = net.createServer({ allowHalfOpen: true }, (edge) => {
    const central = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let passed = 0;
    edge.on('data', (d: Buffer) => {
      if (passed++ === 0 || release === null) central.write(d);
      else held.push(d);
    });
    release = () => {
      central.write(Buffer.concat(held.splice(0)));
      release = null;
    };
    edge.on('end', () => central.end());
    central.on('data', (d: Buffer) => edge.write(d));
    central.on('end', () => edge.end());
    for (const s of [edge, central]) s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => proxy.listen(proxyPort, '127.0.0.1', resolve));
  try {
    const link = await openLink(destination('tls', proxyPort, certs));
    const packets = Array.from({ length: 300 }, (_v, i) => encodeHep({ srcIp: '192.0.2.1', dstIp: '192.0.2.2', srcPort: 5060, dstPort: 5060, tsSec: 1, tsUsec: 0, captureId: 1, payload: `${i} ${'y'.repeat(200)}` }));
    assert.equal(await link.send(packets), packets.length, 'acknowledged: in the kernel, on its way');
    assert.ok(await waitFor(() => held.length > 0, 5000, 5));
    await sleep(50);
    assert.equal(listener.connections, 1);
    const stopping = listener.stop();
    release!();
    await stopping;
    assert.equal(received.length, packets.length, 'every packet the edge counts as sent was stored');
    assert.ok(await waitFor(() => link.broken, 5000), 'the edge saw the close');
  } finally {
    await listener.stop();
    await new Promise((resolve) => proxy.close(resolve));
  }
});
