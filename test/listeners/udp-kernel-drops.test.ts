/**
 * Kernel receive-buffer drops on UDP listeners: the /proc/net/udp address encoding, the parser,
 * and for real — a sender floods a socket with a tiny receive buffer while our event loop is
 * blocked, then every datagram is either received or in the kernel's drop count, and the daemon
 * shows the drops in /metrics and sipcapture.stats.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dropsInProcNetUdp, procNetAddress } from '../../src/listeners/udp-kernel-drops.js';
import { UdpListener } from '../../src/listeners/udp.js';
import { parseListen } from '../../src/config/listen.js';
import { freePort, waitFor } from '../helpers/net.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { requireOrSkip } from '../helpers/env.js';
import { rpcHttp } from '../control/helpers.js';

const SENT = 3000;

/** Sends `count` 600-byte datagrams to 127.0.0.1:port from a child process, blocking this thread meanwhile. */
function floodBlocking(port: number, count: number): void {
  const script = `
    const dgram = require('node:dgram');
    const s = dgram.createSocket('udp4');
    const buf = Buffer.alloc(600, 0x41);
    let left = ${count};
    const next = () => { if (left-- === 0) { s.close(); return; } s.send(buf, ${port}, '127.0.0.1', next); };
    next();`;
  execFileSync(process.execPath, ['-e', script], { stdio: 'ignore' });
}

describe('procNetAddress', () => {
  test('IPv4 words in host byte order, port in hex', () => {
    assert.equal(procNetAddress('127.0.0.1', 9060, true), '0100007F:2364');
    assert.equal(procNetAddress('127.0.0.1', 9060, false), '7F000001:2364');
    assert.equal(procNetAddress('0.0.0.0', 5, true), '00000000:0005');
  });
  test('IPv6, compressed forms and embedded IPv4', () => {
    assert.equal(procNetAddress('::1', 9060, true), '00000000000000000000000001000000:2364');
    assert.equal(procNetAddress('::', 1, true), '00000000000000000000000000000000:0001');
    assert.equal(procNetAddress('2001:db8::ff00:42:8329', 80, false), '20010DB8000000000000FF0000428329:0050');
    assert.equal(procNetAddress('::ffff:10.1.2.3', 80, false), '00000000000000000000FFFF0A010203:0050');
    assert.equal(procNetAddress('not-an-ip', 80), null);
  });
});

describe('dropsInProcNetUdp', () => {
  const text = [
    '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
    '  102: 0100007F:2364 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41234 2 0000000000000000 17',
    '  103: 0100007F:2365 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41235 2 0000000000000000 4',
  ].join('\n');
  test('the drops column of the matching socket, null when none matches', () => {
    assert.equal(dropsInProcNetUdp(text, '0100007F:2364'), 17);
    assert.equal(dropsInProcNetUdp(text, '0100007F:2365'), 4);
    assert.equal(dropsInProcNetUdp(text, '0100007F:2366'), null);
  });
});

describe('kernel drops on a real socket', () => {
  test('every datagram is received or counted by the kernel', async (t) => {
    const skip = requireOrSkip(existsSync('/proc/net/udp'), 'Linux /proc/net/udp');
    if (skip !== false) return t.skip(skip);
    let received = 0;
    const address = parseListen(`udp:127.0.0.1:${await freePort()}`);
    assert.ok(typeof address !== 'string');
    const l = new UdpListener({ address, recvBufferSize: 4096, onDatagram: () => void received++ });
    await l.start();
    try {
      assert.equal(l.kernelDrops(), 0);
      floodBlocking(l.port, SENT);
      // Loopback loses nothing else: what the socket did not queue, the kernel counted.
      assert.ok(await waitFor(() => received + (l.kernelDrops() ?? 0) === SENT, 5000), `received ${received} + drops ${l.kernelDrops()} != ${SENT}`);
      assert.ok((l.kernelDrops() ?? 0) > 0, 'a 4 KiB buffer under a blocked loop must overflow');
    } finally {
      await l.stop();
    }
    assert.equal(l.kernelDrops(), null);
  });

  test('the daemon shows them in /metrics and sipcapture.stats', async (t) => {
    const skip = requireOrSkip(existsSync('/proc/net/udp'), 'Linux /proc/net/udp');
    if (skip !== false) return t.skip(skip);
    const d = await startTestDaemon({ udp_recv_buffer: 4096 });
    try {
      floodBlocking(d.port, SENT);
      const name = `udp:127.0.0.1:${d.port}`;
      const metric = async (): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text();
        const m = new RegExp(`^sipcapture_udp_kernel_drops_total\\{listener="${name}"\\} (\\d+)$`, 'm').exec(text);
        return m === null ? -1 : Number(m[1]);
      };
      assert.ok(await waitFor(async () => (await metric()) > 0, 5000), 'kernel drops in /metrics');
      const rpc = await rpcHttp(d.httpPort, 'sipcapture.stats');
      const drops = (rpc.body.result as { udp_kernel_drops: Record<string, number> }).udp_kernel_drops[name] ?? 0;
      assert.ok(drops > 0);
      assert.equal(drops, await metric());
    } finally {
      await d.close();
    }
  });
});
