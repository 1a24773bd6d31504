/**
 * Contact header body (clean-room implementation, see parser.ts).
 *
 * Grammar: RFC 3261 §20.10 / §25.1 —
 *   Contact = ( STAR / (contact-param *(COMMA contact-param)) )
 *   contact-param = (name-addr / addr-spec) *(SEMI contact-params)
 * Commas inside quoted strings and angle brackets do not separate contacts; an empty element
 * (a trailing ',') is an error, and so is an unterminated quote or bracket.
 * sipcapture uses the LAST contact of the first Contact header field (Kamailio's
 * contact list comes out in reverse order); `*` is reported as a star contact.
 */
import { COMMA, STAR, eatLwsEnd, lineEndAfter } from './bytes.js';
import { newAddrScan, scanAddress, scanParams } from './name-addr.js';

export interface ContactResult {
  /** False when the body does not parse (the row is dropped unless capture_bad_msgs). */
  ok: boolean;
  star: boolean;
  /** URI of the contact sipcapture uses (the last one); empty range for a star contact. */
  uriStart: number;
  uriEnd: number;
}


function bad(): ContactResult {
  return { ok: false, star: false, uriStart: 0, uriEnd: 0 };
}

/** Parses the (trimmed) Contact header body buf[start, end). Never throws. */
export function parseContactBody(buf: Buffer, start: number, end: number): ContactResult {
  if (end > buf.length) end = buf.length;
  if (start < 0 || start > end) return bad();
  let p = eatLwsEnd(buf, start, end);
  if (p < end && buf[p] === STAR && lineEndAfter(buf, eatLwsEnd(buf, p + 1, end), end) >= 0) {
    return { ok: true, star: true, uriStart: p, uriEnd: p };
  }
  const s = newAddrScan();
  for (;;) {
    p = scanAddress(buf, p, end, true, s);
    if (p < 0) return bad();
    p = scanParams(buf, p, end, true, null);
    if (p < 0) return bad();
    if (p < end && buf[p] === COMMA) {
      p = eatLwsEnd(buf, p + 1, end);
      continue;
    }
    if (lineEndAfter(buf, p, end) < 0) return bad();
    return { ok: true, star: false, uriStart: s.uriStart, uriEnd: s.uriEnd };
  }
}
