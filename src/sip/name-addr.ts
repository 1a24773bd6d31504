/**
 * name-addr / addr-spec bodies: To, From, P-Asserted-Identity, P-Preferred-Identity,
 * Remote-Party-ID (clean-room implementation, see parser.ts).
 *
 * Grammar: RFC 3261 §20.10 / §20.20 / §20.39 / §25.1 —
 *   ( name-addr / addr-spec ) *( SEMI param )
 *   name-addr = [ display-name ] LAQUOT addr-spec RAQUOT
 *   display-name = *(token LWS) / quoted-string
 * In the addr-spec form, parameters after ';' belong to the header, not to the URI. LWS (folding
 * included) may separate the parts. Parsing stops at the line end that ends the header (the next
 * header starts there), or — for identity lists — at a ',' outside quotes and brackets.
 * The tag is the value of the last `tag` parameter; a quoted parameter value ends at
 * the next '"' (no escapes). A parameter needs a name; its value may be empty (`;tag=`), as
 * Kamailio accepts it. Blanks just inside the angle brackets are not part of the URI.
 *
 * The address scanner here is shared with the Contact parser (contact.ts).
 */
import { COLON, COMMA, CR, DQUOTE, EQUAL, GT, HT, LF, LT, SEMI, SP, TOKEN_CHAR, eatLwsEnd, lineEndAfter, lower, quotedStringEnd } from './bytes.js';

/**
 * Offsets of one address's parts. Also the mutable scratch state of one address, reused by the
 * contact list parser (@internal there).
 */
export interface AddrScan {
  uriStart: number;
  uriEnd: number;
  displayStart: number;
  displayEnd: number;
  /** Value of the last `tag` parameter; tagStart === tagEnd when absent or empty. */
  tagStart: number;
  tagEnd: number;
}

export interface NameAddr extends AddrScan {
  /** False when the body does not parse. */
  ok: boolean;
  /** Where parsing stopped: the next header (To in the header loop), a ',' (PAI lists), or end. */
  end: number;
}

/** @internal */
export function newAddrScan(): AddrScan {
  return { uriStart: 0, uriEnd: 0, displayStart: 0, displayEnd: 0, tagStart: 0, tagEnd: 0 };
}

/** True when p is at a line break followed by a space or tab (a folded line). */
function isFold(buf: Buffer, p: number, end: number): boolean {
  let q = p;
  if (buf[q] === CR) q++;
  if (q >= end || buf[q] !== LF) return false;
  const n = q + 1 < end ? buf[q + 1] : -1;
  return n === SP || n === HT;
}

/**
 * Parses one address — [display-name] <URI> or a bare URI — starting at `p` (LWS skipped by the
 * caller). Fills s.uri* and s.display*; returns the offset after it, or -1.
 * @internal
 */
export function scanAddress(buf: Buffer, p: number, end: number, commaStops: boolean, s: AddrScan): number {
  s.displayStart = s.displayEnd = p;
  if (p >= end) return -1;
  let c = buf[p] as number;
  if (c === DQUOTE) {
    const q = quotedStringEnd(buf, p, end, true);
    if (q < 0) return -1;
    s.displayEnd = q;
    p = eatLwsEnd(buf, q, end);
    if (p >= end || buf[p] !== LT) return -1;
  } else if (c !== LT) {
    // a token display name runs up to '<'; reaching a ':' first means this is a bare URI
    let q = p;
    let lastNonWs = p;
    while (q < end) {
      c = buf[q] as number;
      if (c === LT || c === COLON || c === DQUOTE || c === GT || c === SEMI || (commaStops && c === COMMA)) break;
      if (c === CR || c === LF) {
        if (!isFold(buf, q, end)) break;
        q = eatLwsEnd(buf, q, end);
        continue;
      }
      q++;
      if (c !== SP && c !== HT) lastNonWs = q;
    }
    if (q < end && buf[q] === LT) {
      s.displayEnd = lastNonWs;
      p = q;
    } else {
      // addr-spec: the URI ends at white space, ';' or (in lists) ','
      const us = p;
      while (p < end) {
        c = buf[p] as number;
        if (c === SP || c === HT || c === CR || c === LF || c === SEMI || (commaStops && c === COMMA)) break;
        if (c === LT || c === GT || c === DQUOTE) return -1;
        p++;
      }
      if (p === us) return -1;
      s.uriStart = us;
      s.uriEnd = p;
      return p;
    }
  }
  // p is at '<': the URI runs to the matching '>'; quotes inside must close first. Blanks just
  // inside the brackets (`< sip:bob@example.net >`) are not part of the URI, as Kamailio reads it.
  let us = p + 1;
  while (us < end && (buf[us] === SP || buf[us] === HT)) us++;
  let q = us;
  while (q < end) {
    c = buf[q] as number;
    if (c === GT) break;
    if (c === LT || c === CR || c === LF) return -1;
    if (c === DQUOTE) {
      q = quotedStringEnd(buf, q, end, false);
      if (q < 0) return -1;
      continue;
    }
    q++;
  }
  if (q >= end) return -1;
  let ue = q;
  while (ue > us && (buf[ue - 1] === SP || buf[ue - 1] === HT)) ue--;
  if (ue === us) return -1;
  s.uriStart = us;
  s.uriEnd = ue;
  return q + 1;
}

