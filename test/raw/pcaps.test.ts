/**
 * Every real-world capture in ../shared/pcaps through importPcap (the raw-capture decode path).
 * The files are read in place, never copied. Skipped with a reason when ../shared is absent,
 * except under CI=true.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { KamailioProto, type CapturedMessage } from '../../src/capture/message.js';
import { importPcap, type ImportPcapResult } from '../../src/commands/import-pcap.js';
import { Stats } from '../../src/telemetry/stats.js';
import { requireOrSkip, SHARED_DIR } from '../helpers/env.js';
import { collector } from './_packets.js';

const PCAPS = path.join(SHARED_DIR, 'pcaps');
const skip = requireOrSkip(existsSync(PCAPS), `${PCAPS} (real-world captures)`);

async function run(name: string, rawSocketListen = ''): Promise<{ res: ImportPcapResult; msgs: CapturedMessage[]; stats: Stats }> {
  const stats = new Stats(null);
  const sink = collector();
  const res = await importPcap(path.join(PCAPS, name), sink, stats, { rawSocketListen });
  return { res, msgs: sink.messages, stats };
}

const text = (m: CapturedMessage | undefined): string => m?.payload.toString('latin1') ?? '';
const countBy = (msgs: CapturedMessage[], key: 'proto' | 'family'): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const m of msgs) out[m[key]] = (out[m[key]] ?? 0) + 1;
  return out;
};

/** Every framed message has exactly its Content-Length of body. */
function assertFramed(msgs: CapturedMessage[]): void {
  for (const m of msgs) {
    const s = text(m);
    const he = s.indexOf('\r\n\r\n');
    const cl = /\n(?:content-length|l)[ \t]*:[ \t]*(\d+)/i.exec(s);
    assert.ok(he > 0, 'header block ends');
    assert.equal(s.length - he - 4, Number(cl?.[1] ?? 0), s.slice(0, 60));
  }
}

