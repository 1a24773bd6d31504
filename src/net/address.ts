/**
 * IP address text ⇄ bytes. The text form must match what Kamailio stores in `source_ip` /
 * `destination_ip`, i.e. glibc `inet_ntop`: lowercase hex, the longest run of
 * two or more zero groups compressed (the first run on a tie), and dotted IPv4 for
 * `::ffff:a.b.c.d` and for `::a.b.c.d` when the first six groups are zero and the seventh is not.
 */

/** Dotted-decimal text of the 4 bytes at `offset`. */
export function ipv4ToText(buf: Uint8Array, offset: number): string {
  return `${buf[offset] ?? 0}.${buf[offset + 1] ?? 0}.${buf[offset + 2] ?? 0}.${buf[offset + 3] ?? 0}`;
}

const IPV6_GROUPS = 8;
/** Word index where glibc may switch to dotted IPv4 (the last 32 bits). */
const IPV4_TAIL_GROUP = 6;

/** glibc `inet_ntop(AF_INET6, …)` text of the 16 bytes at `offset`. */
export function ipv6ToText(buf: Uint8Array, offset: number): string {
  // Find the longest run of zero groups; strict `>` keeps the first run on a tie.
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < IPV6_GROUPS; i++) {
    const word = ((buf[offset + 2 * i] ?? 0) << 8) | (buf[offset + 2 * i + 1] ?? 0);
    if (word === 0) {
      if (curBase === -1) {
        curBase = i;
        curLen = 1;
      } else {
        curLen++;
      }
    } else if (curBase !== -1) {
      if (curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase !== -1 && curLen > bestLen) {
    bestBase = curBase;
    bestLen = curLen;
  }
  // A single zero group is never compressed.
  if (bestLen < 2) bestBase = -1;

  let out = '';
  for (let i = 0; i < IPV6_GROUPS; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    const hi = buf[offset + 2 * i] ?? 0;
    const lo = buf[offset + 2 * i + 1] ?? 0;
    if (
      i === IPV4_TAIL_GROUP &&
      bestBase === 0 &&
      (bestLen === 6 || (bestLen === 5 && isFfffAt(buf, offset)))
    ) {
      out += ipv4ToText(buf, offset + 12);
      break;
    }
    out += ((hi << 8) | lo).toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === IPV6_GROUPS) out += ':';
  return out;
}

/** True when group 5 (bytes 10–11) is 0xffff: the `::ffff:a.b.c.d` mapped form. */
function isFfffAt(buf: Uint8Array, offset: number): boolean {
  return buf[offset + 10] === 0xff && buf[offset + 11] === 0xff;
}

/** Address text for 4 or 16 bytes at `offset`, by family (2 = AF_INET, 10 = AF_INET6). */
export function ipToText(family: 2 | 10, buf: Uint8Array, offset: number): string {
  return family === 2 ? ipv4ToText(buf, offset) : ipv6ToText(buf, offset);
}

/**
 * Parses dotted IPv4 into `out[offset..offset+4)`. Returns false for anything that is not
 * exactly four decimal octets (no leading-zero octal, no shorthand forms).
 */
function parseIpv4Into(text: string, start: number, end: number, out: Uint8Array, offset: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : 0x2e; // a virtual '.' closes the last octet
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return false;
      out[offset + part] = value;
      part++;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return false; // leading zero
      value = value * 10 + (c - 0x30);
      digits++;
      if (value > 255) return false;
    } else {
      return false;
    }
  }
  return part === 4;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * Parses IPv6 text (RFC 4291 forms: `::`, embedded dotted IPv4; no zone id) into
 * `out[offset..offset+16)`. Returns false when the text is not a valid IPv6 address.
 */
function parseIpv6Into(text: string, out: Uint8Array, offset: number): boolean {
  const groups: number[] = [];
  let gapAt = -1;
  let i = 0;
  const n = text.length;
  if (n < 2) return false;
  if (text.startsWith('::')) {
    gapAt = 0;
    i = 2;
    if (i === n) {
      out.fill(0, offset, offset + 16);
      return true;
    }
  } else if (text.charCodeAt(0) === 0x3a) {
    return false;
  }
  while (i < n) {
    // One group: up to 4 hex digits, or dotted IPv4 as the final element.
    let j = i;
    let value = 0;
    while (j < n && j - i < 5) {
      const h = hexValue(text.charCodeAt(j));
      if (h < 0) break;
      value = (value << 4) | h;
      j++;
    }
    if (j < n && text.charCodeAt(j) === 0x2e) {
      if (groups.length > 6) return false;
      const tmp = new Uint8Array(4);
      if (!parseIpv4Into(text, i, n, tmp, 0)) return false;
      groups.push(((tmp[0] ?? 0) << 8) | (tmp[1] ?? 0), ((tmp[2] ?? 0) << 8) | (tmp[3] ?? 0));
      break;
    }
    const len = j - i;
    if (len === 0 || len > 4) return false;
    groups.push(value);
    if (j === n) break;
    if (text.charCodeAt(j) !== 0x3a) return false;
    if (j + 1 < n && text.charCodeAt(j + 1) === 0x3a) {
      if (gapAt !== -1) return false;
      gapAt = groups.length;
      i = j + 2;
    } else {
      if (j + 1 === n) return false; // trailing single ':'
      i = j + 1;
    }
  }
  if (gapAt === -1 ? groups.length !== IPV6_GROUPS : groups.length > IPV6_GROUPS - 1) return false;
  const fill = IPV6_GROUPS - groups.length;
  let g = 0;
  for (let k = 0; k < IPV6_GROUPS; k++) {
    let word = 0;
    if (gapAt === -1 || k < gapAt || k >= gapAt + fill) {
      word = groups[g] ?? 0;
      g++;
    }
    out[offset + 2 * k] = word >> 8;
    out[offset + 2 * k + 1] = word & 0xff;
  }
  return true;
}

/** 4 for IPv4 text, 16 for IPv6 text, 0 when the text is neither. */
export function ipByteLength(text: string): 0 | 4 | 16 {
  const scratch = new Uint8Array(16);
  if (parseIpv4Into(text, 0, text.length, scratch, 0)) return 4;
  if (parseIpv6Into(text, scratch, 0)) return 16;
  return 0;
}

/**
 * Writes the address bytes for `text` at `out[offset]` (no intermediate Buffer, for the
 * encoder). Returns the number of bytes written (4 or 16), or 0 when the text is invalid.
 */
export function writeIpBytes(text: string, out: Uint8Array, offset: number): 0 | 4 | 16 {
  if (text.indexOf(':') === -1) {
    return offset + 4 <= out.length && parseIpv4Into(text, 0, text.length, out, offset) ? 4 : 0;
  }
  return offset + 16 <= out.length && parseIpv6Into(text, out, offset) ? 16 : 0;
}

/** The 4 or 16 network-order bytes of an IPv4/IPv6 address text, or null when invalid. */
export function ipToBytes(text: string): Buffer | null {
  const out = Buffer.alloc(16);
  const written = writeIpBytes(text, out, 0);
  if (written === 0) return null;
  return written === 4 ? out.subarray(0, 4) : out;
}
