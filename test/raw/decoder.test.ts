import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { KamailioProto } from '../../src/capture/message.js';
import { encodeHep } from '../../src/hep/encode.js';
import { RawDecoder, type RawDecoderOptions } from '../../src/raw/decoder.js';
import { LinkType } from '../../src/raw/link.js';
import { rawListenOf } from '../../src/raw/port-filter.js';
import {
  collector,
  ethernet,
  ext6,
  fragmentV4,
  fragmentV6,
  gre,
  INVITE,
  ipv4,
  ipv6,
  MAC_A,
  MAC_B,
  sctp,
  sip,
  sll,
  sll2,
  tcp,
  TCP,
  udp,
} from './_packets.js';

function setup(opts: Partial<RawDecoderOptions> = {}) {
  const sink = collector();
  const d = new RawDecoder({ source: 'mirror', listener: 'test', listen: null, emit: sink.accept, ...opts });
  const frame = (linkType: number, f: Buffer, sec = 1_700_000_000, usec = 123_456, ts = true): void =>
    d.decodeFrame(linkType, f, 0, f.length, sec, usec, ts);
  return { d, out: sink.messages, frame, drops: () => Object.fromEntries(d.drops.take().map((x) => [x.kind, x.count])) };
}

const A4 = '198.18.0.2';
const B4 = '198.18.0.1';
const A6 = '2001:db8::2';
const B6 = '2001:db8::1';
const msg = INVITE();
const v4udp = (payload = msg, sport = 5070, dport = 5060): Buffer => ipv4({ src: A4, dst: B4, proto: 17, payload: udp(sport, dport, payload) });

describe('link layers', () => {
  test('Ethernet with padding, 802.1Q and QinQ, SLL, SLL2, raw IP, NULL, LOOP', () => {
    const { out, frame, drops } = setup();
    const ip = v4udp();
    frame(LinkType.ETHERNET, ethernet(0x0800, ip));
    frame(LinkType.ETHERNET, ethernet(0x0800, ip, { vlans: [0x8100] }));
    frame(LinkType.ETHERNET, ethernet(0x0800, ip, { vlans: [0x88a8, 0x8100] }));
    frame(LinkType.LINUX_SLL, sll(0x0800, ip));
    frame(LinkType.LINUX_SLL, sll(0x8100, Buffer.concat([Buffer.from([0, 100, 0x08, 0x00]), ip])));
    frame(LinkType.LINUX_SLL2, sll2(0x0800, ip));
    frame(LinkType.LINUX_SLL2, sll2(0x8100, Buffer.concat([Buffer.from([0, 100, 0x08, 0x00]), ip])));
    frame(LinkType.RAW, ip);
    frame(LinkType.RAW_DLT12, ip);
    frame(LinkType.IPV4, ip);
    frame(LinkType.NULL, Buffer.concat([Buffer.from([2, 0, 0, 0]), ip]));
    frame(LinkType.NULL, Buffer.concat([Buffer.from([0, 0, 0, 2]), ip]));
    frame(LinkType.LOOP, Buffer.concat([Buffer.from([0, 0, 0, 2]), ip]));
    assert.equal(out.length, 13);
    assert.deepEqual(drops(), {});
    for (const m of out) {
      assert.deepEqual([m.srcIp, m.srcPort, m.dstIp, m.dstPort, m.family, m.proto], [A4, 5070, B4, 5060, 2, KamailioProto.UDP]);
      assert.deepEqual(m.payload, msg);
    }
  });

  test('message fields: capture time as hepTime (captureId 0), receivedAtUs, source, listener', () => {
    const { out, frame } = setup();
    frame(LinkType.RAW, v4udp(), 1_700_000_001, 42);
    frame(LinkType.RAW, v4udp(), 1_700_000_002, 7, false);
    assert.deepEqual(out[0]?.hepTime, { sec: 1_700_000_001, usec: 42, captureId: 0 });
    assert.equal(out[0]?.receivedAtUs, 1_700_000_001_000_042);
    assert.equal(out[1]?.hepTime, null, 'no capture timestamp (cap, raw socket): null');
    assert.equal(out[1]?.receivedAtUs, 1_700_000_002_000_007);
    assert.deepEqual([out[0]?.source, out[0]?.listener, out[0]?.protoType, out[0]?.correlationId], ['mirror', 'test', 1, null]);
  });

  test('non-IP frames and unknown link types are counted, not delivered', () => {
    const { out, frame, drops } = setup();
    frame(LinkType.ETHERNET, ethernet(0x0806, Buffer.alloc(28))); // ARP
    frame(LinkType.ETHERNET, ethernet(0x05dc, Buffer.alloc(40))); // 802.3 length field
    frame(147, v4udp());
    frame(LinkType.ETHERNET, Buffer.alloc(10));
    assert.equal(out.length, 0);
    assert.deepEqual(drops(), { not_ip: 4 });
  });

  test('promiscuous_on = 0: frames for another MAC are dropped (Ethernet by MAC, SLL by packet type)', () => {
    const { out, frame, drops } = setup({ promiscuous: false, localMacs: [MAC_B] });
    const ip = v4udp();
    frame(LinkType.ETHERNET, ethernet(0x0800, ip, { dst: MAC_B })); // to us
    frame(LinkType.ETHERNET, ethernet(0x0800, ip, { dst: MAC_A, src: MAC_B })); // from us
    frame(LinkType.ETHERNET, ethernet(0x0800, ip, { dst: Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) }));
    frame(LinkType.ETHERNET, ethernet(0x0800, ip, { dst: Buffer.from([2, 9, 9, 9, 9, 9]) })); // someone else
    frame(LinkType.LINUX_SLL, sll(0x0800, ip, 3)); // PACKET_OTHERHOST
    frame(LinkType.LINUX_SLL, sll(0x0800, ip, 4)); // PACKET_OUTGOING
    assert.equal(out.length, 4);
    assert.deepEqual(drops(), { other_host: 2 });
  });
});

