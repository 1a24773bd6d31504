/**
 * Hostile TCP agents against a real daemon: a garbage sender, a sender of half a frame that
 * then goes silent, and a flood of 2,000 connections from a separate process. Each must cost
 * only itself: a well-behaved agent on another connection keeps getting its rows stored, the
 * connection limits hold, the daemon's file descriptors stay bounded, and everything refused
 * or lost is counted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { ConnectionRejectReason } from '../../src/telemetry/stats.js';
import { isStreamListener } from '../../src/listeners/from-config.js';
import { startTestDaemon, tableRows, type TestDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/net.js';
import { uniqueOptionsHep } from '../helpers/sip-messages.js';

function hep(tag: string): { callId: string; packet: Buffer } {
  return uniqueOptionsHep(`hostile-${tag}`);
}

function callIds(t: TestDaemon): Set<string> {
  return new Set(tableRows(t.dbFile, 'sip_capture').map((r) => String(r.callid)));
}

async function connect(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  const sock = net.createConnection({ port, host: '127.0.0.1', localAddress });
  sock.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  return sock;
}

const write = (sock: net.Socket, data: Buffer): Promise<void> => new Promise((resolve, reject) => sock.write(data, (e) => (e ? reject(e) : resolve())));
const closed = (sock: net.Socket): Promise<void> => new Promise((resolve) => (sock.destroyed ? resolve() : sock.once('close', () => resolve())));
const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('hostile TCP agents: garbage and half frames', () => {
  let t: TestDaemon;
  before(async () => {
    t = await startTestDaemon({ tcp_idle_timeout_s: 1 });
  });
  after(() => t.close());

  test('200 KB of garbage costs only itself; the same connection and another agent keep storing', async () => {
    const good = await connect(t.port, '127.0.0.2');
    const hostile = await connect(t.port);
    const garbage = Buffer.alloc(200_000);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
    for (let i = 0; i < garbage.length; i++) if (garbage[i] === 0x48) garbage[i] = 0; // no 'H': no HEP3 magic inside
    const fromGood = [hep('good-a'), hep('good-b'), hep('good-c')];
    const afterGarbage = hep('after-garbage');
    const before = t.daemon.stats.droppedCount(DropReason.TCP_FRAMING);
    await write(good, fromGood[0]!.packet);
    for (let off = 0; off < garbage.length; off += 16_384) await write(hostile, garbage.subarray(off, off + 16_384));
    await write(good, fromGood[1]!.packet);
    await write(hostile, afterGarbage.packet);
    await write(good, fromGood[2]!.packet);
    assert.ok(await waitFor(() => [...fromGood, afterGarbage].every((p) => callIds(t).has(p.callId))), 'all good frames stored');
    assert.equal(t.daemon.stats.droppedCount(DropReason.TCP_FRAMING), before + 1, 'one skipped run, counted once');
    good.destroy();
    hostile.destroy();
  });

  test('a lying header (HEP3 + 0xFFFF) after frame 100 of 400: all 400 stored, the 6 bytes counted once', async () => {
    const sent = Array.from({ length: 400 }, (_, i) => hep(`liar-${i}`));
    const liar = Buffer.from('HEP3\xff\xff', 'latin1');
    const stream = Buffer.concat([...sent.slice(0, 100).map((p) => p.packet), liar, ...sent.slice(100).map((p) => p.packet)]);
    const framing = t.daemon.stats.droppedCount(DropReason.TCP_FRAMING);
    const malformed = t.daemon.stats.droppedCount(DropReason.HEP_MALFORMED);
    const sock = await connect(t.port);
    for (let off = 0; off < stream.length; off += 1460) await write(sock, stream.subarray(off, off + 1460));
    sock.end();
    await closed(sock);
    assert.ok(await waitFor(() => sent.every((p) => callIds(t).has(p.callId))), `stored ${sent.filter((p) => callIds(t).has(p.callId)).length} of 400`);
    assert.equal(t.daemon.stats.droppedCount(DropReason.TCP_FRAMING), framing + 1, 'the lying header, counted once');
    assert.equal(t.daemon.stats.droppedCount(DropReason.HEP_MALFORMED), malformed);
  });

  test('half a frame then silence: closed after tcp_idle_timeout_s, counted idle_timeout and tcp_framing', async () => {
    const framing = t.daemon.stats.droppedCount(DropReason.TCP_FRAMING);
    const idle = t.daemon.stats.connectionRejectedCount(ConnectionRejectReason.IDLE_TIMEOUT);
    const sock = await connect(t.port);
    const half = hep('half');
    const startedAt = Date.now();
    await write(sock, half.packet.subarray(0, 40));
    await closed(sock);
    const elapsed = Date.now() - startedAt;
    assert.ok(elapsed >= 900 && elapsed < 5000, `closed after ${elapsed} ms (idle timeout 1 s)`);
    assert.ok(await waitFor(() => t.daemon.stats.droppedCount(DropReason.TCP_FRAMING) === framing + 1));
    assert.equal(t.daemon.stats.connectionRejectedCount(ConnectionRejectReason.IDLE_TIMEOUT), idle + 1);
    assert.ok(!callIds(t).has(half.callId));
    assert.match(t.logs.join(''), /connection closed: tcp:127\.0\.0\.1:\d+ from 127\.0\.0\.1:\d+: nothing received for 1 s, 40 bytes of an unfinished frame/);
  });
});

/**
 * Runs in a separate process so the daemon's fd count is not mixed with the flood's own sockets.
 * It opens the connections and holds whatever the daemon leaves open until its stdin ends.
 */
