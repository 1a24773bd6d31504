/**
 * Hand-built packets for decoder tests and live captures: Ethernet (VLAN), SLL/SLL2, IPv4 with
 * options and fragments, IPv6 with extension headers and fragments, UDP, TCP, SCTP, GRE, and
 * pcap / pcapng file writers.
 */
import type { CapturedMessage } from '../../src/capture/message.js';
import { ipToBytes } from '../../src/net/address.js';

export function sip(firstLine: string, body = '', extra: string[] = []): Buffer {
  const headers = [
    firstLine,
    'Via: SIP/2.0/UDP 198.18.0.2:5070;branch=z9hG4bK-1',
    'From: <sip:alice@example.invalid>;tag=1',
    'To: <sip:bob@example.invalid>',
    `Call-ID: ${Math.random().toString(36).slice(2)}@example.invalid`,
    'CSeq: 1 INVITE',
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body}`);
}

export const INVITE = (body = ''): Buffer => sip('INVITE sip:bob@example.invalid SIP/2.0', body);

function addr(text: string): Buffer {
  const b = ipToBytes(text);
  if (b === null) throw new Error(`bad address ${text}`);
  return Buffer.from(b);
}

export function checksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2 === 1) sum += (buf[buf.length - 1] ?? 0) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface Ipv4Opts {
  src: string;
  dst: string;
  proto: number;
  payload: Buffer;
  id?: number;
  /** Fragment offset in bytes (multiple of 8). */
  fragOffset?: number;
  more?: boolean;
  /** IP options (padded to 4 bytes). */
  options?: Buffer;
  /** Override the total length field. */
  totalLength?: number;
}

export function ipv4(o: Ipv4Opts): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const optLen = Math.ceil(opts.length / 4) * 4;
  const ihl = 20 + optLen;
  const h = Buffer.alloc(ihl);
  h[0] = 0x40 | (ihl / 4);
  h.writeUInt16BE(o.totalLength ?? ihl + o.payload.length, 2);
  h.writeUInt16BE(o.id ?? 1, 4);
  h.writeUInt16BE(((o.fragOffset ?? 0) / 8) | (o.more === true ? 0x2000 : 0), 6);
  h[8] = 64;
  h[9] = o.proto;
  addr(o.src).copy(h, 12);
  addr(o.dst).copy(h, 16);
  opts.copy(h, 20);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, o.payload]);
}

export interface Ipv6Opts {
  src: string;
  dst: string;
  next: number;
  payload: Buffer;
}

export function ipv6(o: Ipv6Opts): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(o.payload.length, 4);
  h[6] = o.next;
  h[7] = 64;
  addr(o.src).copy(h, 8);
  addr(o.dst).copy(h, 24);
  return Buffer.concat([h, o.payload]);
}

/** An IPv6 extension header (hop-by-hop, routing, destination options) of `len8` × 8 bytes. */
export function ext6(next: number, len8 = 1): Buffer {
  const b = Buffer.alloc(len8 * 8);
  b[0] = next;
  b[1] = len8 - 1;
  return b;
}

export function frag6(next: number, offset: number, more: boolean, id: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = next;
  b.writeUInt16BE(offset | (more ? 1 : 0), 2);
  b.writeUInt32BE(id >>> 0, 4);
  return b;
}

export function udp(sport: number, dport: number, payload: Buffer, lengthOverride?: number): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(lengthOverride ?? 8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export function tcp(sport: number, dport: number, seq: number, flags: number, payload: Buffer, options = Buffer.alloc(0)): Buffer {
  const hl = 20 + Math.ceil(options.length / 4) * 4;
  const h = Buffer.alloc(hl);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h.writeUInt32BE(1, 8);
  h[12] = (hl / 4) << 4;
  h[13] = flags;
  h.writeUInt16BE(65535, 14);
  options.copy(h, 20);
  return Buffer.concat([h, payload]);
}

/** SCTP packet with DATA chunks: [tsn, flags, payload]. */
export function sctp(sport: number, dport: number, chunks: Array<[number, number, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  const common = Buffer.alloc(12);
  common.writeUInt16BE(sport, 0);
  common.writeUInt16BE(dport, 2);
  common.writeUInt32BE(0x11223344, 4);
  parts.push(common);
  for (const [tsn, flags, data] of chunks) {
    const h = Buffer.alloc(16);
    h[0] = 0;
    h[1] = flags;
    h.writeUInt16BE(16 + data.length, 2);
    h.writeUInt32BE(tsn, 4);
    h.writeUInt32BE(3, 12); // PPID 3? any value
    parts.push(h, data, Buffer.alloc((4 - (data.length % 4)) % 4));
  }
  return Buffer.concat(parts);
}

export function gre(proto: number, payload: Buffer, flags = 0, extra = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(flags, 0);
  h.writeUInt16BE(proto, 2);
  return Buffer.concat([h, extra, payload]);
}

export const MAC_A = Buffer.from([0x02, 0, 0, 0, 0, 0x0a]);
export const MAC_B = Buffer.from([0x02, 0, 0, 0, 0, 0x0b]);

export function ethernet(etherType: number, payload: Buffer, opts: { dst?: Buffer; src?: Buffer; vlans?: number[] } = {}): Buffer {
  const parts: Buffer[] = [opts.dst ?? MAC_B, opts.src ?? MAC_A];
  for (const tpid of opts.vlans ?? []) {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(tpid, 0);
    t.writeUInt16BE(100, 2);
    parts.push(t);
  }
  const et = Buffer.alloc(2);
  et.writeUInt16BE(etherType, 0);
  parts.push(et, payload);
  const frame = Buffer.concat(parts);
  // Ethernet minimum frame: padding must be ignored by the decoder.
  return frame.length < 60 ? Buffer.concat([frame, Buffer.alloc(60 - frame.length, 0xee)]) : frame;
}

export function sll(etherType: number, payload: Buffer, pktType = 0): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(pktType, 0);
  h.writeUInt16BE(1, 2);
  h.writeUInt16BE(6, 4);
  MAC_A.copy(h, 6);
  h.writeUInt16BE(etherType, 14);
  return Buffer.concat([h, payload]);
}

export function sll2(etherType: number, payload: Buffer, pktType = 0): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(etherType, 0);
  h.writeUInt32BE(2, 4);
  h.writeUInt16BE(1, 8);
  h[10] = pktType;
  h[11] = 6;
  MAC_A.copy(h, 12);
  return Buffer.concat([h, payload]);
}

/** Splits an IPv4 packet (no options) into fragments of at most `maxPayload` bytes (multiple of 8). */
export function fragmentV4(o: Ipv4Opts, maxPayload: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < o.payload.length; off += maxPayload) {
    const part = o.payload.subarray(off, off + maxPayload);
    out.push(ipv4({ ...o, payload: part, fragOffset: off, more: off + maxPayload < o.payload.length }));
  }
  return out;
}

/** Splits an upper-layer payload into IPv6 fragments. */
export function fragmentV6(o: Ipv6Opts, maxPayload: number, id: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < o.payload.length; off += maxPayload) {
    const part = o.payload.subarray(off, off + maxPayload);
    out.push(ipv6({ ...o, next: 44, payload: Buffer.concat([frag6(o.next, off, off + maxPayload < o.payload.length, id), part]) }));
  }
  return out;
}

export interface PcapPacket {
  data: Buffer;
  sec?: number;
  frac?: number;
}

/** Classic pcap: little or big endian, micro- or nanosecond magic. */
export function writePcap(linkType: number, packets: PcapPacket[], opts: { bigEndian?: boolean; nanos?: boolean } = {}): Buffer {
  const be = opts.bigEndian === true;
  const w32 = (b: Buffer, v: number, at: number): void => {
    if (be) b.writeUInt32BE(v >>> 0, at);
    else b.writeUInt32LE(v >>> 0, at);
  };
  const w16 = (b: Buffer, v: number, at: number): void => {
    if (be) b.writeUInt16BE(v, at);
    else b.writeUInt16LE(v, at);
  };
  const gh = Buffer.alloc(24);
  w32(gh, opts.nanos === true ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(gh, 2, 4);
  w16(gh, 4, 6);
  w32(gh, 65535, 16);
  w32(gh, linkType, 20);
  const parts: Buffer[] = [gh];
  for (const p of packets) {
    const rh = Buffer.alloc(16);
    w32(rh, p.sec ?? 1_700_000_000, 0);
    w32(rh, p.frac ?? 0, 4);
    w32(rh, p.data.length, 8);
    w32(rh, p.data.length, 12);
    parts.push(rh, p.data);
  }
  return Buffer.concat(parts);
}

export interface NgInterface {
  linkType: number;
  /** if_tsresol byte (default absent = microseconds). */
  tsresol?: number;
}

export type NgPacket = { iface: number; data: Buffer; ts?: bigint } | { simple: true; data: Buffer };

/** pcapng with one section: IDBs, then EPBs / SPBs; an unknown block is put in to be skipped. */
export function writePcapng(ifaces: NgInterface[], packets: NgPacket[], opts: { bigEndian?: boolean } = {}): Buffer {
  const be = opts.bigEndian === true;
  const block = (type: number, body: Buffer): Buffer => {
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    const b = Buffer.alloc(12 + padded.length);
    const total = b.length;
    if (be) {
      b.writeUInt32BE(type, 0);
      b.writeUInt32BE(total, 4);
      b.writeUInt32BE(total, total - 4);
    } else {
      b.writeUInt32LE(type, 0);
      b.writeUInt32LE(total, 4);
      b.writeUInt32LE(total, total - 4);
    }
    padded.copy(b, 8);
    return b;
  };
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    if (be) b.writeUInt32BE(v >>> 0, 0);
    else b.writeUInt32LE(v >>> 0, 0);
    return b;
  };
  const u16 = (v: number): Buffer => {
    const b = Buffer.alloc(2);
    if (be) b.writeUInt16BE(v, 0);
    else b.writeUInt16LE(v, 0);
    return b;
  };
  const parts: Buffer[] = [];
  // SHB: BOM, version 1.0, section length -1.
  parts.push(block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d), u16(1), u16(0), Buffer.alloc(8, 0xff)])));
  for (const i of ifaces) {
    const opt = i.tsresol === undefined ? Buffer.alloc(0) : Buffer.concat([u16(9), u16(1), Buffer.from([i.tsresol, 0, 0, 0])]);
    parts.push(block(1, Buffer.concat([u16(i.linkType), u16(0), u32(65535), opt, u16(0), u16(0)])));
  }
  parts.push(block(0x0bad, Buffer.from('skip me'))); // unknown/custom block
  for (const p of packets) {
    if ('simple' in p) {
      parts.push(block(3, Buffer.concat([u32(p.data.length), p.data])));
    } else {
      const ts = p.ts ?? 1_700_000_000_000_000n;
      parts.push(
        block(6, Buffer.concat([u32(p.iface), u32(Number(ts >> 32n)), u32(Number(ts & 0xffffffffn)), u32(p.data.length), u32(p.data.length), p.data])),
      );
    }
  }
  return Buffer.concat(parts);
}

/** A collecting sink; payloads are copied as the contract requires. */
export function collector(): { messages: CapturedMessage[]; accept: (m: CapturedMessage) => void } {
  const messages: CapturedMessage[] = [];
  return { messages, accept: (m) => messages.push({ ...m, payload: Buffer.from(m.payload) }) };
}
