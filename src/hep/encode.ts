/**
 * HEP v1/v2/v3 encoder for tests, tools and the load generator (our own, so the project does
 * not depend on the GPL hep-js). One Buffer per packet (plus the deflate output when
 * compressing). Knobs under `malformed` produce broken packets on purpose.
 * Invalid input (bad address text, out-of-range numbers) throws: this is not a receive path.
 */
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { ipByteLength, writeIpBytes } from '../net/address.js';
import {
  AF_INET,
  AF_INET6,
  EEP1_MAGIC,
  HEP3_CHUNK_HEADER_LENGTH,
  HEP3_HEADER_LENGTH,
  HEP3_MAGIC,
  HEP_V1V2_FIXED_LENGTH,
  HEP_V2_TIME_BLOCK_LENGTH,
  HepChunkType,
  HepProtoType,
  HepVendor,
  IpProto,
} from './constants.js';

export type HepCompression = 'zlib' | 'gzip' | 'raw';

export interface HepExtraChunk {
  vendor: number;
  type: number;
  data: Buffer | string;
}

/** Ways to break a packet for tests. Each applies to the version it makes sense for. */
export interface HepMalformation {
  /** v3: omit these generic chunk types (e.g. [0x0b] for a packet without protocol type). */
  omitChunks?: readonly number[];
  /** v3: write these generic chunks twice (same value). */
  duplicateChunks?: readonly number[];
  /** v3: write this value in the chunk-length field of the given chunk type instead of the real one. */
  chunkLengths?: Readonly<Record<number, number>>;
  /** v3: value of the total-length field instead of the real length. */
  totalLength?: number;
  /** v3: magic to write (default HEP3). */
  magic?: 'HEP3' | 'EEP1';
  /** v3: chunk 0x0001 value; v1/v2: the family byte. Default: the addresses' family. */
  familyValue?: number;
  /** v1/v2: header-length byte (default 8 + 2 × address length, as Kamailio siptrace). */
  headerLengthByte?: number;
  /** Cut the finished packet to this many bytes. */
  truncateTo?: number;
}

export interface HepEncodeOptions {
  /** Default 3. */
  version?: 1 | 2 | 3;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  /** v2: default 0. v3: chunk 0x0009/0x000a written only when tsSec is given. */
  tsSec?: number;
  tsUsec?: number;
  /** v2: u16, default 0. v3: chunk 0x000c (u32) written only when given. */
  captureId?: number;
  /** v3 chunk 0x000b; default 1 (SIP). Ignored by v1/v2 (always SIP). */
  protoType?: number;
  /** IP protocol number, default 17 (UDP). */
  ipProto?: number;
  payload: Buffer | string;
  /** v3 chunk 0x0011. */
  correlationId?: string;
  /** v3 chunk 0x000e. */
  authKey?: string;
  /** v3: put the payload in chunk 0x0010, deflated (true = zlib stream, as captagent does). */
  compress?: boolean | HepCompression;
  /** v3: whether to write chunk 0x0001 (default true). */
  familyChunk?: boolean;
  /** v3: chunks appended after the standard ones (vendor chunks, duplicates that should win). */
  extraChunks?: readonly HepExtraChunk[];
  malformed?: HepMalformation;
}

const MAGIC_BYTES = 4;
const NO_EXTRA: readonly HepExtraChunk[] = [];
const NO_TYPES: readonly number[] = [];

function familyOf(text: string, role: string): { family: 2 | 10; length: 4 | 16 } {
  const length = ipByteLength(text);
  if (length === 0) throw new TypeError(`invalid ${role} address: ${JSON.stringify(text)}`);
  return length === 4 ? { family: AF_INET, length } : { family: AF_INET6, length };
}

function compressPayload(payload: Buffer, mode: HepCompression): Buffer {
  if (mode === 'gzip') return gzipSync(payload);
  if (mode === 'raw') return deflateRawSync(payload);
  return deflateSync(payload);
}

/** Encodes one HEP packet. */
export function encodeHep(opts: HepEncodeOptions): Buffer {
  const version = opts.version ?? 3;
  const out = version === 3 ? encodeV3(opts) : encodeV1V2(opts, version);
  const cut = opts.malformed?.truncateTo;
  return cut === undefined ? out : out.subarray(0, cut);
}

