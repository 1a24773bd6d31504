/**
 * Cheap "is this SIP?" tests for raw capture, and Content-Length framing for SIP over TCP.
 *
 * Kamailio's raw loop only asks for ≥ 32 bytes and an alphanumeric first byte, then
 * lets the core's first-line parser reject the rest (such messages are never
 * stored). We check the start line itself: a request line ending in `SIP/2.0` or a status line
 * `SIP/2.0 NNN`. Everything this rejects, Kamailio's core rejects too (HEP, RTP, STUN, DNS and
 * HTTP never become rows), so rows are the same, but the daemon does not parse garbage and the
 * TCP framer can find message starts after a gap.
 */

import { CR, LF, SP, TOKEN_CHAR } from '../sip/bytes.js';

/** Kamailio's MIN_UDP_PACKET. A SIP message with the five required headers is always longer. */
export const MIN_SIP_LENGTH = 32;

/** Longest start line we look at; longer lines are not treated as SIP. */
export const MAX_START_LINE = 8192;

export const SipCheck = { NOT_SIP: 0, SIP: 1, NEED_MORE: 2 } as const;
export type SipCheckValue = (typeof SipCheck)[keyof typeof SipCheck];


/** Case-insensitive `SIP/2.0` at `at`. */
function isSipVersion(buf: Uint8Array, at: number): boolean {
  return (
    ((buf[at] ?? 0) | 0x20) === 0x73 && // s
    ((buf[at + 1] ?? 0) | 0x20) === 0x69 && // i
    ((buf[at + 2] ?? 0) | 0x20) === 0x70 && // p
    buf[at + 3] === 0x2f && // /
    buf[at + 4] === 0x32 && // 2
    buf[at + 5] === 0x2e && // .
    buf[at + 6] === 0x30 // 0
  );
}

const STATUS_PREFIX = 'sip/2.0 ';

/** True when the (short) bytes [start, end) could still become "SIP/2.0 ". */
function isPrefixOfStatus(buf: Uint8Array, start: number, end: number): boolean {
  for (let k = 0; start + k < end; k++) {
    const c = buf[start + k] ?? 0;
    const want = STATUS_PREFIX.charCodeAt(k);
    if ((want >= 0x61 ? c | 0x20 : c) !== want) return false;
  }
  return true;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/**
 * Looks at the start line beginning at `start` (bytes up to `end`). NEED_MORE means the line is
 * not complete yet (only meaningful for streams).
 */
export function checkSipStartLine(buf: Uint8Array, start: number, end: number): SipCheckValue {
  const avail = end - start;
  if (avail <= 0) return SipCheck.NEED_MORE;
  // Status line: "SIP/2.0 NNN".
  if (avail < 8 && isPrefixOfStatus(buf, start, end)) return SipCheck.NEED_MORE;
  if (avail >= 8 && isSipVersion(buf, start) && buf[start + 7] === SP) {
    if (avail < 11) return SipCheck.NEED_MORE;
    return isDigit(buf[start + 8]) && isDigit(buf[start + 9]) && isDigit(buf[start + 10]) ? SipCheck.SIP : SipCheck.NOT_SIP;
  }
  // Request line: token SP uri SP "SIP/2.0" (CR)LF.
  let i = start;
  const limit = Math.min(end, start + MAX_START_LINE);
  while (i < limit && TOKEN_CHAR[buf[i] ?? 0] === 1) i++;
  if (i === limit) return limit === end && avail < MAX_START_LINE ? SipCheck.NEED_MORE : SipCheck.NOT_SIP;
  if (i === start || buf[i] !== SP) {
    // A status line that is still too short to tell ("SIP/2" …) needs more bytes.
    if (i === end) return SipCheck.NEED_MORE;
    return SipCheck.NOT_SIP;
  }
  // Find the line end.
  let eol = i + 1;
  while (eol < limit && buf[eol] !== LF && buf[eol] !== CR) eol++;
  if (eol === limit) return limit === end && avail < MAX_START_LINE ? SipCheck.NEED_MORE : SipCheck.NOT_SIP;
  // The line must end with " SIP/2.0" and have a non-empty URI in between.
  const ver = eol - 7;
  if (ver - 1 <= i + 1 || buf[ver - 1] !== SP || !isSipVersion(buf, ver)) return SipCheck.NOT_SIP;
  return SipCheck.SIP;
}

/** The datagram test: Kamailio's minimum length plus a real start line. */
export function looksLikeSip(buf: Uint8Array, start: number, end: number): boolean {
  return end - start >= MIN_SIP_LENGTH && checkSipStartLine(buf, start, end) === SipCheck.SIP;
}

/**
 * End of the header block (index just past the empty line) searching from `start`, or -1.
 * Accepts CRLF CRLF and bare LF LF (seen in real traffic).
 */
export function findHeaderEnd(buf: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    if (buf[i] !== LF) continue;
    const next = buf[i + 1];
    if (next === LF) return i + 2;
    if (next === CR && buf[i + 2] === LF) return i + 3;
  }
  return -1;
}

/**
 * Content-Length of the header block [start, headerEnd): `Content-Length` or compact `l`,
 * case-insensitive. Returns 0 when absent (RFC 3261 §18.3: required on streams; a missing one
 * is read as an empty body, like Kamailio's TCP reader), -1 when present but not a number.
 */
export function contentLength(buf: Uint8Array, start: number, headerEnd: number): number {
  let line = start;
  // Skip the start line.
  while (line < headerEnd && buf[line] !== LF) line++;
  line++;
  while (line < headerEnd) {
    let nameEnd = line;
    while (nameEnd < headerEnd && TOKEN_CHAR[buf[nameEnd] ?? 0] === 1) nameEnd++;
    const nameLen = nameEnd - line;
    if (isContentLengthName(buf, line, nameLen)) {
      let p = nameEnd;
      while (p < headerEnd && (buf[p] === SP || buf[p] === 0x09)) p++;
      if (buf[p] === 0x3a) {
        p++;
        while (p < headerEnd && (buf[p] === SP || buf[p] === 0x09)) p++;
        let value = 0;
        let digits = 0;
        while (p < headerEnd && isDigit(buf[p])) {
          value = value * 10 + ((buf[p] ?? 0x30) - 0x30);
          digits++;
          p++;
          if (value > 0x7fffffff) return -1;
        }
        return digits === 0 ? -1 : value;
      }
    }
    while (line < headerEnd && buf[line] !== LF) line++;
    line++;
  }
  return 0;
}

const CONTENT_LENGTH = 'content-length';

function isContentLengthName(buf: Uint8Array, at: number, len: number): boolean {
  if (len === 1) return ((buf[at] ?? 0) | 0x20) === 0x6c; // compact form "l"
  if (len !== CONTENT_LENGTH.length) return false;
  for (let k = 0; k < len; k++) {
    if (((buf[at + k] ?? 0) | 0x20) !== CONTENT_LENGTH.charCodeAt(k)) return false;
  }
  return true;
}