describe('IPv4 / IPv6', () => {
  test('IPv4 options are skipped by IHL; truncated packets are counted', () => {
    const { out, frame, drops } = setup();
    frame(LinkType.RAW, ipv4({ src: A4, dst: B4, proto: 17, payload: udp(5070, 5060, msg), options: Buffer.from([0x94, 4, 0, 0, 1, 1, 1, 0]) }));
    const truncated = v4udp().subarray(0, 60);
    frame(LinkType.RAW, truncated);
    frame(LinkType.RAW, ipv4({ src: A4, dst: B4, proto: 17, payload: udp(5070, 5060, msg, 9999) }));
    assert.equal(out.length, 1);
    assert.deepEqual(drops(), { malformed: 2 });
  });

  test('IPv6 with hop-by-hop, routing and destination options headers; AH', () => {
    const { out, frame, drops } = setup();
    const u = udp(5070, 5060, msg);
    frame(LinkType.RAW, ipv6({ src: A6, dst: B6, next: 17, payload: u }));
    frame(LinkType.RAW, ipv6({ src: A6, dst: B6, next: 0, payload: Buffer.concat([ext6(43), ext6(60, 2), ext6(17), u]) }));
    const ah = Buffer.alloc(16);
    ah[0] = 17;
    ah[1] = 2; // (2 + 2) * 4 = 16 bytes
    frame(LinkType.RAW, ipv6({ src: A6, dst: B6, next: 51, payload: Buffer.concat([ah, u]) }));
    frame(LinkType.RAW, ipv6({ src: A6, dst: B6, next: 59, payload: Buffer.alloc(8) }));
    assert.equal(out.length, 3);
    for (const m of out) assert.deepEqual([m.family, m.srcIp, m.dstIp], [10, A6, B6]);
    assert.deepEqual(drops(), { no_payload: 1 });
  });

  test('IPv4 fragments in any order reassemble; the port filter applies to the whole datagram', () => {
    const big = INVITE('a=x\r\n'.repeat(600));
    const frags = fragmentV4({ src: A4, dst: B4, proto: 17, id: 77, payload: udp(5070, 5060, big) }, 1480);
    assert.equal(frags.length, 3);
    for (const order of [
      [0, 1, 2],
      [2, 1, 0],
      [1, 2, 0],
    ]) {
      const { out, frame, drops, d } = setup({ listen: rawListenOf('0.0.0.0:5060-5090', true) });
      for (const i of order) frame(LinkType.RAW, frags[i] ?? Buffer.alloc(0));
      assert.equal(out.length, 1);
      assert.deepEqual(out[0]?.payload, big);
      assert.equal(d.fragments.counters.reassembled, 1);
      assert.deepEqual(drops(), {});
    }
  });

  test('IPv6 fragments (with a duplicate) reassemble; an overlapping conflict is dropped', () => {
    const big = INVITE('a=y\r\n'.repeat(500));
    const frags = fragmentV6({ src: A6, dst: B6, next: 17, payload: udp(5070, 5060, big) }, 1232, 0xabcdef);
    const { out, frame, drops, d } = setup();
    frame(LinkType.RAW, frags[1] ?? Buffer.alloc(0));
    frame(LinkType.RAW, frags[1] ?? Buffer.alloc(0));
    for (const f of [frags[2], frags[0]]) frame(LinkType.RAW, f ?? Buffer.alloc(0));
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]?.payload, big);
    assert.equal(d.fragments.counters.duplicates, 1);
    assert.deepEqual(drops(), {});
  });

  test('fragment timeout is counted and memory returns to zero', () => {
    const frags = fragmentV4({ src: A4, dst: B4, proto: 17, payload: udp(5070, 5060, INVITE('b'.repeat(3000))) }, 1480);
    const { out, frame, drops, d } = setup({ fragments: { timeoutMs: 1000 } });
    frame(LinkType.RAW, frags[0] ?? Buffer.alloc(0), 100, 0);
    frame(LinkType.RAW, frags[2] ?? Buffer.alloc(0), 100, 500_000);
    d.expire(101_000);
    assert.equal(out.length, 0);
    assert.deepEqual(drops(), { frag_timeout: 2 });
    assert.equal(d.fragments.pendingBytes, 0);
  });
});