export function encodeHepV1(opts: Omit<HepEncodeOptions, 'version'>): Buffer {
  return encodeHep({ ...opts, version: 1 });
}

export function encodeHepV2(opts: Omit<HepEncodeOptions, 'version'>): Buffer {
  return encodeHep({ ...opts, version: 2 });
}

export function encodeHepV3(opts: Omit<HepEncodeOptions, 'version'>): Buffer {
  return encodeHep({ ...opts, version: 3 });
}

function encodeV1V2(opts: HepEncodeOptions, version: 1 | 2): Buffer {
  const src = familyOf(opts.srcIp, 'source');
  const dst = familyOf(opts.dstIp, 'destination');
  if (src.family !== dst.family) throw new TypeError('HEPv1/v2 cannot mix IPv4 and IPv6 addresses');
  const payloadLength = typeof opts.payload === 'string' ? Buffer.byteLength(opts.payload) : opts.payload.length;
  const header = HEP_V1V2_FIXED_LENGTH + 2 * src.length + (version === 2 ? HEP_V2_TIME_BLOCK_LENGTH : 0);
  const buf = Buffer.allocUnsafe(header + payloadLength);
  const m = opts.malformed;
  buf[0] = version;
  buf[1] = m?.headerLengthByte ?? HEP_V1V2_FIXED_LENGTH + 2 * src.length;
  buf[2] = m?.familyValue ?? src.family;
  buf[3] = opts.ipProto ?? IpProto.UDP;
  buf.writeUInt16BE(opts.srcPort, 4);
  buf.writeUInt16BE(opts.dstPort, 6);
  writeIpBytes(opts.srcIp, buf, HEP_V1V2_FIXED_LENGTH);
  writeIpBytes(opts.dstIp, buf, HEP_V1V2_FIXED_LENGTH + src.length);
  if (version === 2) {
    // Host-order C struct on x86: little-endian, 2 bytes of padding after the capture id.
    const t = HEP_V1V2_FIXED_LENGTH + 2 * src.length;
    buf.writeUInt32LE(opts.tsSec ?? 0, t);
    buf.writeUInt32LE(opts.tsUsec ?? 0, t + 4);
    buf.writeUInt16LE(opts.captureId ?? 0, t + 8);
    buf.writeUInt16LE(0, t + 10);
  }
  if (typeof opts.payload === 'string') buf.write(opts.payload, header, 'utf8');
  else opts.payload.copy(buf, header);
  return buf;
}

/** Writes chunks in two passes over the same plan: first to size the packet, then to fill it. */
class ChunkWriter {
  length = HEP3_HEADER_LENGTH;
  private buf: Buffer | null = null;

  constructor(private readonly lengthOverrides: Readonly<Record<number, number>> | undefined) {}

  start(size: number): Buffer {
    this.buf = Buffer.allocUnsafe(size);
    this.length = HEP3_HEADER_LENGTH;
    return this.buf;
  }

  private header(vendor: number, type: number, dataLength: number): number {
    const at = this.length;
    this.length += HEP3_CHUNK_HEADER_LENGTH + dataLength;
    const b = this.buf;
    if (b === null) return -1;
    b.writeUInt16BE(vendor, at);
    b.writeUInt16BE(type, at + 2);
    const override = vendor === HepVendor.GENERIC ? this.lengthOverrides?.[type] : undefined;
    b.writeUInt16BE(override ?? HEP3_CHUNK_HEADER_LENGTH + dataLength, at + 4);
    return at + HEP3_CHUNK_HEADER_LENGTH;
  }

  u8(type: number, value: number): void {
    const at = this.header(HepVendor.GENERIC, type, 1);
    if (at >= 0) this.buf?.writeUInt8(value, at);
  }

  u16(type: number, value: number): void {
    const at = this.header(HepVendor.GENERIC, type, 2);
    if (at >= 0) this.buf?.writeUInt16BE(value, at);
  }

  u32(type: number, value: number): void {
    const at = this.header(HepVendor.GENERIC, type, 4);
    if (at >= 0) this.buf?.writeUInt32BE(value, at);
  }

  ip(type: number, text: string, length: number): void {
    const at = this.header(HepVendor.GENERIC, type, length);
    if (at >= 0 && this.buf !== null) writeIpBytes(text, this.buf, at);
  }

