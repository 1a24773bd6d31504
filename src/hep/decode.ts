/**
 * HEP v1/v2/v3 decoder (where it differs from Kamailio: docs/kamailio-differences.md H1–H12).
 * Pure: bytes in, a packet or an error value out; it never throws. The payload (chunk 0x000f) and every chunk's data are
 * views into the input buffer: copy before keeping them past the receive callback.
 */
import { gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { ipToText } from '../net/address.js';
import {
  AF_INET,
  AF_INET6,
  HEP3_MAX_LENGTH,
  EEP1_MAGIC,
  HEP3_CHUNK_HEADER_LENGTH,
  HEP3_HEADER_LENGTH,
  HEP3_MAGIC,
  HEP_CHUNK_FIXED_SIZE,
  HEP_CHUNK_NAMES,
  HEP_V1V2_FIXED_LENGTH,
  HEP_V2_TIME_BLOCK_LENGTH,
  HepChunkType,
  HepProtoType,
  HepVendor,
} from './constants.js';
import type { HepChunk, HepDecodeResult, HepErrorCode, HepPacket } from './types.js';

export interface HepDecodeOptions {
  /** Upper bound for an inflated 0x0010 payload; larger output → `payload_too_large`. */
  maxInflatedLength?: number;
}

const IPV4_LENGTH = 4;
const IPV6_LENGTH = 16;
/** Bytes needed to tell a v3 magic from garbage. */
const MAGIC_LENGTH = 4;
const NO_OFFSET = -1;

/** Bits of the `seen` mask for the chunks that are required or checked after the loop. */
const bit = (type: number): number => 1 << type;
const REQUIRED_SCALARS: readonly number[] = [
  HepChunkType.IP_PROTO,
  HepChunkType.SRC_PORT,
  HepChunkType.DST_PORT,
  HepChunkType.PROTO_TYPE,
];

function fail(code: HepErrorCode, message: string, chunkType?: number): HepDecodeResult {
  return { ok: false, error: chunkType === undefined ? { code, message } : { code, message, chunkType } };
}

function chunkName(type: number): string {
  return `0x${type.toString(16).padStart(4, '0')} (${HEP_CHUNK_NAMES[type] ?? 'unknown'})`;
}

/** Decodes one HEP packet (one UDP datagram or one framed TCP message). Never throws. */
export function decodeHep(buf: Buffer, options?: HepDecodeOptions): HepDecodeResult {
  if (buf.length === 0) return fail('too_short', 'empty packet');
  const first = buf[0];
  if (first === 1 || first === 2) return decodeV1V2(buf, first);
  if (buf.length < MAGIC_LENGTH) return fail('too_short', `${buf.length} bytes cannot hold a HEP header`);
  const magic = buf.readUInt32BE(0);
  if (magic !== HEP3_MAGIC && magic !== EEP1_MAGIC) {
    return fail('bad_version', `not HEP: first bytes 0x${magic.toString(16).padStart(8, '0')}`);
  }
  // An inflated 0x0010 payload is bounded by what an uncompressed one can be (the HEP3 length
  // field is 16 bits), so a 1 KB datagram cannot become a 1 MiB row.
  return decodeV3(buf, options?.maxInflatedLength ?? HEP3_MAX_LENGTH);
}

function decodeV1V2(buf: Buffer, version: 1 | 2): HepDecodeResult {
  // Byte 1 (header length) is ignored, as Kamailio does: senders fill it inconsistently.
  if (buf.length < HEP_V1V2_FIXED_LENGTH) return fail('too_short', `HEPv${version}: ${buf.length} bytes, header needs at least ${HEP_V1V2_FIXED_LENGTH}`);
  const familyByte = buf[2];
  if (familyByte !== AF_INET && familyByte !== AF_INET6) {
    return fail('bad_family', `HEPv${version}: unsupported address family ${familyByte ?? 0}`);
  }
  const family: 2 | 10 = familyByte === AF_INET ? AF_INET : AF_INET6;
  const addrLength = family === AF_INET ? IPV4_LENGTH : IPV6_LENGTH;
  const headerLength = HEP_V1V2_FIXED_LENGTH + 2 * addrLength + (version === 2 ? HEP_V2_TIME_BLOCK_LENGTH : 0);
  if (buf.length < headerLength) {
    return fail('too_short', `HEPv${version}: ${buf.length} bytes, header needs ${headerLength}`);
  }
  if (buf.length === headerLength) return fail('no_payload', `HEPv${version}: no payload after the header`);

  let tsSec = 0;
  let tsUsec = 0;
  let captureId = 0;
  if (version === 2) {
    // The v2 time block is a host-order C struct: little-endian on every sender that matters.
    const t = HEP_V1V2_FIXED_LENGTH + 2 * addrLength;
    tsSec = buf.readUInt32LE(t);
    tsUsec = buf.readUInt32LE(t + 4);
    captureId = buf.readUInt16LE(t + 8);
  }
  const srcOffset = HEP_V1V2_FIXED_LENGTH;
  const packet: HepPacket = {
    version,
    family,
    ipProto: buf[3] ?? 0,
    srcIp: addressText(family, buf, srcOffset),
    dstIp: addressText(family, buf, srcOffset + addrLength),
    srcPort: buf.readUInt16BE(4),
    dstPort: buf.readUInt16BE(6),
    tsSec,
    tsUsec,
    captureId,
    protoType: HepProtoType.SIP,
    payload: buf.subarray(headerLength),
    compressed: false,
    correlationId: null,
    authKey: null,
    chunks: [],
  };
  return { ok: true, packet };
}

function decodeV3(buf: Buffer, maxInflatedLength: number): HepDecodeResult {
  if (buf.length < HEP3_HEADER_LENGTH) return fail('too_short', `HEPv3: ${buf.length} bytes, header needs ${HEP3_HEADER_LENGTH}`);
  const total = buf.readUInt16BE(4);
  // HEAD's rules: the advertised total must fit in what was received.
  if (total < HEP3_HEADER_LENGTH) return fail('bad_length', `HEPv3: total length ${total} < ${HEP3_HEADER_LENGTH}`);
  if (total > buf.length) return fail('bad_length', `HEPv3: total length ${total} > ${buf.length} bytes received`);

  let seen = 0;
  let familyChunk = -1;
  let ipProto = 0;
  let srcOffset = NO_OFFSET;
  let srcFamily = 0;
  let dstOffset = NO_OFFSET;
  let dstFamily = 0;
  let srcPort = 0;
  let dstPort = 0;
  let tsSec = 0;
  let tsUsec = 0;
  let captureId = 0;
  let protoType = 0;
  let payloadStart = NO_OFFSET;
  let payloadEnd = 0;
  let payloadCompressed = false;
  let corrStart = NO_OFFSET;
  let corrEnd = 0;
  let authStart = NO_OFFSET;
  let authEnd = 0;

  let pos = HEP3_HEADER_LENGTH;
  while (pos < total) {
    if (total - pos < HEP3_CHUNK_HEADER_LENGTH) {
      return fail('bad_chunk_length', `HEPv3: ${total - pos} bytes left at offset ${pos}, too few for a chunk header`);
    }
    // Byte math instead of readUInt16BE: this loop is the hot path of every HEP3 packet.
    const vendor = (buf[pos]! << 8) | buf[pos + 1]!;
    const type = (buf[pos + 2]! << 8) | buf[pos + 3]!;
    const length = (buf[pos + 4]! << 8) | buf[pos + 5]!;
    if (length < HEP3_CHUNK_HEADER_LENGTH || pos + length > total) {
      return fail(
        'bad_chunk_length',
        `HEPv3: chunk ${chunkName(type)} at offset ${pos} has length ${length} (must be ≥ ${HEP3_CHUNK_HEADER_LENGTH} and end by ${total})`,
        type,
      );
    }
    const start = pos + HEP3_CHUNK_HEADER_LENGTH;
    const end = pos + length;
    pos = end;
    if (vendor !== HepVendor.GENERIC) continue;

    if (type === HepChunkType.INVALID) return fail('bad_chunk_type', `HEPv3: generic chunk type 0 at offset ${start - HEP3_CHUNK_HEADER_LENGTH}`, type);
    const fixed = HEP_CHUNK_FIXED_SIZE[type] ?? 0;
    if (fixed !== 0 && end - start !== fixed) {
      return fail('bad_chunk_size', `HEPv3: chunk ${chunkName(type)} carries ${end - start} bytes, expected ${fixed}`, type);
    }
    if (type < 32) seen |= bit(type);
    // Duplicates: the last occurrence wins, as in Kamailio's main decoder.
    switch (type) {
      case HepChunkType.IP_FAMILY:
        familyChunk = buf[start] ?? 0;
        break;
      case HepChunkType.IP_PROTO:
        ipProto = buf[start] ?? 0;
        break;
      case HepChunkType.SRC_IPV4:
        srcOffset = start;
        srcFamily = AF_INET;
        break;
      case HepChunkType.DST_IPV4:
        dstOffset = start;
        dstFamily = AF_INET;
        break;
      case HepChunkType.SRC_IPV6:
        srcOffset = start;
        srcFamily = AF_INET6;
        break;
      case HepChunkType.DST_IPV6:
        dstOffset = start;
        dstFamily = AF_INET6;
        break;
      case HepChunkType.SRC_PORT:
        srcPort = buf.readUInt16BE(start);
        break;
      case HepChunkType.DST_PORT:
        dstPort = buf.readUInt16BE(start);
        break;
      case HepChunkType.TS_SEC:
        tsSec = buf.readUInt32BE(start);
        break;
      case HepChunkType.TS_USEC:
        tsUsec = buf.readUInt32BE(start);
        break;
      case HepChunkType.PROTO_TYPE:
        protoType = buf[start] ?? 0;
        break;
      case HepChunkType.CAPTURE_ID:
        captureId = buf.readUInt32BE(start);
        break;
      case HepChunkType.AUTH_KEY:
        authStart = start;
        authEnd = end;
        break;
      case HepChunkType.PAYLOAD:
      case HepChunkType.COMPRESSED_PAYLOAD:
        payloadStart = start;
        payloadEnd = end;
        payloadCompressed = type === HepChunkType.COMPRESSED_PAYLOAD;
        break;
      case HepChunkType.CORRELATION_ID:
        corrStart = start;
        corrEnd = end;
        break;
      default:
        break;
    }
  }

  // Required chunks: a missing one crashes a Kamailio worker; here it is an error.
  for (const type of REQUIRED_SCALARS) {
    if ((seen & bit(type)) === 0) return fail('missing_chunk', `HEPv3: missing chunk ${chunkName(type)}`, type);
  }
  if (srcOffset === NO_OFFSET) {
    return fail('missing_chunk', 'HEPv3: missing source address chunk 0x0003 (src_ipv4) or 0x0005 (src_ipv6)', HepChunkType.SRC_IPV4);
  }
  if (dstOffset === NO_OFFSET) {
    return fail('missing_chunk', 'HEPv3: missing destination address chunk 0x0004 (dst_ipv4) or 0x0006 (dst_ipv6)', HepChunkType.DST_IPV4);
  }
  if (payloadStart === NO_OFFSET) {
    return fail('missing_chunk', 'HEPv3: missing payload chunk 0x000f (payload) or 0x0010 (compressed_payload)', HepChunkType.PAYLOAD);
  }
  if (srcFamily !== dstFamily) {
    return fail('address_family_mismatch', `HEPv3: source address is family ${srcFamily}, destination family ${dstFamily}`);
  }
  const family: 2 | 10 = srcFamily === AF_INET ? AF_INET : AF_INET6;
  if (familyChunk !== -1 && familyChunk !== family) {
    return fail('address_family_mismatch', `HEPv3: family chunk says ${familyChunk}, address chunks are family ${family}`, HepChunkType.IP_FAMILY);
  }

  let payload: Buffer;
  if (payloadCompressed) {
    const inflated = inflate(buf.subarray(payloadStart, payloadEnd), maxInflatedLength);
    if (inflated === TOO_LARGE) {
      return fail('payload_too_large', `HEPv3: compressed payload inflates to more than ${maxInflatedLength} bytes`, HepChunkType.COMPRESSED_PAYLOAD);
    }
    if (typeof inflated === 'string') return fail('bad_compressed_payload', `HEPv3: compressed payload: ${inflated}`, HepChunkType.COMPRESSED_PAYLOAD);
    payload = inflated;
  } else {
    payload = buf.subarray(payloadStart, payloadEnd);
  }
  if (payload.length === 0) return fail('no_payload', 'HEPv3: empty payload');

  const packet = new V3Packet(buf, total, family, ipProto, srcPort, dstPort, tsSec, tsUsec, captureId, protoType, payload, payloadCompressed);
  packet.srcIp = addressText(family, buf, srcOffset);
  packet.dstIp = addressText(family, buf, dstOffset);
  // By chunk length (docs/kamailio-differences.md H6), not as a C string.
  if (corrStart !== NO_OFFSET) packet.correlationId = buf.toString('utf8', corrStart, corrEnd);
  if (authStart !== NO_OFFSET) packet.authKey = buf.toString('utf8', authStart, authEnd);
  return { ok: true, packet };
}

/**
 * A decoded HEP3 packet. `chunks` is built on first use (hooks, tests): a view and an object per
 * chunk are a dozen allocations per packet that the store path never reads.
 */
class V3Packet implements HepPacket {
  readonly version = 3 as const;
  srcIp = '';
  dstIp = '';
  correlationId: string | null = null;
  authKey: string | null = null;
  private list: HepChunk[] | null = null;
  constructor(
    private readonly buf: Buffer,
    private readonly total: number,
    readonly family: 2 | 10,
    readonly ipProto: number,
    readonly srcPort: number,
    readonly dstPort: number,
    readonly tsSec: number,
    readonly tsUsec: number,
    readonly captureId: number,
    readonly protoType: number,
    readonly payload: Buffer,
    readonly compressed: boolean,
  ) {}
  get chunks(): HepChunk[] {
    return (this.list ??= listChunks(this.buf, this.total));
  }
}

/**
 * The last IPv4 texts, direct-mapped by a hash of the address: a capture sees few distinct
 * agents and proxies, and each text would otherwise be built (4 numbers, 7 pieces) per packet.
 */
const V4_KEYS = new Float64Array(256).fill(-1);
const V4_TEXTS = new Array<string>(256).fill('');

function addressText(family: 2 | 10, buf: Buffer, offset: number): string {
  if (family !== AF_INET) return ipToText(family, buf, offset);
  const v = ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
  const slot = (v ^ (v >>> 8) ^ (v >>> 16) ^ (v >>> 24)) & 255;
  if (V4_KEYS[slot] === v) return V4_TEXTS[slot]!;
  const text = ipToText(AF_INET, buf, offset);
  V4_KEYS[slot] = v;
  V4_TEXTS[slot] = text;
  return text;
}

/** The chunks of a HEP3 packet whose chunk list decodeV3 has already validated. */
function listChunks(buf: Buffer, total: number): HepChunk[] {
  const chunks: HepChunk[] = [];
  for (let pos = HEP3_HEADER_LENGTH; pos < total; ) {
    const length = (buf[pos + 4]! << 8) | buf[pos + 5]!;
    chunks.push({ vendor: (buf[pos]! << 8) | buf[pos + 1]!, type: (buf[pos + 2]! << 8) | buf[pos + 3]!, data: buf.subarray(pos + HEP3_CHUNK_HEADER_LENGTH, pos + length) });
    pos += length;
  }
  return chunks;
}

const GZIP_ID1 = 0x1f;
const GZIP_ID2 = 0x8b;
const ZLIB_METHOD_DEFLATE = 8;
const ZLIB_MAX_WINDOW_BITS_CODE = 7;
const ZLIB_HEADER_CHECK = 31;

/** What `inflate` returns when the output would pass its bound. */
const TOO_LARGE = Symbol('too large');

/**
 * Inflates a 0x0010 payload. The rev-37 text says "gzip/inflate"; senders in the wild use a
 * zlib stream, so the container is detected: gzip magic, a valid zlib header, else raw deflate.
 * Returns the output, TOO_LARGE past the bound, or the failure reason as a string.
 */
function inflate(data: Buffer, maxOutputLength: number): Buffer | string | typeof TOO_LARGE {
  const b0 = data[0] ?? 0;
  const b1 = data[1] ?? 0;
  try {
    if (data.length >= 2 && b0 === GZIP_ID1 && b1 === GZIP_ID2) return gunzipSync(data, { maxOutputLength });
    if (
      data.length >= 2 &&
      (b0 & 0x0f) === ZLIB_METHOD_DEFLATE &&
      b0 >> 4 <= ZLIB_MAX_WINDOW_BITS_CODE &&
      ((b0 << 8) | b1) % ZLIB_HEADER_CHECK === 0
    ) {
      return inflateSync(data, { maxOutputLength });
    }
    return inflateRawSync(data, { maxOutputLength });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') return TOO_LARGE;
    return err instanceof Error ? err.message : 'inflate failed';
  }
}
