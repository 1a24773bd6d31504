/**
 * Live IPIP capture: hand-built inner packets are sent from a namespace through a raw socket of
 * protocol 4 (or 41), so the kernel adds the outer IPv4 header (this kernel has no ipip module,
 * so no real tunnel device). The capture child's raw socket receives them on the host side.
 * Needs root; skipped otherwise (fails under CI=true).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { CapturedMessage } from '../../src/capture/message.js';
import { Stats } from '../../src/telemetry/stats.js';
import { partitionOf } from '../../src/raw/bpf.js';
import { RawCaptureSupervisor, type RawCaptureConfig } from '../../src/raw/supervisor.js';
import { waitFor } from '../helpers/net.js';
import { collector, ipv4, ipv6, sip, udp } from './_packets.js';
import { b64, createNetns, liveSkip, type Netns } from './_netns.js';

const skip = liveSkip();

let tagSeq = 0;
function marked(): { tag: string; payload: Buffer } {
  const tag = `i${process.pid}x${tagSeq++}`;
  return { tag, payload: sip('OPTIONS sip:probe@example.invalid SIP/2.0', '', [`X-Test: ${tag}`]) };
}
const hasTag = (m: CapturedMessage, tag: string): boolean => m.payload.includes(`X-Test: ${tag}\r\n`);

interface Running {
  sup: RawCaptureSupervisor;
  got: CapturedMessage[];
}

async function startIpip(net: Netns, config: Partial<RawCaptureConfig>): Promise<Running> {
  const sink = collector();
  const sup = new RawCaptureSupervisor({
    config: {
      raw_ipip_capture_on: 1,
      raw_moni_capture_on: 0,
      raw_socket_listen: `${net.hostIp}:5060-5090`,
      raw_interface: net.hostIf,
      raw_sock_children: 1,
      promiscuous_on: 0,
      raw_moni_bpf_on: 0,
      ...config,
    },
    sink,
    stats: new Stats(null),
    bufferBytes: 4 * 1024 * 1024,
    statsIntervalMs: 100,
    restartInitialMs: 100,
  });
  await sup.start();
  return { sup, got: sink.messages };
}

async function collect(r: Running, tags: string[], n: number): Promise<CapturedMessage[]> {
  const mine = (): CapturedMessage[] => r.got.filter((m) => tags.some((t) => hasTag(m, t)));
  await waitFor(() => mine().length >= n, 8000, 20);
  await new Promise((res) => setTimeout(res, 300));
  return mine();
}

const inner4 = (payload: Buffer, dport: number, src = '198.18.0.2', dst = '198.18.0.1'): Buffer =>
  ipv4({ src, dst, proto: 17, payload: udp(40000, dport, payload) });

describe('live IPIP capture (raw socket, protocol 4 and 41)', { skip, timeout: 120_000 }, () => {
  let net: Netns;
  before(() => {
    net = createNetns(true);
  });
  after(() => {
    net?.destroy();
  });

  test('IPIP packets from the namespace are stored with the inner addresses; ports outside the range are not', async () => {
    const r = await startIpip(net, {});
    try {
      const inRange = marked();
      const outOfRange = marked();
      const sit = marked();
      const big = marked();
      net.send([
        { kind: 'raw', proto: 4, dst: net.hostIp, packets: [b64(inner4(inRange.payload, 5060)), b64(inner4(outOfRange.payload, 6000))] },
        { kind: 'raw', proto: 41, dst: net.hostIp, packets: [b64(ipv6({ src: 'fd00::2', dst: 'fd00::1', next: 17, payload: udp(40000, 5061, sit.payload) }))] },
        // 5 KB inner packet: the kernel fragments the outer packet and reassembles it before the raw socket.
        { kind: 'raw', proto: 4, dst: net.hostIp, packets: [b64(inner4(sip('MESSAGE sip:x@example.invalid SIP/2.0', 'z'.repeat(5000), [`X-Test: ${big.tag}`]), 5062))] },
      ]);
      const got = await collect(r, [inRange.tag, outOfRange.tag, sit.tag, big.tag], 3);
      const by = (t: { tag: string }): CapturedMessage | undefined => got.find((m) => hasTag(m, t.tag));
      assert.deepEqual(
        [by(inRange)?.srcIp, by(inRange)?.srcPort, by(inRange)?.dstIp, by(inRange)?.dstPort, by(inRange)?.family, by(inRange)?.proto, by(inRange)?.source],
        ['198.18.0.2', 40000, '198.18.0.1', 5060, 2, 1, 'ipip'],
      );
      assert.equal(by(outOfRange), undefined);
      assert.deepEqual([by(sit)?.family, by(sit)?.srcIp, by(sit)?.dstPort], [10, 'fd00::2', 5061]);
      assert.ok((by(big)?.payload.length ?? 0) > 5000, 'a 5 KB IPIP packet arrives whole (bufferSize 65535)');
      assert.equal(got.length, 3);
      await waitFor(() => (r.sup.dropCounts()['port_filter'] ?? 0) >= 1, 2000, 50);
      assert.equal(r.sup.dropCounts()['port_filter'], 1);
    } finally {
      await r.sup.stop();
    }
  });

  test('the IP of raw_socket_listen must be the outer destination (Kamailio binds to it)', async () => {
    const r = await startIpip(net, { raw_socket_listen: '127.0.0.1:5060-5090' });
    try {
      const m = marked();
      net.send([{ kind: 'raw', proto: 4, dst: net.hostIp, packets: [b64(inner4(m.payload, 5060))] }]);
      assert.equal((await collect(r, [m.tag], 1)).length, 0);
      assert.ok(await waitFor(() => (r.sup.dropCounts()['dst_ip_filter'] ?? 0) >= 1, 3000, 50));
    } finally {
      await r.sup.stop();
    }
  });

  test('raw_sock_children = 2: every packet once, split by the inner addresses', async () => {
    const r = await startIpip(net, { raw_sock_children: 2 });
    try {
      const sends = Array.from({ length: 20 }, (_, i) => {
        const m = marked();
        const pkt = inner4(m.payload, 5060, `198.18.0.${20 + i}`, `198.18.0.${100 + 2 * i}`);
        return { ...m, pkt, child: partitionOf(pkt, 0, pkt.length, 2) };
      });
      net.send([{ kind: 'raw', proto: 4, dst: net.hostIp, packets: sends.map((s) => b64(s.pkt)) }]);
      const got = await collect(r, sends.map((s) => s.tag), 20);
      assert.equal(got.length, 20);
      assert.equal(new Set(got.map((m) => m.payload.toString('latin1'))).size, 20);
      const expected = [0, 1].map((k) => sends.filter((s) => s.child === k).length);
      assert.ok(expected[0]! > 0 && expected[1]! > 0);
      assert.deepEqual(
        r.sup.status().map((s) => s.messages),
        expected,
      );
    } finally {
      await r.sup.stop();
    }
  });

  test('a killed IPIP child is restarted', async () => {
    const r = await startIpip(net, {});
    try {
      const [pid] = r.sup.childPids();
      process.kill(pid ?? 0, 'SIGKILL');
      assert.ok(await waitFor(() => r.sup.restarts === 1 && r.sup.childPids().length === 1, 10_000));
      const m = marked();
      net.send([{ kind: 'raw', proto: 4, dst: net.hostIp, packets: [b64(inner4(m.payload, 5090))] }]);
      assert.equal((await collect(r, [m.tag], 1)).length, 1);
    } finally {
      await r.sup.stop();
    }
  });
});