const FLOODER = `
const net = require('node:net');
const [port, perSource] = process.argv.slice(1).map(Number);
const socks = [];
const open = (localAddress) => new Promise((resolve) => {
  const s = net.createConnection({ port, host: '127.0.0.1', localAddress });
  s.on('error', () => resolve());
  s.on('connect', () => resolve());
  socks.push(s);
});
(async () => {
  // One source after the other, in batches of 100, so the flood never overflows the listen
  // backlog: connections the kernel drops there would never reach the daemon, and the test
  // accounts for every one.
  for (const localAddress of ['127.0.0.1', '127.0.0.3']) {
    for (let i = 0; i < perSource; i += 100) {
      const batch = [];
      for (let j = i; j < Math.min(i + 100, perSource); j++) batch.push(open(localAddress));
      await Promise.all(batch);
    }
  }
})();
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

describe('hostile TCP agents: a flood of 2,000 connections', () => {
  let t: TestDaemon & { onClose?: () => void };
  before(async () => {
    t = await startTestDaemon({ tcp_max_connections: 60, tcp_max_connections_per_ip: 40, tcp_idle_timeout_s: 60 });
  });
  after(async () => {
    t.onClose?.();
    await t.close();
  });

  test('the limits hold, the fd count stays bounded, and a well-behaved agent keeps storing', async () => {
    const listener = t.daemon.listeners.find(isStreamListener);
    assert.ok(listener);
    const good = await connect(t.port, '127.0.0.2');
    const baseline = openFds();
    let maxFds = baseline;
    let maxConns = 0;
    const sampler = setInterval(() => {
      maxFds = Math.max(maxFds, openFds());
      maxConns = Math.max(maxConns, listener.connections);
    }, 5);
    const sent: string[] = [];
    let sending = true;
    const agent = (async () => {
      while (sending) {
        const p = hep('steady');
        await write(good, p.packet);
        sent.push(p.callId);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const child = spawn(process.execPath, ['-e', FLOODER, String(t.port), '1000'], { stdio: ['pipe', 'pipe', 'inherit'] });
    // However the test ends, the flooder (and its sockets) must go, or the test process never exits.
    t.onClose = () => child.kill();
    const rejected = (r: (typeof ConnectionRejectReason)[keyof typeof ConnectionRejectReason]): number => t.daemon.stats.connectionRejectedCount(r);
    const refused = (): number => rejected(ConnectionRejectReason.LIMIT_PER_IP) + rejected(ConnectionRejectReason.LIMIT_TOTAL);
    // Every flood connection is either refused or holds one of the 59 slots the agent left
    // (under load, some SYNs overflow the backlog and are retried by the kernel: wait for them).
    const settled = await waitFor(() => refused() + listener.connections - 1 >= 2000, 60_000, 20);
    sending = false;
    await agent;
    clearInterval(sampler);

    // 60 admitted in all (the good agent holds one of them), at most 40 from one address.
    assert.ok(settled, `refused ${refused()}, open ${listener.connections}`);
    assert.equal(listener.connections, 60);
    assert.equal(refused(), 2000 - 59);
    // 127.0.0.1 floods first: 40 admitted, 960 over the per-address limit; then 127.0.0.3 gets
    // the remaining 19 slots and 981 connections over the listener limit.
    assert.equal(rejected(ConnectionRejectReason.LIMIT_PER_IP), 960);
    assert.equal(rejected(ConnectionRejectReason.LIMIT_TOTAL), 981);
    assert.ok(maxConns <= 60, `open connections peaked at ${maxConns}`);
    assert.ok(maxFds - baseline <= 60 + 20, `daemon fds grew from ${baseline} to ${maxFds}`);
    assert.ok(sent.length >= 3, `the agent sent ${sent.length} frames during the flood`);
    assert.ok(await waitFor(() => sent.every((id) => callIds(t).has(id))), 'every frame of the well-behaved agent is stored');
    console.log(`flood: refused ${refused()}, open ${listener.connections}, agent frames ${sent.length}, daemon fds ${baseline} → peak ${maxFds}, connections peak ${maxConns}`);
    child.stdin.end();
    await new Promise((r) => child.once('exit', r));
    good.destroy();
  });
});
