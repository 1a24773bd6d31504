/**
 * IP prefixes (CIDR) for allow-lists, IPv4 and IPv6 alike.
 *
 * Addresses are compared as 16 bytes: IPv4 as its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so an
 * IPv4 rule also matches a client that a dual-stack socket reports as `::ffff:10.1.2.3`, and
 * the same code serves both families. No dependency: a prefix match on bytes is a few lines.
 */
import net from 'node:net';
import { writeIpBytes } from './address.js';

/** One allow-list entry: the first `bits` bits of `bytes` (16 bytes, IPv4 mapped). */
export interface Cidr {
  bytes: Uint8Array;
  bits: number;
}

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** The 16-byte form of an IP literal (IPv4 mapped), or null if `text` is not one. */
export function ipBytes(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  if (net.isIPv4(text)) {
    if (writeIpBytes(text, out, 12) !== 4) return null;
    out.set(V4_MAPPED_PREFIX, 0);
    return out;
  }
  if (!net.isIPv6(text)) return null;
  // A zone id (fe80::1%eth0) names the interface, not the address.
  const zone = text.indexOf('%');
  return writeIpBytes(zone >= 0 ? text.slice(0, zone) : text, out, 0) === 16 ? out : null;
}

/** Parses `IP` or `IP/BITS` (IPv4 or IPv6); a string result is the reason it is invalid. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const ip = slash < 0 ? text : text.slice(0, slash);
  const v4 = net.isIPv4(ip);
  if (!v4 && !net.isIPv6(ip)) return `"${ip}" is not an IP address (IPv4 or IPv6 literal; hostnames are not resolved)`;
  if (ip.includes('%')) return `"${ip}" has a zone index (%…), which an allow-list cannot match`;
  const max = v4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(b) || Number(b) > max) return `prefix length "/${b}" is not allowed (allowed /0../${max} for IPv${v4 ? 4 : 6})`;
    bits = Number(b);
  }
  const bytes = ipBytes(ip);
  if (bytes === null) return `"${ip}" is not an IP address`;
  const total = v4 ? bits + 96 : bits;
  // Host bits set (10.1.2.3/8) are almost always a typo for the network; refuse rather than guess.
  for (let i = total; i < 128; i++) {
    if ((bytes[i >> 3]! >> (7 - (i & 7))) & 1) {
      return `has host bits set after /${bits} (did you mean ${networkText(bytes, total, v4)}/${bits}?)`;
    }
  }
  return { bytes, bits: total };
}

function networkText(bytes: Uint8Array, bits: number, v4: boolean): string {
  const b = Uint8Array.from(bytes);
  for (let i = bits; i < 128; i++) b[i >> 3] = b[i >> 3]! & ~(1 << (7 - (i & 7)));
  if (v4) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}

export function cidrMatches(c: Cidr, a: Uint8Array): boolean {
  const full = c.bits >> 3;
  for (let i = 0; i < full; i++) if (c.bytes[i] !== a[i]) return false;
  const rem = c.bits & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return ((c.bytes[full]! ^ a[full]!) & mask) === 0;
}

