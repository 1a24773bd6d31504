/**
 * URI splitting for the user / domain / port columns (clean-room implementation, see parser.ts).
 *
 * Rules from spec §3.3.2, on top of RFC 3261 §19.1 / §25.1 (SIP-URI, SIPS-URI) and RFC 3966 (tel):
 * - sip/sips: user = userinfo before '@' without ":password"; user parameters stay in the user
 *   (`sip:+4930123;npdi@h` → `+4930123;npdi`); host without the port, IPv6 references keep their
 *   brackets; port = the digits after the host, 0 when absent;
 * - a URI parameter `user=phone` (value compared case-sensitively) turns a sip URI into a tel-like
 *   one whose user is cut at its first ';';
 * - tel: user = the number without parameters, empty host;
 * - no percent-decoding and no case changes: every range points into the original bytes.
 * Where the RFC leaves room the checks are permissive (bytes ≥ 0x80 in the user are accepted).
 * - urn: user = the namespace id, host = the rest (`urn:service:sos` → `service`, `sos`), as
 *   Kamailio 5.6.3 stores them; a URN without a second ':' has an empty user.
 */
import { AT, COLON, DASH, DOT, DQUOTE, GT, LBRACKET, LT, QMARK, RBRACKET, SEMI, isAlnum, isDigit, lower } from './bytes.js';

export const UriType = {
  SIP: 1,
  SIPS: 2,
  TEL: 3,
  URN: 4,
} as const;
export type UriTypeValue = (typeof UriType)[keyof typeof UriType];

export interface ParsedUri {
  type: UriTypeValue;
  userStart: number;
  userEnd: number;
  hostStart: number;
  hostEnd: number;
  /** Port digits; portStart === portEnd when there is no port. */
  portStart: number;
  portEnd: number;
  /** Numeric value of the port digits, 0 if absent. */
  port: number;
}

const MAX_PORT_DIGITS = 5;

/** Bytes that never appear in a URI here: controls, space, DEL, '<', '>', '"'. */
function isExcluded(c: number): boolean {
  return c <= 0x20 || c === 0x7f || c === LT || c === GT || c === DQUOTE;
}

/** Scheme at [start, colon): 0 when unknown. */
function schemeOf(buf: Buffer, start: number, colon: number): UriTypeValue | 0 {
  const n = colon - start;
  if (n < 3 || n > 4) return 0;
  const a = lower(buf[start] as number);
  const b = lower(buf[start + 1] as number);
  const c = lower(buf[start + 2] as number);
  if (n === 4) return a === 0x73 && b === 0x69 && c === 0x70 && lower(buf[start + 3] as number) === 0x73 ? UriType.SIPS : 0;
  if (a === 0x73 && b === 0x69 && c === 0x70) return UriType.SIP;
  if (a === 0x74 && b === 0x65 && c === 0x6c) return UriType.TEL;
  if (a === 0x75 && b === 0x72 && c === 0x6e) return UriType.URN;
  return 0;
}

function result(type: UriTypeValue, us: number, ue: number, hs: number, he: number, ps: number, pe: number, port: number): ParsedUri {
  return { type, userStart: us, userEnd: ue, hostStart: hs, hostEnd: he, portStart: ps, portEnd: pe, port };
}

/** True when every byte of [p, end) may appear in a URI. */
function allAllowed(buf: Buffer, p: number, end: number): boolean {
  for (; p < end; p++) if (isExcluded(buf[p] as number)) return false;
  return true;
}

function parseTel(buf: Buffer, p: number, end: number): ParsedUri | null {
  const ns = p;
  while (p < end && buf[p] !== SEMI && buf[p] !== QMARK) p++;
  if (p === ns || !allAllowed(buf, ns, end)) return null;
  return result(UriType.TEL, ns, p, p, p, p, p, 0);
}

function parseUrn(buf: Buffer, p: number, end: number): ParsedUri | null {
  if (!allAllowed(buf, p, end)) return null;
  const colon = buf.indexOf(COLON, p);
  if (colon < 0 || colon >= end) return result(UriType.URN, p, p, p, end, end, end, 0);
  return result(UriType.URN, p, colon, colon + 1, end, end, end, 0);
}

/**
 * Checks the URI parameters and headers in [p, end) (p at ';' or '?') and reports whether a
 * `user=phone` parameter is present. Returns -1 for a bad byte, else 1 / 0 for user=phone.
 */
