/**
 * Writes stored messages back as a classic pcap file (Ethernet link type) that Wireshark and
 * pcap-file.ts open: the rows keep only the payload and its addresses, so each message gets a
 * synthesized Ethernet + IPv4/IPv6 + UDP header around it, with its capture time.
 */
import { ipToBytes } from '../net/address.js';

export interface PcapPacket {
  microTs: number;
  sourceIp: string;
  sourcePort: number;
  destinationIp: string;
  destinationPort: number;
  payload: Buffer;
}

const LINKTYPE_ETHERNET = 1;
const SNAPLEN = 262_144;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const IPPROTO_UDP = 17;
/** The most a UDP datagram in one IPv4 packet can carry. */
const MAX_UDP_PAYLOAD = 65_535 - 20 - 8;

/** The whole file: global header, then one record per packet. */
export function pcapFile(packets: readonly PcapPacket[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(SNAPLEN, 16);
  header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  return Buffer.concat([header, ...packets.map(pcapRecord)]);
}

function pcapRecord(p: PcapPacket): Buffer {
  const frame = ethernetFrame(p);
  const rec = Buffer.alloc(16);
  const sec = Math.floor(p.microTs / 1e6);
  rec.writeUInt32LE(sec >>> 0, 0);
  rec.writeUInt32LE(Math.floor(p.microTs - sec * 1e6), 4);
  rec.writeUInt32LE(frame.length, 8);
  rec.writeUInt32LE(frame.length, 12);
  return Buffer.concat([rec, frame]);
}

/** Ethernet + IP + UDP around the payload. Unparsable addresses become 0.0.0.0 (or ::). */
export function ethernetFrame(p: PcapPacket): Buffer {
  const payload = p.payload.subarray(0, MAX_UDP_PAYLOAD);
  let src = ipToBytes(p.sourceIp);
  let dst = ipToBytes(p.destinationIp);
  const v6 = src?.length === 16 || dst?.length === 16;
  const width = v6 ? 16 : 4;
  if (src?.length !== width) src = Buffer.alloc(width);
  if (dst?.length !== width) dst = Buffer.alloc(width);
  const udp = Buffer.alloc(8 + payload.length);
  udp.writeUInt16BE(p.sourcePort & 0xffff, 0);
  udp.writeUInt16BE(p.destinationPort & 0xffff, 2);
  udp.writeUInt16BE(udp.length, 4);
  payload.copy(udp, 8);
  let ip: Buffer;
  if (v6) {
    ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(udp.length, 4);
    ip[6] = IPPROTO_UDP;
    ip[7] = 64;
    src.copy(ip, 8);
    dst.copy(ip, 24);
    // IPv6 requires the UDP checksum (over a pseudo-header of addresses, length and protocol).
    const pseudo = Buffer.alloc(40);
    src.copy(pseudo, 0);
    dst.copy(pseudo, 16);
    pseudo.writeUInt32BE(udp.length, 32);
    pseudo[39] = IPPROTO_UDP;
    udp.writeUInt16BE(checksum([pseudo, udp]) || 0xffff, 6);
  } else {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + udp.length, 2);
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    src.copy(ip, 12);
    dst.copy(ip, 16);
    ip.writeUInt16BE(checksum([ip]), 10);
  }
  const eth = Buffer.alloc(14);
  // Locally administered MACs: 02:00:00:00:00:01 → 02:00:00:00:00:02.
  eth[0] = 2;
  eth[5] = 2;
  eth[6] = 2;
  eth[11] = 1;
  eth.writeUInt16BE(v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, 12);
  return Buffer.concat([eth, ip, udp]);
}

/** The Internet checksum (RFC 1071) over the parts, each of even length except the last. */
function checksum(parts: readonly Buffer[]): number {
  let sum = 0;
  for (const buf of parts) {
    for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
    if (buf.length % 2 === 1) sum += buf[buf.length - 1]! << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