describe('transports and tunnels', () => {
  test('port filter: source OR destination in range; IP part ignored in mirror mode', () => {
    const { out, frame, drops } = setup({ listen: rawListenOf('10.9.9.9:5060-5061', true) });
    frame(LinkType.RAW, v4udp(msg, 40000, 5061));
    frame(LinkType.RAW, v4udp(msg, 5060, 40000));
    frame(LinkType.RAW, v4udp(msg, 5062, 6000));
    frame(LinkType.RAW, ipv4({ src: A4, dst: B4, proto: 6, payload: tcp(7000, 7001, 1, TCP.ACK, msg) }));
    assert.equal(out.length, 2);
    assert.deepEqual(drops(), { port_filter: 2 });
  });

  test('non-SIP UDP payloads (STUN, RTP, keep-alive, HEP) are counted as not_sip', () => {
    const { out, frame, drops } = setup();
    for (const p of [Buffer.alloc(20), Buffer.from('\r\n\r\n'), Buffer.from([0x80, 0, 1, 2, ...Buffer.alloc(160)]), Buffer.from('HEP3\x00\x40' + 'x'.repeat(60))]) {
      frame(LinkType.RAW, v4udp(p));
    }
    assert.equal(out.length, 0);
    assert.deepEqual(drops(), { not_sip: 4 });
  });

  test('TCP: split and coalesced messages over the decoder, proto TCP; retransmission dropped; ACKs counted', () => {
    const { out, frame, drops } = setup();
    const m1 = INVITE('v=0\r\n');
    const m2 = sip('SIP/2.0 100 Trying');
    const both = Buffer.concat([m1, m2]);
    const seg = (seq: number, payload: Buffer, flags = TCP.ACK | TCP.PSH): Buffer =>
      ipv4({ src: A4, dst: B4, proto: 6, payload: tcp(5070, 5060, seq, flags, payload) });
    frame(LinkType.RAW, seg(999, Buffer.alloc(0), TCP.SYN));
    frame(LinkType.RAW, seg(1000, both.subarray(0, 50)));
    frame(LinkType.RAW, seg(1050, both.subarray(50)));
    frame(LinkType.RAW, seg(1050, both.subarray(50)));
    frame(LinkType.RAW, seg(1000 + both.length, Buffer.alloc(0), TCP.ACK));
    assert.deepEqual(
      out.map((m) => m.payload.toString('latin1')),
      [m1, m2].map((m) => m.toString('latin1')),
    );
    assert.equal(out[0]?.proto, KamailioProto.TCP);
    assert.deepEqual(drops(), { no_payload: 2, tcp_retransmission: 1 });
  });

  test('SCTP: whole DATA chunks and a message split over two chunks', () => {
    const { out, frame, drops } = setup();
    const big = INVITE('c'.repeat(400));
    const p1 = ipv4({ src: A4, dst: B4, proto: 132, payload: sctp(5060, 5060, [[10, 0x02, big.subarray(0, 300)]]) });
    const p2 = ipv4({ src: A4, dst: B4, proto: 132, payload: sctp(5060, 5060, [[11, 0x01, big.subarray(300)], [12, 0x03, msg]]) });
    frame(LinkType.RAW, p2);
    frame(LinkType.RAW, p1);
    assert.deepEqual(
      out.map((m) => [m.proto, m.payload.length]),
      [
        [KamailioProto.SCTP, msg.length],
        [KamailioProto.SCTP, big.length],
      ],
    );
    assert.deepEqual(drops(), {});
  });

  test('tunnels: IPIP, IPv6-in-IPv4 (sit), IPv4-in-IPv6, GRE, ERSPAN II/III give the inner addresses', () => {
    const { out, frame, drops } = setup();
    const inner4 = ipv4({ src: '198.19.0.2', dst: '198.19.0.1', proto: 17, payload: udp(5070, 5060, msg) });
    const inner6 = ipv6({ src: A6, dst: B6, next: 17, payload: udp(5070, 5060, msg) });
    frame(LinkType.RAW, ipv4({ src: A4, dst: B4, proto: 4, payload: inner4 }));
    frame(LinkType.RAW, ipv4({ src: A4, dst: B4, proto: 41, payload: inner6 }));
    frame(LinkType.RAW, ipv6({ src: A6, dst: B6, next: 4, payload: inner4 }));
    frame(LinkType.RAW, ipv4({ src: A4, dst: B4, proto: 47, payload: gre(0x0800, inner4) }));
    const eth = ethernet(0x0800, inner4);
    frame(LinkType.RAW, ipv4({ src: A4, dst: B4, proto: 47, payload: gre(0x88be, Buffer.concat([Buffer.alloc(8), eth]), 0x1000, Buffer.alloc(4)) }));
    frame(LinkType.RAW, ipv4({ src: A4, dst: B4, proto: 47, payload: gre(0x22eb, Buffer.concat([Buffer.alloc(12), eth])) }));
    frame(LinkType.RAW, ipv4({ src: A4, dst: B4, proto: 47, payload: gre(0x6558, eth, 0x2000, Buffer.alloc(4)) }));
    assert.deepEqual(
      out.map((m) => m.srcIp),
      ['198.19.0.2', A6, '198.19.0.2', '198.19.0.2', '198.19.0.2', '198.19.0.2', '198.19.0.2'],
    );
    assert.deepEqual(drops(), {});
    // Nesting is bounded.
    let p = inner4;
    for (let i = 0; i < 6; i++) p = ipv4({ src: A4, dst: B4, proto: 4, payload: p });
    frame(LinkType.RAW, p);
    assert.deepEqual(drops(), { unsupported_protocol: 1 });
  });
});