describe('real captures through importPcap', { skip }, () => {
  test('ipip-rawip.pcap: raw-IP link type from an IPIP tunnel, 8 SIP/UDP messages', async () => {
    const { res, msgs } = await run('ipip-rawip.pcap');
    assert.deepEqual([res.packets, res.messages, res.dropped], [8, 8, {}]);
    const m = msgs[0];
    assert.deepEqual(
      [m?.srcIp, m?.srcPort, m?.dstIp, m?.dstPort, m?.family, m?.proto, m?.source],
      ['179.43.150.26', 33489, '157.161.10.72', 5060, 2, KamailioProto.UDP, 'pcap'],
    );
    assert.match(text(m), /^INVITE sip:\+3908351673002@157\.161\.10\.72/);
    assert.deepEqual(m?.hepTime, { sec: 1774015992, usec: m?.hepTime?.usec ?? -1, captureId: 0 });
    assert.deepEqual(
      msgs.map((x) => text(x).split(' ')[0] === 'SIP/2.0' ? text(x).split(' ')[1] : text(x).split(' ')[0]),
      ['INVITE', '403', 'REGISTER', '401', 'REGISTER', '401', 'REGISTER', '401'],
    );
  });

  test('ipip-sip-tcp.pcap: Ethernet + IPIP carrying SIP over TCP, inner addresses', async () => {
    const { res, msgs } = await run('ipip-sip-tcp.pcap');
    assert.deepEqual([res.packets, res.messages], [4, 4]);
    assert.deepEqual(countBy(msgs, 'proto'), { [KamailioProto.TCP]: 4 });
    assert.deepEqual([msgs[0]?.srcIp, msgs[0]?.srcPort, msgs[0]?.dstIp, msgs[0]?.dstPort], ['10.15.197.103', 5090, '10.15.193.31', 33093]);
    assert.match(text(msgs[0]), /^INVITE sip:1bdaa608131517540001@/);
    assert.match(text(msgs[3]), /^BYE /);
    assertFramed(msgs);
  });

  test('ipv6-fragmented.pcap: Linux cooked, two fragmented INVITEs reassembled, 32 messages', async () => {
    const { res, msgs } = await run('ipv6-fragmented.pcap');
    assert.deepEqual([res.packets, res.messages, res.reassembled.ip, res.dropped], [34, 32, 2, {}]);
    assert.deepEqual(countBy(msgs, 'family'), { 10: 32 });
    const invites = msgs.filter((m) => text(m).startsWith('INVITE '));
    assert.deepEqual(
      invites.map((m) => m.payload.length),
      [1691, 1871],
    );
    assert.deepEqual(
      [invites[0]?.srcIp, invites[0]?.srcPort, invites[0]?.dstIp, invites[0]?.dstPort],
      ['fd17:625c:f037:2:a00:27ff:feb9:1521', 15060, 'fd17:625c:f037:2:a00:27ff:feb9:3519', 5062],
    );
    assertFramed(invites);
  });

  test('ipv6_udp_fragmented.pcap: the fragmented datagram reassembles (its payload is NDN, not SIP)', async () => {
    const { res } = await run('ipv6_udp_fragmented.pcap');
    assert.deepEqual([res.packets, res.messages, res.reassembled.ip], [6, 0, 1]);
    assert.deepEqual(res.dropped, { not_sip: 3 });
  });

  test('mixed-traffic.pcap: 691 packets, the 81 SIP-carrying ones become messages', async () => {
    const { res, msgs, stats } = await run('mixed-traffic.pcap');
    assert.deepEqual([res.packets, res.messages], [691, 81]);
    assert.deepEqual(countBy(msgs, 'proto'), { [KamailioProto.UDP]: 81 });
    // Datagrams are counted per packet; TCP per event (a skipped non-SIP run can span segments).
    assert.deepEqual(res.dropped, { not_sip: 509, not_ip: 44, no_payload: 28, tcp_not_sip: 24 });
    // Each kind is counted under its DropReason (raw/drops.ts): not SIP vs not decodable.
    const counted = stats.snapshot().dropped;
    assert.equal(counted['raw_not_sip'], 509 + 28 + 24);
    assert.equal(counted['raw_malformed'], 44);
    assert.equal(counted['filtered'], undefined);
  });

  test('sip_ipv4_tcp.pcap: 7 SIP messages over TCP', async () => {
    const { res, msgs } = await run('sip_ipv4_tcp.pcap');
    assert.deepEqual([res.packets, res.messages], [84, 7]);
    assert.deepEqual(
      msgs.map((m) => text(m).slice(0, 12)),
      ['INVITE sip:2', 'SIP/2.0 100 ', 'SIP/2.0 180 ', 'SIP/2.0 200 ', 'ACK sip:201@', 'BYE sip:101@', 'SIP/2.0 200 '],
    );
    assertFramed(msgs);
  });

  test('sip_ipv4_tcp_fragmented.pcap: messages across segments, 406 framed messages', async () => {
    const { res, msgs } = await run('sip_ipv4_tcp_fragmented.pcap');
    assert.deepEqual([res.packets, res.messages, res.tcp.segments], [1542, 406, 1542]);
    assert.deepEqual(res.dropped, { no_payload: 614 }, 'only pure ACKs are not delivered');
    assert.deepEqual(countBy(msgs, 'proto'), { [KamailioProto.TCP]: 406 });
    // The first INVITE (1169 bytes) arrived in a 1024-byte segment plus the next one.
    assert.equal(msgs[0]?.payload.length, 1169);
    assert.match(text(msgs[0]), /^INVITE sip:699818@10\.186\.205\.131:6060/);
    assertFramed(msgs);
  });

  test('sip_ipv4_tcp_retrans.pcap: the retransmitted 200 OK is delivered once', async () => {
    const { res, msgs } = await run('sip_ipv4_tcp_retrans.pcap');
    assert.equal(res.messages, 8);
    assert.equal(res.dropped['tcp_retransmission'], 1);
    assert.deepEqual(countBy(msgs, 'proto'), { [KamailioProto.UDP]: 4, [KamailioProto.TCP]: 4 });
    assert.equal(msgs.filter((m) => m.proto === KamailioProto.TCP && text(m).startsWith('SIP/2.0 200 OK')).length, 1);
  });

  test('sip_ipv6_udp.pcap: 6 messages, IPv6 text as inet_ntop', async () => {
    const { res, msgs } = await run('sip_ipv6_udp.pcap');
    assert.deepEqual([res.packets, res.messages], [6, 6]);
    assert.deepEqual([msgs[0]?.srcIp, msgs[0]?.dstIp, msgs[0]?.family], ['fe80::21a:a0ff:fe07:32e0', 'fec0::216:d3ff:fe0d:22c', 10]);
  });

  test('sip_sctp.pcap: SIP over SCTP, an INVITE split over two DATA chunks', async () => {
    const { res, msgs } = await run('sip_sctp.pcap');
    assert.deepEqual([res.packets, res.messages, res.reassembled.sctp, res.dropped], [5, 4, 1, {}]);
    assert.deepEqual(countBy(msgs, 'proto'), { [KamailioProto.SCTP]: 4 });
    assert.equal(msgs[0]?.payload.length, 1764);
    assert.match(text(msgs[0]), /^INVITE sip:9275890000@VMSSM/);
  });

  test('erspan_sip_ipv4_udp.pcapng: GRE/ERSPAN decapsulated, 140 messages', async () => {
    const { res, msgs } = await run('erspan_sip_ipv4_udp.pcapng');
    assert.deepEqual([res.format, res.packets, res.messages, res.dropped], ['pcapng', 140, 140, {}]);
    assert.deepEqual([msgs[0]?.srcIp, msgs[0]?.srcPort, msgs[0]?.dstIp, msgs[0]?.dstPort], ['180.173.83.248', 53221, '101.231.48.19', 5260]);
    assert.match(text(msgs[0]), /^SUBSCRIBE /);
  });

  test('rtp_rtcp_sip_ipv4_udp.pcap: 14 SIP messages among RTP/RTCP', async () => {
    const { res, msgs } = await run('rtp_rtcp_sip_ipv4_udp.pcap');
    assert.deepEqual([res.packets, res.messages], [4269, 14]);
    assert.deepEqual(countBy(msgs, 'proto'), { [KamailioProto.UDP]: 14 });
  });

  test('sip_tcp_websocket.pcap: 28 SIP/UDP messages and the 11 SIP messages in WebSocket frames', async () => {
    const { res, msgs } = await run('sip_tcp_websocket.pcap');
    assert.deepEqual([res.packets, res.messages, res.websocket], [61, 39, 11]);
    assert.deepEqual(countBy(msgs, 'proto'), { [KamailioProto.UDP]: 28, [KamailioProto.WS]: 11 });
    for (const m of msgs.filter((x) => x.proto === KamailioProto.WS)) assert.match(text(m), /^([A-Z]+ \S+ SIP\/2\.0|SIP\/2\.0 \d{3} )/);
    assertFramed(msgs.filter((x) => x.proto === KamailioProto.WS));
  });

  test('HEP captures: every HEP packet is decoded and delivered as if received (compressed payloads too)', async () => {
    for (const [name, packets, sip] of [
      ['hep3-mixed.pcap', 8, 6],
      ['hep3-compressed.pcapng', 21, 21],
    ] as const) {
      const { res, msgs } = await run(name);
      assert.deepEqual([res.packets, res.messages, res.hep, res.dropped], [packets, packets, packets, {}], name);
      assert.equal(msgs.filter((m) => m.protoType === 1).length, sip, name);
      assert.ok(msgs.every((m) => m.source === 'hep' && m.hepTime !== null), name);
    }
  });

  test('every capture adds up: packets = packets with messages + packets joined into one + packets dropped', async () => {
    const names = readdirSync(PCAPS).filter((n) => /\.pcap(ng)?$/.test(n)).sort();
    assert.ok(names.length >= 15, 'the shared captures are there');
    for (const name of names) {
      const { res, stats } = await run(name);
      const a = res.accounting;
      assert.equal(a.withMessages + a.joined + a.dropped, res.packets, `${name}: ${JSON.stringify(a)}`);
      const counted = Object.values(stats.snapshot().dropped).reduce((x, y) => x + y, 0);
      // each dropped packet has at least one counted drop; a drop without its own packet is a
      // reassembly that ended incomplete, whose packets are among the joined ones
      assert.ok(counted >= a.dropped, `${name}: ${counted} drops counted for ${a.dropped} dropped packets`);
      assert.ok(res.messages >= a.withMessages, name);
      process.stdout.write(`# ${name}: ${res.packets} packets = ${a.withMessages} with messages + ${a.joined} joined + ${a.dropped} dropped; ${res.messages} messages\n`);
    }
  });

  test('a port range filters like mirror mode (source or destination port)', async () => {
    const { res } = await run('sip_ipv4_tcp_fragmented.pcap', '0.0.0.0:5060');
    assert.equal(res.messages, 0);
    const { res: r2, msgs } = await run('rtp_rtcp_sip_ipv4_udp.pcap', '0.0.0.0:5060-5070');
    assert.equal(r2.messages, msgs.length);
    for (const m of msgs) assert.ok((m.srcPort >= 5060 && m.srcPort <= 5070) || (m.dstPort >= 5060 && m.dstPort <= 5070));
  });
});
