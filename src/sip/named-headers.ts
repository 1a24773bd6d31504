/**
 * Columns taken from headers looked up by name with Kamailio's get_hdr_by_name rule (same
 * length, first byte case-sensitive, rest case-insensitive, as Kamailio's get_hdr_by_name): `reason`, X-OIP,
 * the RTP-stat list, `callid_aleg` and the custom fields.
 */
import { COLON, memchr, text } from './bytes.js';
import type { SipMessage } from './parser.js';

/** rtp_stat: the list order decides, not the order in the message. */
export const RTP_STAT_HEADERS: readonly string[] = [
  'X-RTP-Stat-Add',
  'X-RTP-Stat-T38',
  'X-RTP-Stat',
  'P-RTP-Stat',
  'X-Siemens-RTP-stats',
  'X-NG-RTP-STATS',
  'RTP-RxStat',
];

/** Kamailio keeps at most 16 callid_aleg_header names. */
export const MAX_CALLID_ALEG_HEADERS = 16;

/**
 * Splits the `callid_aleg_header` parameter like parse_aleg_callid_headers: on ';',
 * empty items skipped, no trimming (" X-CID1" never matches), at most 16 names.
 */
export function splitCallidAlegHeaders(param: string): string[] {
  const out: string[] = [];
  for (const item of param.split(';')) {
    if (item === '') continue;
    out.push(item);
    if (out.length === MAX_CALLID_ALEG_HEADERS) break;
  }
  return out;
}

/** Body of the first header found, trying names in list order; '' when none is present. */
export function firstBodyOfNames(msg: SipMessage, names: readonly string[], max = names.length): string {
  const n = Math.min(names.length, max);
  for (let k = 0; k < n; k++) {
    const i = msg.lookupByName(names[k] as string);
    if (i >= 0) return msg.headerBody(i);
  }
  return '';
}

/** The `rtp_stat` column. */
export function rtpStat(msg: SipMessage): string {
  return firstBodyOfNames(msg, RTP_STAT_HEADERS);
}

/** The `callid_aleg` column (names already split, see splitCallidAlegHeaders; at most 16 used). */
export function callidAleg(msg: SipMessage, names: readonly string[]): string {
  return firstBodyOfNames(msg, names, MAX_CALLID_ALEG_HEADERS);
}

/** A custom field: body of the named header; '' for an empty name or a missing header. */
export function customField(msg: SipMessage, name: string): string {
  if (name.length === 0) return '';
  return msg.bodyByName(name) ?? '';
}

/** The `reason` column: the first `Reason` header by name (so `reason:` does not match). */
export function reasonHeader(msg: SipMessage): string {
  return msg.bodyByName('Reason') ?? '';
}

export interface Originator {
  ip: string;
  port: number;
}

const LONG_MAX = 2n ** 63n - 1n;
const LONG_MIN = -(2n ** 63n);

function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** strtol(…, 10) of buf[p, end), stored into a C int (low 32 bits, signed). */
export function strtolToInt(buf: Buffer, p: number, end: number): number {
  while (p < end && isCSpace(buf[p] as number)) p++;
  let neg = false;
  if (p < end && (buf[p] === 0x2b || buf[p] === 0x2d)) {
    neg = buf[p] === 0x2d;
    p++;
  }
  const ds = p;
  while (p < end && (buf[p] as number) >= 0x30 && (buf[p] as number) <= 0x39) p++;
  if (p === ds) return 0;
  if (p - ds <= 9) {
    const v = Number(buf.toString('latin1', ds, p));
    return neg ? -v | 0 : v | 0;
  }
  let v = BigInt(buf.toString('latin1', ds, p));
  if (neg) v = -v;
  if (v > LONG_MAX) v = LONG_MAX;
  if (v < LONG_MIN) v = LONG_MIN;
  return Number(BigInt.asIntN(32, v));
}

/**
 * `originator_ip` / `originator_port` from the first X-OIP header, the compatible
 * way: the text before the first ':' of the body (or the whole body) and the leading integer
 * after that ':'. Kamailio instead writes a NUL over the first ':' at or after the body start —
 * even in the next header when the body has none — and stores the full body length; that bug
 * is not copied and the message is never modified.
 */
export function originator(msg: SipMessage): Originator {
  const i = msg.lookupByName('X-OIP');
  if (i < 0) return { ip: '', port: 0 };
  const buf = msg.buf;
  const s = msg.headerBodyStart(i);
  const e = msg.headerBodyEnd(i);
  const colon = memchr(buf, COLON, s, e);
  if (colon < 0) return { ip: text(buf, s, e), port: 0 };
  return { ip: text(buf, s, colon), port: strtolToInt(buf, colon + 1, e) };
}