describe('IPIP raw-socket input', () => {
  const inner = ipv4({ src: '198.19.0.2', dst: '198.19.0.1', proto: 17, payload: udp(5070, 5060, msg) });
  const outer = (dst: string, payload = inner, options?: Buffer): Buffer => ipv4({ src: A4, dst, proto: 4, payload, ...(options ? { options } : {}) });

  test('stored with the inner addresses and ports; outer IHL honoured', () => {
    const sink = collector();
    const d = new RawDecoder({ source: 'ipip', listener: 'ipip', listen: rawListenOf('198.18.0.1:5060-5090', false), emit: sink.accept });
    const withOptions = outer(B4, inner, Buffer.from([1, 1, 1, 1]));
    d.decodeIpip(withOptions, 0, withOptions.length, 1, 0, false);
    assert.deepEqual(
      sink.messages.map((m) => [m.srcIp, m.srcPort, m.dstIp, m.dstPort, m.source]),
      [['198.19.0.2', 5070, '198.19.0.1', 5060, 'ipip']],
    );
  });

  test('destination IP honoured like Kamailio’s bind; ports filtered; non-tunnel protocol refused', () => {
    const sink = collector();
    const d = new RawDecoder({ source: 'ipip', listener: 'ipip', listen: rawListenOf('198.18.0.1:5060', false), emit: sink.accept });
    const feed = (b: Buffer): void => d.decodeIpip(b, 0, b.length, 1, 0, false);
    feed(outer(B4));
    feed(outer('198.18.0.9'));
    feed(outer(B4, ipv4({ src: '198.19.0.2', dst: '198.19.0.1', proto: 17, payload: udp(5070, 6000, msg) })));
    const notTunnel = ipv4({ src: A4, dst: B4, proto: 17, payload: udp(1, 2, msg) });
    feed(notTunnel);
    assert.equal(sink.messages.length, 1);
    assert.deepEqual(Object.fromEntries(d.drops.take().map((x) => [x.kind, x.count])), { dst_ip_filter: 1, port_filter: 1, unsupported_protocol: 1 });
    const any = new RawDecoder({ source: 'ipip', listener: 'ipip', listen: rawListenOf('0.0.0.0', false), emit: sink.accept });
    const o = outer('198.18.0.77');
    any.decodeIpip(o, 0, o.length, 1, 0, false);
    assert.equal(sink.messages.length, 2, '0.0.0.0 and no port: everything');
  });
});

