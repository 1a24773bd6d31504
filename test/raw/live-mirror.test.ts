/**
 * Live port-mirroring capture (cap in a capture child) on the host side of a veth pair, with
 * traffic sent from a namespace the test creates and deletes. Needs root; skipped otherwise
 * (fails under CI=true).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { CapturedMessage } from '../../src/capture/message.js';
import { Stats } from '../../src/telemetry/stats.js';
import { partitionOf } from '../../src/raw/bpf.js';
import { RawCaptureSupervisor, type RawCaptureConfig, type RawSupervisorOptions } from '../../src/raw/supervisor.js';
import { waitFor } from '../helpers/net.js';
import { collector, ethernet, fragmentV4, fragmentV6, ipv4, ipv6, sip, tcp, TCP, udp } from './_packets.js';
import { b64, createNetns, liveSkip, type Netns } from './_netns.js';

const skip = liveSkip();

let tagSeq = 0;
/** A SIP message whose Call-ID carries a unique marker (other traffic on the host is ignored). */
function marked(first = 'OPTIONS sip:probe@example.invalid SIP/2.0', body = ''): { tag: string; payload: Buffer } {
  const tag = `m${process.pid}x${tagSeq++}`;
  return { tag, payload: sip(first, body, [`X-Test: ${tag}`]) };
}
const hasTag = (m: CapturedMessage, tag: string): boolean => m.payload.includes(`X-Test: ${tag}\r\n`);

const mac = (text: string): Buffer => Buffer.from(text.split(':').map((h) => parseInt(h, 16)));

interface Running {
  sup: RawCaptureSupervisor;
  got: CapturedMessage[];
  stats: Stats;
}

async function startMirror(net: Netns, config: Partial<RawCaptureConfig>, extra: Partial<RawSupervisorOptions> = {}): Promise<Running> {
  const sink = collector();
  const stats = new Stats(null);
  const sup = new RawCaptureSupervisor({
    config: {
      raw_ipip_capture_on: 0,
      raw_moni_capture_on: 1,
      raw_socket_listen: `${net.hostIp}:5060-5090`,
      raw_interface: net.hostIf,
      raw_sock_children: 1,
      promiscuous_on: 1,
      raw_moni_bpf_on: 1,
      ...config,
    },
    sink,
    stats,
    bufferBytes: 8 * 1024 * 1024,
    statsIntervalMs: 100,
    restartInitialMs: 100,
    ...extra,
  });
  await sup.start();
  return { sup, got: sink.messages, stats };
}

/** Waits until `n` messages with the tags arrived, then a little longer to catch extras. */
async function collect(r: Running, tags: string[], n: number): Promise<CapturedMessage[]> {
  const mine = (): CapturedMessage[] => r.got.filter((m) => tags.some((t) => hasTag(m, t)));
  await waitFor(() => mine().length >= n, 8000, 20);
  await new Promise((res) => setTimeout(res, 300));
  return mine();
}

