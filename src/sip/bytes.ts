/**
 * Byte-level building blocks for the SIP parsers (clean-room implementation, see parser.ts).
 *
 * All parsers work on a Buffer plus offsets: `start` inclusive, `end` exclusive. Nothing here
 * allocates or decodes except `text()`. The RFC 3261 token table, quoted strings and header
 * line ends are shared here by the header parsers. Whitespace and trimming follow the header-body rules of
 * Kamailio's parser (a body loses trailing CR, LF and NUL only) and RFC 3261 §7.3.1 (LWS = spaces and
 * tabs, optionally preceded by a line break when the next line starts with a space or tab).
 */

export const CR = 13;
export const LF = 10;
export const SP = 32;
export const HT = 9;
export const NUL = 0;
export const COLON = 58;
export const SEMI = 59;
export const COMMA = 44;
export const EQUAL = 61;
export const DQUOTE = 34;
export const LT = 60;
export const GT = 62;
export const AT = 64;
export const BACKSLASH = 92;
export const SLASH = 47;
export const LPAREN = 40;
export const RPAREN = 41;
export const LBRACKET = 91;
export const RBRACKET = 93;
export const QMARK = 63;
export const DOT = 46;
export const DASH = 45;
export const STAR = 42;

/** RFC 3261 token characters (§25.1): alphanumerics and `-.!%*_+\`'~`. */
export const TOKEN_CHAR = new Uint8Array(256);
for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~") {
  TOKEN_CHAR[ch.charCodeAt(0)] = 1;
}

/** ASCII-only lower-casing; every other byte is returned unchanged. */
export function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/** ASCII letter or digit (bytes ≥ 0x80 never count). */
export function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Skips linear white space: spaces, tabs, and line breaks (LF or CRLF) that are followed by a
 * space or tab (a folded line). A line break that ends the header is not skipped.
 */
export function eatLwsEnd(buf: Buffer, p: number, end: number): number {
  while (p < end) {
    const c = buf[p] as number;
    if (c === SP || c === HT) {
      p++;
      continue;
    }
    let q = p;
    if (c === CR) q++;
    if (q < end && buf[q] === LF) {
      const n = q + 1 < end ? (buf[q + 1] as number) : -1;
      if (n === SP || n === HT) {
        p = q + 2;
        continue;
      }
    }
    break;
  }
  return p;
}

/**
 * When `p` is at the line break that ends a header (LF or CRLF), or at `end`, the offset after
 * it; otherwise -1. A CR that is the last byte of the range also counts as a line end.
 */
export function lineEndAfter(buf: Buffer, p: number, end: number): number {
  if (p >= end) return end;
  const c = buf[p];
  if (c === LF) return p + 1;
  if (c === CR) {
    if (p + 1 >= end) return end;
    if (buf[p + 1] === LF) return p + 2;
  }
  return -1;
}

/**
 * Quoted string starting at `p` (the opening quote). With `escapes`, a backslash protects the
 * next byte (RFC 3261 quoted-pair). Returns the offset after the closing quote, or -1.
 */
export function quotedStringEnd(buf: Buffer, p: number, end: number, escapes: boolean): number {
  let q = p + 1;
  while (q < end) {
    const c = buf[q];
    if (c === DQUOTE) return q + 1;
    q += escapes && c === BACKSLASH ? 2 : 1;
  }
  return -1;
}

/** New end of [start, end) after dropping trailing CR, LF and NUL bytes (blanks are kept). */
export function trimCrLfNulEnd(buf: Buffer, start: number, end: number): number {
  while (end > start) {
    const c = buf[end - 1] as number;
    if (c !== CR && c !== LF && c !== NUL) break;
    end--;
  }
  return end;
}

/** Offset of the first byte `c` in [p, end), or -1. */
export function memchr(buf: Buffer, c: number, p: number, end: number): number {
  if (end > buf.length) end = buf.length;
  for (; p < end; p++) if (buf[p] === c) return p;
  return -1;
}

/** Node's Buffer method behind toString('utf8', …), without its argument normalisation. */
interface Utf8Slicer {
  utf8Slice(start: number, end: number): string;
}

/** [start, end) decoded as UTF-8 ('' for an empty or inverted range). */
export function text(buf: Buffer, start: number, end: number): string {
  if (start < 0) start = 0;
  if (end > buf.length) end = buf.length;
  // ~25 values per row: the direct call skips toString()'s checks (the range is clamped above).
  return end > start ? (buf as unknown as Utf8Slicer).utf8Slice(start, end) : '';
}

/**
 * True when buf[start, start + name.length) equals the ASCII string `name`, ignoring ASCII case.
 * The caller makes sure the range is long enough.
 */
export function equalsIgnoreCase(buf: Buffer, start: number, name: string): boolean {
  const n = name.length;
  if (start < 0 || start + n > buf.length) return false;
  for (let i = 0; i < n; i++) {
    if (lower(buf[start + i] as number) !== lower(name.charCodeAt(i))) return false;
  }
  return true;
}
