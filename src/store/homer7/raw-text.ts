/**
 * The payload as text for HOMER 7's `raw varchar` column, the way heplify-server makes it: every
 * NUL byte and every byte that does not start a valid UTF-8 sequence (stray continuation bytes,
 * overlong forms, surrogates, code points above U+10FFFF, truncated sequences) is removed, one
 * byte at a time, with nothing put in its place. Valid text — by far the common case — is
 * returned as it is, without a copy.
 */
import { isUtf8 } from 'node:buffer';

export function utf8TextBytes(buf: Buffer): Buffer {
  if (buf.indexOf(0) === -1 && isUtf8(buf)) return buf;
  const out = Buffer.allocUnsafe(buf.length);
  let n = 0;
  let i = 0;
  while (i < buf.length) {
    const c = buf[i]!;
    if (c === 0) {
      i++;
      continue;
    }
    if (c < 0x80) {
      out[n++] = c;
      i++;
      continue;
    }
    const w = validSequenceLength(buf, i);
    if (w === 0) {
      i++;
      continue;
    }
    buf.copy(out, n, i, i + w);
    n += w;
    i += w;
  }
  return out.subarray(0, n);
}

function cont(buf: Buffer, i: number, lo = 0x80, hi = 0xbf): boolean {
  const b = buf[i];
  return b !== undefined && b >= lo && b <= hi;
}

/** Length of the valid UTF-8 sequence starting at `i` (lead byte ≥ 0x80), or 0 (RFC 3629 table 3-7). */
function validSequenceLength(buf: Buffer, i: number): number {
  const c = buf[i]!;
  if (c >= 0xc2 && c <= 0xdf) return cont(buf, i + 1) ? 2 : 0;
  if (c === 0xe0) return cont(buf, i + 1, 0xa0) && cont(buf, i + 2) ? 3 : 0;
  if (c === 0xed) return cont(buf, i + 1, 0x80, 0x9f) && cont(buf, i + 2) ? 3 : 0;
  if (c >= 0xe1 && c <= 0xef) return cont(buf, i + 1) && cont(buf, i + 2) ? 3 : 0;
  if (c === 0xf0) return cont(buf, i + 1, 0x90) && cont(buf, i + 2) && cont(buf, i + 3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(buf, i + 1) && cont(buf, i + 2) && cont(buf, i + 3) ? 4 : 0;
  if (c === 0xf4) return cont(buf, i + 1, 0x80, 0x8f) && cont(buf, i + 2) && cont(buf, i + 3) ? 4 : 0;
  return 0;
}
