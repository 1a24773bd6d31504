/**
 * Via header check and first-branch extraction (clean-room implementation, see parser.ts).
 *
 * Grammar: RFC 3261 §20.42 / §25.1 —
 *   Via = via-parm *(COMMA via-parm)
 *   via-parm = sent-protocol LWS sent-by *( SEMI via-params )
 *   sent-protocol = "SIP" SLASH "2.0" SLASH transport
 * with LWS (folding included) allowed around the separators. A parenthesised comment may follow
 * the parameters of a via-parm. The header is part of the set whose validity decides whether a
 * message is accepted; `via_1_branch` is the `branch` value of the first
 * via-parm.
 */
import { BACKSLASH, COLON, COMMA, DQUOTE, EQUAL, LBRACKET, LPAREN, RBRACKET, RPAREN, SEMI, SLASH, TOKEN_CHAR, eatLwsEnd, equalsIgnoreCase, isAlnum, isDigit, lineEndAfter, quotedStringEnd } from './bytes.js';


export interface ViaResult {
  ok: boolean;
  /** Start of the next header (after the line end). */
  end: number;
  /** `branch` value of the first via-parm; -1 when there is no branch parameter. */
  branchStart: number;
  branchEnd: number;
}


/**
 * Parameters whose value RFC 3261 makes mandatory: without '=' the Via is refused, as Kamailio
 * refuses it; an empty value after '=' is accepted.
 */
const NEEDS_VALUE = ['branch', 'received', 'maddr', 'ttl'];

function fail(end: number): ViaResult {
  return { ok: false, end, branchStart: -1, branchEnd: -1 };
}

function tokenEnd(buf: Buffer, p: number, end: number): number {
  while (p < end && TOKEN_CHAR[buf[p] as number] === 1) p++;
  return p;
}

/** True when buf[s, e) is `word` (lower-case ASCII) ignoring case. */
function sameIgnoreCase(buf: Buffer, s: number, e: number, word: string): boolean {
  return e - s === word.length && equalsIgnoreCase(buf, s, word);
}

/** Host part of sent-by: an IPv6 reference or a host name / IPv4 address. Returns its end or -1. */
function hostEnd(buf: Buffer, p: number, end: number): number {
  if (p >= end) return -1;
  if (buf[p] === LBRACKET) {
    let q = p + 1;
    while (q < end) {
      const c = buf[q] as number;
      if (c === RBRACKET) return q > p + 1 ? q + 1 : -1;
      if (!(isAlnum(c) || c === COLON || c === 0x2e || c === 0x25)) return -1;
      q++;
    }
    return -1;
  }
  let q = p;
  while (q < end) {
    const c = buf[q] as number;
    if (!(isAlnum(c) || c === 0x2d || c === 0x2e || c === 0x5f)) break;
    q++;
  }
  return q > p ? q : -1;
}

/** A parameter value that is not quoted: any visible byte except the separators. */
function valueEnd(buf: Buffer, p: number, end: number): number {
  while (p < end) {
    const c = buf[p] as number;
    if (c <= 0x20 || c === 0x7f || c === SEMI || c === COMMA || c === DQUOTE || c === LPAREN || c === RPAREN || c === EQUAL) break;
    p++;
  }
  return p;
}

/** A comment starting at '(' (nesting allowed): offset after the closing ')', or -1. */
function commentEnd(buf: Buffer, p: number, end: number): number {
  let depth = 0;
  let q = p;
  while (q < end) {
    const c = buf[q];
    if (c === BACKSLASH) {
      q += 2;
      continue;
    }
    if (c === LPAREN) depth++;
    else if (c === RPAREN) {
      depth--;
      if (depth === 0) return q + 1;
    }
    q++;
  }
  return -1;
}

/** Validates the Via body starting at `start` (after the colon and leading LWS). Never throws. */
export function parseVia(buf: Buffer, start: number, end: number): ViaResult {
  if (end > buf.length) end = buf.length;
  if (start < 0 || start > end) return fail(end);
  let branchStart = -1;
  let branchEnd = -1;
  let first = true;
  let p = eatLwsEnd(buf, start, end);

  for (;;) {
    // sent-protocol
    let e = tokenEnd(buf, p, end);
    if (!sameIgnoreCase(buf, p, e, 'sip')) return fail(end);
    p = eatLwsEnd(buf, e, end);
    if (p >= end || buf[p] !== SLASH) return fail(end);
    p = eatLwsEnd(buf, p + 1, end);
    e = tokenEnd(buf, p, end);
    if (e - p !== 3 || buf[p] !== 0x32 || buf[p + 1] !== 0x2e || buf[p + 2] !== 0x30) return fail(end);
    p = eatLwsEnd(buf, e, end);
    if (p >= end || buf[p] !== SLASH) return fail(end);
    p = eatLwsEnd(buf, p + 1, end);
    e = tokenEnd(buf, p, end);
    if (e === p) return fail(end);
    // LWS, then sent-by = host [ ":" port ]
    p = eatLwsEnd(buf, e, end);
    if (p === e) return fail(end);
    e = hostEnd(buf, p, end);
    if (e < 0) return fail(end);
    p = eatLwsEnd(buf, e, end);
    if (p < end && buf[p] === COLON) {
      p = eatLwsEnd(buf, p + 1, end);
      let port = 0;
      const ds = p;
      while (p < end && isDigit(buf[p] as number) && p - ds < 6) port = port * 10 + (buf[p++] as number) - 0x30;
      if (p === ds || port > 65535) return fail(end);
      p = eatLwsEnd(buf, p, end);
    }
    // *( SEMI via-params )
    while (p < end && buf[p] === SEMI) {
      p = eatLwsEnd(buf, p + 1, end);
      const ns = p;
      const ne = tokenEnd(buf, p, end);
      if (ne === ns) return fail(end);
      p = eatLwsEnd(buf, ne, end);
      let vs = -1;
      let ve = -1;
      if (p < end && buf[p] === EQUAL) {
        p = eatLwsEnd(buf, p + 1, end);
        if (p < end && buf[p] === DQUOTE) {
          const q = quotedStringEnd(buf, p, end, true);
          if (q < 0) return fail(end);
          vs = p + 1;
          ve = q - 1;
          p = q;
        } else {
          // an empty value (`;branch=`, `;received=`) is accepted as '', as Kamailio does
          vs = p;
          ve = valueEnd(buf, p, end);
          p = ve;
        }
        p = eatLwsEnd(buf, p, end);
      } else {
        for (const name of NEEDS_VALUE) if (sameIgnoreCase(buf, ns, ne, name)) return fail(end);
      }
      if (first && branchStart < 0 && sameIgnoreCase(buf, ns, ne, 'branch')) {
        branchStart = vs;
        branchEnd = ve;
      }
    }
    if (p < end && buf[p] === LPAREN) {
      const q = commentEnd(buf, p, end);
      if (q < 0) return fail(end);
      p = eatLwsEnd(buf, q, end);
    }
    if (p < end && buf[p] === COMMA) {
      first = false;
      p = eatLwsEnd(buf, p + 1, end);
      continue;
    }
    const next = lineEndAfter(buf, p, end);
    if (next < 0) return fail(end);
    return { ok: true, end: next, branchStart, branchEnd };
  }
}