/**
 * Parameters `*( SEMI name [ EQUAL value ] )` from `p` (at ';' or LWS before it). Records the
 * last `tag` value in s.tag* when `s` is given. Returns the offset after the parameters and any
 * LWS, or -1.
 * @internal
 */
export function scanParams(buf: Buffer, p: number, end: number, commaStops: boolean, s: AddrScan | null): number {
  p = eatLwsEnd(buf, p, end);
  while (p < end && buf[p] === SEMI) {
    p = eatLwsEnd(buf, p + 1, end);
    const ns = p;
    while (p < end && TOKEN_CHAR[buf[p] as number] === 1) p++;
    const ne = p;
    if (ne === ns) return -1;
    p = eatLwsEnd(buf, p, end);
    let vs = p;
    let ve = p;
    if (p < end && buf[p] === EQUAL) {
      p = eatLwsEnd(buf, p + 1, end);
      if (p < end && buf[p] === DQUOTE) {
        const q = quotedStringEnd(buf, p, end, false);
        if (q < 0) return -1;
        vs = p + 1;
        ve = q - 1;
        p = q;
      } else {
        vs = p;
        while (p < end) {
          const c = buf[p] as number;
          if (c === SP || c === HT || c === CR || c === LF || c === SEMI || c === DQUOTE || (commaStops && c === COMMA)) break;
          p++;
        }
        // an empty value (`;tag=`) is kept as '' (Kamailio stores such messages)
        ve = p;
      }
      p = eatLwsEnd(buf, p, end);
    }
    if (
      s !== null &&
      ne - ns === 3 &&
      lower(buf[ns] as number) === 0x74 &&
      lower(buf[ns + 1] as number) === 0x61 &&
      lower(buf[ns + 2] as number) === 0x67
    ) {
      s.tagStart = vs;
      s.tagEnd = ve;
    }
  }
  return p;
}

function failed(end: number): NameAddr {
  return { ok: false, end, uriStart: 0, uriEnd: 0, displayStart: 0, displayEnd: 0, tagStart: 0, tagEnd: 0 };
}

/**
 * Parses a name-addr or addr-spec body in buf[start, end), with its parameters. `allowComma` is
 * set for the identity lists (parsing then stops at a ',' outside quotes and brackets).
 */
export function parseNameAddr(buf: Buffer, start: number, end: number, allowComma: boolean): NameAddr {
  if (end > buf.length) end = buf.length;
  if (start < 0 || start > end) return failed(end);
  const s = newAddrScan();
  let p = scanAddress(buf, eatLwsEnd(buf, start, end), end, allowComma, s);
  if (p < 0) return failed(end);
  s.tagStart = s.tagEnd = p;
  p = scanParams(buf, p, end, allowComma, s);
  if (p < 0) return failed(end);
  let stop: number;
  if (allowComma && p < end && buf[p] === COMMA) stop = p;
  else {
    stop = lineEndAfter(buf, p, end);
    if (stop < 0) return failed(end);
  }
  return {
    ok: true,
    end: stop,
    uriStart: s.uriStart,
    uriEnd: s.uriEnd,
    displayStart: s.displayStart,
    displayEnd: s.displayEnd,
    tagStart: s.tagStart,
    tagEnd: s.tagEnd,
  };
}
