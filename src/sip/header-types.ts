/**
 * Header-name recognition, as Kamailio's parse_hname2 does it: a name is made of
 * `0-9 A-Z a-z - . _ + ~`, may be followed by spaces/tabs before the colon, and is matched
 * case-insensitively against the well-known names, compact forms included.
 */
import { lower } from './bytes.js';

/** Well-known header types. OTHER is every name Kamailio does not type. */
export const HdrType = {
  OTHER: 0,
  VIA: 1,
  FROM: 2,
  TO: 3,
  CALLID: 4,
  CSEQ: 5,
  CONTACT: 6,
  CONTENT_TYPE: 7,
  CONTENT_LENGTH: 8,
  USER_AGENT: 9,
  DIVERSION: 10,
  AUTHORIZATION: 11,
  PROXY_AUTHORIZATION: 12,
  PAI: 13,
  PPI: 14,
  RPID: 15,
  EVENT: 16,
  REASON: 17,
  RETRY_AFTER: 18,
  SUBJECT: 19,
  SUPPORTED: 20,
  ALLOW_EVENTS: 21,
  REFERRED_BY: 22,
  REFER_TO: 23,
  SESSION_EXPIRES: 24,
  IDENTITY: 25,
  CONTENT_ENCODING: 26,
  ACCEPT_CONTACT: 27,
  REJECT_CONTACT: 28,
  REQUEST_DISPOSITION: 29,
  MAX_FORWARDS: 30,
  ROUTE: 31,
  RECORD_ROUTE: 32,
  EXPIRES: 33,
  ALLOW: 34,
  SERVER: 35,
} as const;
export type HdrTypeValue = (typeof HdrType)[keyof typeof HdrType];
export const HDR_TYPE_COUNT = 36;

/** Kamailio's name map (parse_hname2.c), compact forms included. */
const NAMES: readonly (readonly [string, HdrTypeValue])[] = [
  ['a', HdrType.ACCEPT_CONTACT],
  ['Accept-Contact', HdrType.ACCEPT_CONTACT],
  ['Allow', HdrType.ALLOW],
  ['Allow-Events', HdrType.ALLOW_EVENTS],
  ['Authorization', HdrType.AUTHORIZATION],
  ['b', HdrType.REFERRED_BY],
  ['c', HdrType.CONTENT_TYPE],
  ['Call-ID', HdrType.CALLID],
  ['Contact', HdrType.CONTACT],
  ['Content-Encoding', HdrType.CONTENT_ENCODING],
  ['Content-Length', HdrType.CONTENT_LENGTH],
  ['Content-Type', HdrType.CONTENT_TYPE],
  ['CSeq', HdrType.CSEQ],
  ['d', HdrType.REQUEST_DISPOSITION],
  ['Diversion', HdrType.DIVERSION],
  ['e', HdrType.CONTENT_ENCODING],
  ['Event', HdrType.EVENT],
  ['Expires', HdrType.EXPIRES],
  ['f', HdrType.FROM],
  ['From', HdrType.FROM],
  ['i', HdrType.CALLID],
  ['Identity', HdrType.IDENTITY],
  ['j', HdrType.REJECT_CONTACT],
  ['k', HdrType.SUPPORTED],
  ['l', HdrType.CONTENT_LENGTH],
  ['m', HdrType.CONTACT],
  ['Max-Forwards', HdrType.MAX_FORWARDS],
  ['o', HdrType.EVENT],
  ['Proxy-Authorization', HdrType.PROXY_AUTHORIZATION],
  ['P-Preferred-Identity', HdrType.PPI],
  ['P-Asserted-Identity', HdrType.PAI],
  ['r', HdrType.REFER_TO],
  ['Reason', HdrType.REASON],
  ['Record-Route', HdrType.RECORD_ROUTE],
  ['Refer-To', HdrType.REFER_TO],
  ['Referred-By', HdrType.REFERRED_BY],
  ['Reject-Contact', HdrType.REJECT_CONTACT],
  ['Remote-Party-ID', HdrType.RPID],
  ['Request-Disposition', HdrType.REQUEST_DISPOSITION],
  ['Retry-After', HdrType.RETRY_AFTER],
  ['Route', HdrType.ROUTE],
  ['s', HdrType.SUBJECT],
  ['Server', HdrType.SERVER],
  ['Session-Expires', HdrType.SESSION_EXPIRES],
  ['Subject', HdrType.SUBJECT],
  ['Supported', HdrType.SUPPORTED],
  ['t', HdrType.TO],
  ['To', HdrType.TO],
  ['u', HdrType.ALLOW_EVENTS],
  ['User-Agent', HdrType.USER_AGENT],
  ['v', HdrType.VIA],
  ['Via', HdrType.VIA],
  ['x', HdrType.SESSION_EXPIRES],
  ['y', HdrType.IDENTITY],
];

/** Candidates by lower-cased first byte: parallel arrays of lower-cased names and types. */
const CAND_NAMES: Uint8Array[][] = Array.from({ length: 256 }, () => []);
const CAND_TYPES: HdrTypeValue[][] = Array.from({ length: 256 }, () => []);
for (const [name, type] of NAMES) {
  const bytes = Uint8Array.from(name, (ch) => lower(ch.charCodeAt(0)));
  (CAND_NAMES[bytes[0] as number] as Uint8Array[]).push(bytes);
  (CAND_TYPES[bytes[0] as number] as HdrTypeValue[]).push(type);
}

/** Valid header-name bytes (parse_hname2's `_ksr_hname_chars_list`). */
export const NAME_CHAR = new Uint8Array(256);
for (const ch of '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-._+~') {
  NAME_CHAR[ch.charCodeAt(0)] = 1;
}

/** Type of the header name in buf[start, end). */
export function headerTypeOf(buf: Buffer, start: number, end: number): HdrTypeValue {
  const len = end - start;
  const first = lower(buf[start] as number);
  const names = CAND_NAMES[first] as Uint8Array[];
  for (let k = 0; k < names.length; k++) {
    const bytes = names[k] as Uint8Array;
    if (bytes.length !== len) continue;
    let i = 1;
    while (i < len && lower(buf[start + i] as number) === bytes[i]) i++;
    if (i === len) return (CAND_TYPES[first] as HdrTypeValue[])[k] as HdrTypeValue;
  }
  return HdrType.OTHER;
}