describe('HEP inside captured packets (pcap import)', () => {
  const hepOpts = { srcIp: '10.0.0.7', dstIp: '10.0.0.8', srcPort: 5062, dstPort: 5064, tsSec: 1_750_000_000, tsUsec: 42, captureId: 7, payload: msg };
  test('HEP v1, v2 and v3 (plain and compressed) in UDP datagrams are delivered with their own addresses and time', () => {
    const { out, frame, drops } = setup({ hep: true });
    for (const hep of [encodeHep({ ...hepOpts, version: 1 }), encodeHep({ ...hepOpts, version: 2 }), encodeHep(hepOpts), encodeHep({ ...hepOpts, compress: true })]) {
      frame(LinkType.RAW, ipv4({ src: A4, dst: B4, proto: 17, payload: udp(40000, 9060, hep) }));
    }
    assert.equal(out.length, 4);
    for (const m of out) {
      assert.deepEqual([m.srcIp, m.srcPort, m.dstIp, m.dstPort, m.source], ['10.0.0.7', 5062, '10.0.0.8', 5064, 'hep']);
      assert.ok(m.payload.equals(msg));
    }
    assert.deepEqual(out[2]?.hepTime, { sec: 1_750_000_000, usec: 42, captureId: 7 });
    assert.deepEqual(drops(), {});
  });
  test('HEP3 over a TCP stream, a packet split over segments and two in one segment', () => {
    const { out, frame, drops } = setup({ hep: true });
    const a = encodeHep(hepOpts);
    const b = encodeHep({ ...hepOpts, srcPort: 6000 });
    const stream = Buffer.concat([a, b, a]);
    const cut1 = 10;
    const cut2 = a.length + b.length + 3;
    const seg = (seq: number, data: Buffer, flags = TCP.ACK | TCP.PSH): Buffer => ipv4({ src: A4, dst: B4, proto: 6, payload: tcp(40000, 9060, seq, flags, data) });
    frame(LinkType.RAW, seg(99, Buffer.alloc(0), TCP.SYN));
    frame(LinkType.RAW, seg(100, stream.subarray(0, cut1)));
    frame(LinkType.RAW, seg(100 + cut1, stream.subarray(cut1, cut2)));
    frame(LinkType.RAW, seg(100 + cut2, stream.subarray(cut2)));
    assert.deepEqual(
      out.map((m) => m.srcPort),
      [5062, 6000, 5062],
    );
    assert.deepEqual(drops(), { no_payload: 1 });
  });
  test('without the option (live capture) HEP stays not SIP; a broken HEP packet is counted', () => {
    const live = setup();
    live.frame(LinkType.RAW, ipv4({ src: A4, dst: B4, proto: 17, payload: udp(40000, 9060, encodeHep(hepOpts)) }));
    assert.deepEqual([live.out.length, live.drops()], [0, { not_sip: 1 }]);
    const imp = setup({ hep: true });
    imp.frame(LinkType.RAW, ipv4({ src: A4, dst: B4, proto: 17, payload: udp(40000, 9060, encodeHep({ ...hepOpts, malformed: { totalLength: 9999 } })) }));
    assert.deepEqual([imp.out.length, imp.drops()], [0, { hep_malformed: 1 }]);
  });
});

