/**
 * The bytes a forward destination gets. HEP3 goes on exactly as received, or with chunk 0x000e
 * replaced when the destination has its own auth key. HEP v1/v2 have no length field, so a
 * stream (TCP/TLS) could not be cut back into packets: there they become the equivalent HEP3
 * (addresses, ports, IP protocol, and for v2 time and capture id; SIP is type 1). Raw capture
 * has no HEP at all: it is encoded as HEP3 from the captured message.
 */
import { KamailioProto, type CapturedMessage } from '../capture/message.js';
import { HEP3_CHUNK_HEADER_LENGTH, HEP3_HEADER_LENGTH, HepChunkType, HepVendor, IpProto } from './constants.js';
import { encodeHep } from './encode.js';
import type { HepPacket } from './types.js';

const HEP3 = 0x48455033; // "HEP3"

/** True for a HEP3 packet (the only version that can carry an auth key or be framed on a stream). */
export function isHep3(bytes: Buffer): boolean {
  return bytes.length >= HEP3_HEADER_LENGTH && bytes.readUInt32BE(0) === HEP3;
}

/**
 * A copy of a HEP3 packet whose auth key chunk (0x000e) is `key`, or absent when `key` is null.
 * Every other chunk, vendor chunks included, keeps its bytes and order; the new key goes last.
 * The packet must have been decoded successfully (its chunk lengths are trusted).
 */
export function withAuthKey(bytes: Buffer, key: string | null): Buffer {
  const keyBytes = key === null ? null : Buffer.from(key, 'utf8');
  const total = bytes.readUInt16BE(4);
  const parts: Buffer[] = [];
  let size = HEP3_HEADER_LENGTH;
  for (let at = HEP3_HEADER_LENGTH; at + HEP3_CHUNK_HEADER_LENGTH <= total; ) {
    const len = bytes.readUInt16BE(at + 4);
    if (len < HEP3_CHUNK_HEADER_LENGTH) break;
    const isKey = bytes.readUInt16BE(at) === HepVendor.GENERIC && bytes.readUInt16BE(at + 2) === HepChunkType.AUTH_KEY;
    if (!isKey) {
      parts.push(bytes.subarray(at, at + len));
      size += len;
    }
    at += len;
  }
  if (keyBytes !== null) size += HEP3_CHUNK_HEADER_LENGTH + keyBytes.length;
  const out = Buffer.allocUnsafe(size);
  bytes.copy(out, 0, 0, 4);
  out.writeUInt16BE(size, 4);
  let off = HEP3_HEADER_LENGTH;
  for (const p of parts) off += p.copy(out, off);
  if (keyBytes !== null) {
    off = out.writeUInt16BE(HepVendor.GENERIC, off);
    off = out.writeUInt16BE(HepChunkType.AUTH_KEY, off);
    off = out.writeUInt16BE(HEP3_CHUNK_HEADER_LENGTH + keyBytes.length, off);
    keyBytes.copy(out, off);
  }
  return out;
}

/** The HEP3 equivalent of a decoded HEP v1/v2 packet (every field of theirs kept), with an optional auth key. */
export function hep3Of(p: HepPacket, authKey: string | null): Buffer {
  return encodeHep({
    version: 3,
    srcIp: p.srcIp,
    dstIp: p.dstIp,
    srcPort: p.srcPort,
    dstPort: p.dstPort,
    ipProto: p.ipProto,
    protoType: p.protoType,
    payload: p.payload,
    ...(p.version === 2 ? { tsSec: p.tsSec, tsUsec: p.tsUsec, captureId: p.captureId } : {}),
    ...(p.correlationId === null ? {} : { correlationId: p.correlationId }),
    ...(authKey === null ? {} : { authKey }),
  });
}

const IP_PROTO_OF: Record<number, number> = {
  [KamailioProto.UDP]: IpProto.UDP,
  [KamailioProto.TCP]: IpProto.TCP,
  [KamailioProto.TLS]: 22,
  [KamailioProto.SCTP]: 132,
};

/**
 * HEP3 for a message from raw capture (IPIP, mirroring, pcap import): its addresses, ports and
 * time (the kernel's timestamp, else the receive time), `captureId` in chunk 0x000c and the
 * capture node's name in chunk 0x0013.
 */
export function hep3OfCaptured(msg: CapturedMessage, captureId: number, nodeName: string, authKey: string | null): Buffer {
  const sec = msg.hepTime?.sec ?? Math.floor(msg.receivedAtUs / 1e6);
  const usec = msg.hepTime?.usec ?? msg.receivedAtUs % 1e6;
  return encodeHep({
    version: 3,
    srcIp: msg.srcIp,
    dstIp: msg.dstIp,
    srcPort: msg.srcPort,
    dstPort: msg.dstPort,
    ipProto: IP_PROTO_OF[msg.proto] ?? IpProto.UDP,
    protoType: msg.protoType,
    payload: msg.payload,
    tsSec: sec,
    tsUsec: usec,
    captureId,
    ...(msg.correlationId === null ? {} : { correlationId: msg.correlationId }),
    ...(authKey === null ? {} : { authKey }),
    ...(nodeName === '' ? {} : { extraChunks: [{ vendor: HepVendor.GENERIC, type: HepChunkType.NODE_NAME, data: nodeName }] }),
  });
}
