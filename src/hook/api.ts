/**
 * The pure helpers behind the hook request's `hep()` and `float2int()` (the request itself is
 * described in public.ts).
 */
import { HepChunkType } from '../hep/constants.js';
import type { HepPacket } from '../hep/types.js';
import { ipv4ToText, ipv6ToText } from '../net/address.js';

/**
 * A `$hep()` key as a chunk type, or 'version'. Kamailio accepts exactly `version`, or five
 * characters: `0x` + 3 hex digits or 5 decimal digits, with a value > 0; we also accept a
 * number. Anything else throws (Kamailio refuses to start with "unknown hep name").
 */
export function hepKey(key: number | string): number | 'version' {
  if (typeof key === 'number') {
    if (Number.isInteger(key) && key > 0 && key <= 0xffff) return key;
  } else if (key === 'version') {
    return 'version';
  } else if (key.length === 5) {
    const n = /^0x[0-9a-fA-F]{3}$/.test(key) ? parseInt(key.slice(2), 16) : /^[0-9]{5}$/.test(key) ? parseInt(key, 10) : 0;
    if (n > 0) return n;
  }
  throw new TypeError(`unknown hep name ${JSON.stringify(key)} (use 'version', a chunk type number, '0x00b' or '00011')`);
}

const UINT8 = new Set<number>([HepChunkType.IP_FAMILY, HepChunkType.IP_PROTO, HepChunkType.PROTO_TYPE]);
const UINT16 = new Set<number>([HepChunkType.SRC_PORT, HepChunkType.DST_PORT, HepChunkType.KEEP_ALIVE]);
const UINT32 = new Set<number>([HepChunkType.TS_SEC, HepChunkType.TS_USEC, HepChunkType.CAPTURE_ID]);
const TEXT = new Set<number>([HepChunkType.AUTH_KEY, HepChunkType.PAYLOAD, HepChunkType.CORRELATION_ID]);

/**
 * Value of `$hep(type)` from the first vendor-0 chunk: integers for 1, 2, 11 / 7, 8,
 * 13 / 9, 10, 12; address text for 3–6; text for 14, 15, 17; -1 for any other type present
 * (Kamailio prints it as 4294967295); undefined when absent. HEP v1/v2 have no chunks: their
 * header fields answer for the types they carry (Kamailio parses them as garbage HEP3).
 */
export function hepValue(p: HepPacket, key: number | string): number | string | undefined {
  const k = hepKey(key);
  if (k === 'version') return p.version;
  if (p.version !== 3) return v1v2Value(p, k);
  const c = p.chunks.find((x) => x.vendor === 0 && x.type === k);
  if (c === undefined) return undefined;
  const d = c.data;
  if (UINT8.has(k)) return d.length >= 1 ? d.readUInt8(0) : -1;
  if (UINT16.has(k)) return d.length >= 2 ? d.readUInt16BE(0) : -1;
  if (UINT32.has(k)) return d.length >= 4 ? d.readUInt32BE(0) : -1;
  if (k === HepChunkType.SRC_IPV4 || k === HepChunkType.DST_IPV4) return d.length >= 4 ? ipv4ToText(d, 0) : -1;
  if (k === HepChunkType.SRC_IPV6 || k === HepChunkType.DST_IPV6) return d.length >= 16 ? ipv6ToText(d, 0) : -1;
  if (TEXT.has(k)) return d.toString('utf8');
  return -1;
}

function v1v2Value(p: HepPacket, type: number): number | string | undefined {
  const v4 = p.family === 2;
  switch (type) {
    case HepChunkType.IP_FAMILY:
      return p.family;
    case HepChunkType.IP_PROTO:
      return p.ipProto;
    case HepChunkType.SRC_IPV4:
      return v4 ? p.srcIp : undefined;
    case HepChunkType.DST_IPV4:
      return v4 ? p.dstIp : undefined;
    case HepChunkType.SRC_IPV6:
      return v4 ? undefined : p.srcIp;
    case HepChunkType.DST_IPV6:
      return v4 ? undefined : p.dstIp;
    case HepChunkType.SRC_PORT:
      return p.srcPort;
    case HepChunkType.DST_PORT:
      return p.dstPort;
    case HepChunkType.TS_SEC:
      return p.version === 2 ? p.tsSec : undefined;
    case HepChunkType.TS_USEC:
      return p.version === 2 ? p.tsUsec : undefined;
    case HepChunkType.CAPTURE_ID:
      return p.version === 2 ? p.captureId : undefined;
    case HepChunkType.PROTO_TYPE:
      return p.protoType;
    case HepChunkType.PAYLOAD:
      return p.payload.toString('utf8');
    default:
      return undefined;
  }
}

/** C atof(): the longest leading decimal number (after whitespace), `inf`/`nan`, else 0. */
export function atof(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(?:(inf(?:inity)?)|(nan)|((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))/i.exec(s);
  if (m === null) return 0;
  const sign = m[1] === '-' ? -1 : 1;
  if (m[2] !== undefined) return sign * Infinity;
  if (m[3] !== undefined) return NaN;
  return sign * Number(m[4]);
}

/** C atoi(): the leading decimal integer (after whitespace), else 0; wraps like a 32-bit int. */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  return m === null ? 0 : Number(BigInt.asIntN(32, BigInt(m[1] ?? '0')));
}

/**
 * `float2int(fval, ival)`: `(int)(atof(fval) * atoi(ival))`, truncated toward 0; a
 * result of 0 becomes -1. Out of the int range (or NaN) gives INT_MIN, as x86's conversion does.
 */
export function float2int(fval: string | number, ival: string | number): number {
  const product = atof(String(fval)) * atoi(String(ival));
  const t = Math.trunc(product);
  const n = Number.isFinite(t) && t >= -2147483648 && t <= 2147483647 ? t : -2147483648;
  return n === 0 ? -1 : n;
}