function scanParams(buf: Buffer, p: number, end: number): number {
  let phone = 0;
  while (p < end && buf[p] === SEMI) {
    const ns = ++p;
    let eq = -1;
    while (p < end) {
      const c = buf[p] as number;
      if (c === SEMI || c === QMARK) break;
      if (isExcluded(c) || c === AT) return -1;
      if (c === 0x3d && eq < 0) eq = p;
      p++;
    }
    if (
      eq - ns === 4 &&
      p - eq - 1 === 5 &&
      lower(buf[ns] as number) === 0x75 &&
      lower(buf[ns + 1] as number) === 0x73 &&
      lower(buf[ns + 2] as number) === 0x65 &&
      lower(buf[ns + 3] as number) === 0x72 &&
      buf.toString('latin1', eq + 1, p) === 'phone'
    ) {
      phone = 1;
    }
  }
  if (p < end) {
    // p is at '?': the headers part
    if (!allAllowed(buf, p + 1, end)) return -1;
  }
  return phone;
}

/** Parses buf[start, end) as a URI. Returns null for a URI that does not parse. Never throws. */
export function parseUri(buf: Buffer, start: number, end: number): ParsedUri | null {
  if (start < 0) start = 0;
  if (end > buf.length) end = buf.length;
  if (end - start < 4) return null;
  let colon = -1;
  for (let i = start; i < end && i <= start + 4; i++) {
    if (buf[i] === COLON) {
      colon = i;
      break;
    }
  }
  if (colon < 0) return null;
  const type = schemeOf(buf, start, colon);
  if (type === 0) return null;
  const p = colon + 1;
  if (p >= end) return null;
  if (type === UriType.TEL) return parseTel(buf, p, end);
  if (type === UriType.URN) return parseUrn(buf, p, end);

  // sip / sips: [ userinfo "@" ] hostport uri-parameters [ headers ]
  let at = -1;
  for (let i = p; i < end; i++) {
    if (buf[i] === AT) {
      at = i;
      break;
    }
  }
  const userStart = p;
  let userEnd = p;
  let h = p;
  if (at >= 0) {
    // user [ ":" password ]; the password has no ':' of its own
    let pwColon = -1;
    for (let i = p; i < at; i++) {
      const c = buf[i] as number;
      if (isExcluded(c) || c === LBRACKET || c === RBRACKET) return null;
      if (c === COLON) {
        if (pwColon >= 0) return null;
        pwColon = i;
      }
    }
    userEnd = pwColon >= 0 ? pwColon : at;
    if (userEnd === userStart) return null;
    h = at + 1;
  }

  // host: IPv6 reference or host name / IPv4 address
  const hostStart = h;
  if (h < end && buf[h] === LBRACKET) {
    h++;
    while (h < end) {
      const c = buf[h] as number;
      if (c === RBRACKET) break;
      if (!(isAlnum(c) || c === COLON || c === DOT)) return null;
      h++;
    }
    if (h >= end || h === hostStart + 1) return null;
    h++;
  } else {
    let labelStart = true;
    while (h < end) {
      const c = buf[h] as number;
      if (c === COLON || c === SEMI || c === QMARK) break;
      if (c === DOT) {
        if (labelStart) return null;
        labelStart = true;
      } else if (isAlnum(c)) {
        labelStart = false;
      } else if (c === DASH) {
        if (labelStart) return null;
      } else {
        return null;
      }
      h++;
    }
    if (h === hostStart) return null;
  }
  const hostEnd = h;

  // port: up to five digits, possibly none
  let portStart = h;
  let portEnd = h;
  let port = 0;
  if (h < end && buf[h] === COLON) {
    portStart = ++h;
    while (h < end && isDigit(buf[h] as number)) port = port * 10 + (buf[h++] as number) - 0x30;
    portEnd = h;
    if (portEnd - portStart > MAX_PORT_DIGITS) return null;
  }
  if (h < end && buf[h] !== SEMI && buf[h] !== QMARK) return null;

  const phone = h < end ? scanParams(buf, h, end) : 0;
  if (phone < 0) return null;
  if (phone === 1) {
    for (let i = userStart; i < userEnd; i++) {
      if (buf[i] === SEMI) {
        userEnd = i;
        break;
      }
    }
    return result(type === UriType.SIP ? UriType.TEL : type, userStart, userEnd, hostStart, hostEnd, portStart, portEnd, port);
  }
  return result(type, userStart, userEnd, hostStart, hostEnd, portStart, portEnd, port);
}