describe('live mirror capture on a veth pair', { skip, timeout: 120_000 }, () => {
  let net: Netns;
  before(() => {
    net = createNetns(false);
  });
  after(() => {
    net?.destroy();
  });

  test('SIP sent from the namespace is received; out-of-range ports are not (kernel BPF)', async () => {
    const r = await startMirror(net, { raw_moni_bpf_on: 1 });
    try {
      const sends = [5060, 5075, 5090, 6000, 5091].map((port) => ({ port, ...marked() }));
      net.send(sends.map((s) => ({ kind: 'udp' as const, dst: net.hostIp, port: s.port, sport: 40000, payload: b64(s.payload) })));
      const got = await collect(r, sends.map((s) => s.tag), 3);
      assert.deepEqual(got.map((m) => m.dstPort).sort(), [5060, 5075, 5090]);
      for (const m of got) {
        assert.deepEqual([m.srcIp, m.srcPort, m.dstIp, m.family, m.proto, m.source, m.hepTime], [net.nsIp, 40000, net.hostIp, 2, 1, 'mirror', null]);
        assert.ok(Math.abs(m.receivedAtUs / 1000 - Date.now()) < 10_000, 'receivedAtUs is the capture time');
      }
      await new Promise((res) => setTimeout(res, 250)); // one stats interval
      assert.equal(r.sup.dropCounts()['port_filter'] ?? 0, 0, 'the kernel filtered: no port drops in user space');
    } finally {
      await r.sup.stop();
    }
  });

  test('without BPF the same traffic is filtered in user space (and counted)', async () => {
    const r = await startMirror(net, { raw_moni_bpf_on: 0 });
    try {
      const sends = [5060, 6000, 5091].map((port) => ({ port, ...marked() }));
      net.send(sends.map((s) => ({ kind: 'udp' as const, dst: net.hostIp, port: s.port, sport: 40000, payload: b64(s.payload) })));
      const got = await collect(r, sends.map((s) => s.tag), 1);
      assert.deepEqual(got.map((m) => m.dstPort), [5060]);
      await waitFor(() => (r.sup.dropCounts()['port_filter'] ?? 0) >= 2, 3000, 50);
      assert.equal(r.sup.dropCounts()['port_filter'], 2);
      assert.ok((r.stats.snapshot().dropped['filtered'] ?? 0) >= 2, 'reported to Stats as filtered');
    } finally {
      await r.sup.stop();
    }
  });

  test('raw_interface empty: all interfaces (libpcap "any", Linux cooked link type decoded by hand)', async () => {
    const r = await startMirror(net, { raw_interface: '' });
    try {
      const m = marked();
      net.send([{ kind: 'udp', dst: net.hostIp, port: 5070, sport: 40000, payload: b64(m.payload) }]);
      const got = await collect(r, [m.tag], 1);
      assert.equal(got.length, 1);
      assert.deepEqual([got[0]?.srcIp, got[0]?.dstIp, got[0]?.dstPort], [net.nsIp, net.hostIp, 5070]);
      assert.equal(r.sup.name, 'mirror:any:5060-5090');
    } finally {
      await r.sup.stop();
    }
  });

  test('promiscuous_on = 1 sees a frame for a foreign MAC; promiscuous_on = 0 does not', async () => {
    for (const promiscuous_on of [1, 0]) {
      const r = await startMirror(net, { promiscuous_on });
      try {
        if (promiscuous_on === 1) {
          const link = execFileSync('ip', ['-d', 'link', 'show', net.hostIf], { encoding: 'utf8' });
          assert.match(link, /promiscuity [1-9]/, 'the device is in promiscuous mode while capturing');
        }
        const toForeign = marked();
        const toHost = marked();
        net.send([
          { kind: 'udp', dst: net.foreignIp, port: 5060, sport: 40000, payload: b64(toForeign.payload) },
          { kind: 'udp', dst: net.hostIp, port: 5060, sport: 40000, payload: b64(toHost.payload) },
        ]);
        const got = await collect(r, [toForeign.tag, toHost.tag], promiscuous_on === 1 ? 2 : 1);
        const dsts = got.map((m) => m.dstIp).sort();
        assert.deepEqual(dsts, promiscuous_on === 1 ? [net.hostIp, net.foreignIp].sort() : [net.hostIp], `promiscuous_on=${promiscuous_on}`);
      } finally {
        await r.sup.stop();
      }
    }
  });

  test('TCP (split and coalesced), 802.1Q and QinQ, IPv4/IPv6 fragments, IPv6, IPIP — through the kernel BPF', async () => {
    const r = await startMirror(net, {});
    try {
      const eth = (type: number, payload: Buffer, vlans?: number[]): string =>
        b64(ethernet(type, payload, { dst: mac(net.hostMac), src: mac(net.nsMac), ...(vlans ? { vlans } : {}) }));
      const A = net.nsIp;
      const B = net.hostIp;
      const t1 = marked('INVITE sip:bob@example.invalid SIP/2.0', 'v=0\r\n'.repeat(50));
      const t2 = marked('SIP/2.0 100 Trying');
      const t3 = marked('SIP/2.0 180 Ringing');
      const stream = Buffer.concat([t1.payload, t2.payload, t3.payload]);
      const cut = 200;
      const cut2 = t1.payload.length + 10;
      const seg = (seq: number, flags: number, p: Buffer): string => eth(0x0800, ipv4({ src: A, dst: B, proto: 6, payload: tcp(40002, 5070, seq, flags, p) }));
      const vlan = marked();
      const qinq = marked();
      const frag4 = marked('MESSAGE sip:bob@example.invalid SIP/2.0', 'f'.repeat(3000));
      const v6 = marked();
      const frag6 = marked('MESSAGE sip:bob@example.invalid SIP/2.0', 'g'.repeat(3000));
      const tunneled = marked();
      const outOfRange = marked();
      const udp4 = (p: Buffer, dport = 5060): Buffer => ipv4({ src: A, dst: B, proto: 17, payload: udp(40000, dport, p) });
      const v6u = (p: Buffer): Buffer => udp(40000, 5064, p);
      const frames = [
        seg(999, TCP.SYN, Buffer.alloc(0)),
        seg(1000, TCP.ACK | TCP.PSH, stream.subarray(0, cut)),
        seg(1000 + cut, TCP.ACK | TCP.PSH, stream.subarray(cut, cut2)),
        seg(1000 + cut2, TCP.ACK | TCP.PSH, stream.subarray(cut2)),
        seg(1000 + cut2, TCP.ACK | TCP.PSH, stream.subarray(cut2)), // retransmission
        eth(0x0800, udp4(vlan.payload, 5061), [0x8100]),
        eth(0x0800, udp4(qinq.payload, 5062), [0x88a8, 0x8100]),
        ...fragmentV4({ src: A, dst: B, proto: 17, id: 4242, payload: udp(40000, 5063, frag4.payload) }, 1200)
          .reverse()
          .map((f) => eth(0x0800, f)),
        eth(0x86dd, ipv6({ src: 'fd00::2', dst: 'fd00::1', next: 17, payload: v6u(v6.payload) })),
        ...fragmentV6({ src: 'fd00::2', dst: 'fd00::1', next: 17, payload: v6u(frag6.payload) }, 1200, 99).map((f) => eth(0x86dd, f)),
        eth(0x0800, ipv4({ src: A, dst: B, proto: 4, payload: ipv4({ src: '198.18.0.2', dst: '198.18.0.1', proto: 17, payload: udp(40000, 5065, tunneled.payload) }) })),
        eth(0x0800, udp4(outOfRange.payload, 7000)),
        eth(0x0800, ipv4({ src: A, dst: B, proto: 6, payload: tcp(40003, 7001, 1, TCP.ACK | TCP.PSH, outOfRange.payload) })),
      ];
      net.send([{ kind: 'frames', dev: net.nsIf, frames }]);
      const tags = [t1, t2, t3, vlan, qinq, frag4, v6, frag6, tunneled, outOfRange].map((t) => t.tag);
      const got = await collect(r, tags, 9);
      const by = (t: { tag: string }): CapturedMessage | undefined => got.find((m) => hasTag(m, t.tag));
      const names = ['t1', 't2', 't3', 'vlan', 'qinq', 'frag4', 'v6', 'frag6', 'tunneled', 'outOfRange'];
      const missing = [t1, t2, t3, vlan, qinq, frag4, v6, frag6, tunneled, outOfRange].flatMap((t, i) => (by(t) === undefined ? [names[i]] : []));
      assert.deepEqual(missing, ['outOfRange']);
      assert.equal(got.length, 9, 'nothing out of range, no retransmitted duplicate');
      assert.deepEqual([by(t1)?.proto, by(t1)?.payload.length, by(t2)?.proto, by(t3)?.proto], [2, t1.payload.length, 2, 2]);
      assert.deepEqual([by(vlan)?.dstPort, by(qinq)?.dstPort], [5061, 5062]);
      assert.equal(by(frag4)?.payload.length, frag4.payload.length);
      assert.deepEqual([by(v6)?.family, by(v6)?.srcIp, by(frag6)?.payload.length], [10, 'fd00::2', frag6.payload.length]);
      assert.deepEqual([by(tunneled)?.srcIp, by(tunneled)?.dstIp, by(tunneled)?.dstPort], ['198.18.0.2', '198.18.0.1', 5065]);
      assert.equal(by(outOfRange), undefined);
    } finally {
      await r.sup.stop();
    }
  });

  test('raw_sock_children = 2: each packet delivered exactly once, split as the kernel partition says', async () => {
    const r = await startMirror(net, { raw_sock_children: 2 });
    try {
      const sends = Array.from({ length: 40 }, (_, i) => {
        const m = marked();
        const pkt = ipv4({ src: `198.18.0.${10 + i}`, dst: `198.18.0.${200 - 2 * i}`, proto: 17, payload: udp(40000, 5060 + (i % 30), m.payload) });
        return { ...m, pkt, child: partitionOf(pkt, 0, pkt.length, 2) };
      });
      net.send([{ kind: 'frames', dev: net.nsIf, frames: sends.map((s) => b64(ethernet(0x0800, s.pkt, { dst: mac(net.hostMac), src: mac(net.nsMac) }))) }]);
      const got = await collect(r, sends.map((s) => s.tag), 40);
      assert.equal(got.length, 40, 'no duplicates, none lost');
      assert.equal(new Set(got.map((m) => m.payload.toString('latin1'))).size, 40);
      const expected = [0, 1].map((k) => sends.filter((s) => s.child === k).length);
      assert.ok(expected[0]! > 0 && expected[1]! > 0, 'the test traffic uses both children');
      assert.deepEqual(
        r.sup.status().map((s) => s.messages),
        expected,
      );
    } finally {
      await r.sup.stop();
    }
  });

  test('a killed capture child is restarted and captures again', async () => {
    const r = await startMirror(net, {});
    try {
      const [pid] = r.sup.childPids();
      assert.ok(pid !== undefined);
      process.kill(pid, 'SIGKILL');
      assert.ok(await waitFor(() => r.sup.restarts === 1 && r.sup.childPids().length === 1 && r.sup.childPids()[0] !== pid, 10_000));
      const m = marked();
      net.send([{ kind: 'udp', dst: net.hostIp, port: 5060, sport: 40000, payload: b64(m.payload) }]);
      assert.equal((await collect(r, [m.tag], 1)).length, 1);
      assert.equal(r.sup.status()[0]?.restarts, 1);
    } finally {
      await r.sup.stop();
    }
  });

  test('the interface disappears: cap aborts the child, the daemon survives and keeps retrying', async () => {
    const other = createNetns(false);
    let r: Running | null = null;
    try {
      r = await startMirror(other, {}, { restartInitialMs: 50, restartMaxMs: 200 });
      const [pid] = r.sup.childPids();
      other.destroy(); // deletes the veth pair under the running capture
      const sup = r.sup;
      assert.ok(await waitFor(() => sup.restarts >= 2, 10_000), 'restarted (and failed again) at least twice');
      assert.ok(!sup.childPids().includes(pid ?? -1));
      assert.match(sup.status()[0]?.lastError ?? '', /no such (network interface|device)/i);
    } finally {
      await r?.sup.stop();
      other.destroy();
    }
  });
});