describe('SIP over WebSocket (RFC 7118)', () => {
  const wsFrame = (payload: Buffer, opts: { opcode?: number; fin?: boolean; mask?: boolean } = {}): Buffer => {
    const mask = opts.mask ?? true;
    const len = payload.length;
    const head = len < 126 ? Buffer.from([0, len]) : Buffer.from([0, 126, len >> 8, len & 0xff]);
    head[0] = ((opts.fin ?? true) ? 0x80 : 0) | (opts.opcode ?? 1);
    if (!mask) return Buffer.concat([head, payload]);
    head[1] = (head[1] as number) | 0x80;
    const key = Buffer.from([0x11, 0x22, 0x33, 0x44]);
    const body = Buffer.from(payload.map((b, i) => b ^ (key[i & 3] as number)));
    return Buffer.concat([head, key, body]);
  };
  const upgrade = Buffer.from('GET / HTTP/1.1\r\nHost: example.invalid\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: sip\r\n\r\n');
  const accepted = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: sip\r\n\r\n');

  test('masked client frames, unmasked server frames, fragmented messages; control frames counted', () => {
    const { out, frame, drops } = setup();
    const seg = (from: string, seq: number, data: Buffer, flags = TCP.ACK | TCP.PSH): Buffer =>
      ipv4({ src: from, dst: from === A4 ? B4 : A4, proto: 6, payload: from === A4 ? tcp(40000, 8080, seq, flags, data) : tcp(8080, 40000, seq, flags, data) });
    frame(LinkType.RAW, seg(A4, 0, Buffer.alloc(0), TCP.SYN));
    frame(LinkType.RAW, seg(B4, 0, Buffer.alloc(0), TCP.SYN | TCP.ACK));
    const client = Buffer.concat([upgrade, wsFrame(msg), wsFrame(msg.subarray(0, 20), { fin: false }), wsFrame(msg.subarray(20), { opcode: 0 }), wsFrame(Buffer.from('hi'), { opcode: 9 })]);
    frame(LinkType.RAW, seg(A4, 1, client.subarray(0, upgrade.length + 5)));
    frame(LinkType.RAW, seg(A4, 1 + upgrade.length + 5, client.subarray(upgrade.length + 5)));
    const reply = sip('SIP/2.0 200 OK');
    frame(LinkType.RAW, seg(B4, 1, Buffer.concat([accepted, wsFrame(reply, { mask: false })])));
    assert.equal(out.length, 3);
    assert.ok(out[0]?.payload.equals(msg) && out[1]?.payload.equals(msg) && out[2]?.payload.equals(reply));
    assert.deepEqual([out[0]?.proto, out[0]?.srcPort, out[2]?.srcPort], [KamailioProto.WS, 40000, 8080]);
    // the two handshakes and the ping
    assert.deepEqual(drops(), { no_payload: 2, ws_not_sip: 3 });
  });
});