  bytes(vendor: number, type: number, data: Buffer | string): void {
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    const at = this.header(vendor, type, length);
    if (at < 0 || this.buf === null) return;
    if (typeof data === 'string') this.buf.write(data, at, 'utf8');
    else data.copy(this.buf, at);
  }
}

function encodeV3(opts: HepEncodeOptions): Buffer {
  const src = familyOf(opts.srcIp, 'source');
  const dst = familyOf(opts.dstIp, 'destination');
  const m = opts.malformed;
  const omit = m?.omitChunks ?? NO_TYPES;
  const dup = m?.duplicateChunks ?? NO_TYPES;
  const compression: HepCompression | null =
    opts.compress === undefined || opts.compress === false ? null : opts.compress === true ? 'zlib' : opts.compress;
  const payload: Buffer | string =
    compression === null
      ? opts.payload
      : compressPayload(typeof opts.payload === 'string' ? Buffer.from(opts.payload) : opts.payload, compression);
  const extras = opts.extraChunks ?? NO_EXTRA;
  const w = new ChunkWriter(m?.chunkLengths);

  // Chunk order as captagent / Kamailio siptrace write it.
  const plan = (): void => {
    const each = (type: number, write: () => void): void => {
      if (omit.includes(type)) return;
      write();
      if (dup.includes(type)) write();
    };
    if (opts.familyChunk !== false) each(HepChunkType.IP_FAMILY, () => w.u8(HepChunkType.IP_FAMILY, m?.familyValue ?? src.family));
    each(HepChunkType.IP_PROTO, () => w.u8(HepChunkType.IP_PROTO, opts.ipProto ?? IpProto.UDP));
    const srcType = src.family === AF_INET6 ? HepChunkType.SRC_IPV6 : HepChunkType.SRC_IPV4;
    const dstType = dst.family === AF_INET6 ? HepChunkType.DST_IPV6 : HepChunkType.DST_IPV4;
    each(srcType, () => w.ip(srcType, opts.srcIp, src.length));
    each(dstType, () => w.ip(dstType, opts.dstIp, dst.length));
    each(HepChunkType.SRC_PORT, () => w.u16(HepChunkType.SRC_PORT, opts.srcPort));
    each(HepChunkType.DST_PORT, () => w.u16(HepChunkType.DST_PORT, opts.dstPort));
    if (opts.tsSec !== undefined) {
      const sec = opts.tsSec;
      each(HepChunkType.TS_SEC, () => w.u32(HepChunkType.TS_SEC, sec));
      each(HepChunkType.TS_USEC, () => w.u32(HepChunkType.TS_USEC, opts.tsUsec ?? 0));
    }
    each(HepChunkType.PROTO_TYPE, () => w.u8(HepChunkType.PROTO_TYPE, opts.protoType ?? HepProtoType.SIP));
    if (opts.captureId !== undefined) {
      const cid = opts.captureId;
      each(HepChunkType.CAPTURE_ID, () => w.u32(HepChunkType.CAPTURE_ID, cid));
    }
    if (opts.authKey !== undefined) {
      const key = opts.authKey;
      each(HepChunkType.AUTH_KEY, () => w.bytes(HepVendor.GENERIC, HepChunkType.AUTH_KEY, key));
    }
    if (opts.correlationId !== undefined) {
      const cid = opts.correlationId;
      each(HepChunkType.CORRELATION_ID, () => w.bytes(HepVendor.GENERIC, HepChunkType.CORRELATION_ID, cid));
    }
    const payloadType = compression === null ? HepChunkType.PAYLOAD : HepChunkType.COMPRESSED_PAYLOAD;
    each(payloadType, () => w.bytes(HepVendor.GENERIC, payloadType, payload));
    for (const x of extras) w.bytes(x.vendor, x.type, x.data);
  };

  plan(); // sizing pass
  const size = w.length;
  const buf = w.start(size);
  plan(); // writing pass
  buf.writeUInt32BE(m?.magic === 'EEP1' ? EEP1_MAGIC : HEP3_MAGIC, 0);
  buf.writeUInt16BE(m?.totalLength ?? size, MAGIC_BYTES);
  return buf;
}
