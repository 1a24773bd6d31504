/**
 * Who may send: source allow-lists (CIDRs, IPv4 and IPv6) and HEP auth keys (chunk 0x000e).
 *
 * Addresses are compared as 16 bytes: IPv4 as its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so an
 * IPv4 rule also matches a client that a dual-stack socket reports as `::ffff:10.1.2.3`, and
 * the same code serves both families. No dependency: a prefix match on bytes is a few lines.
 */
import { timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import { writeIpBytes } from '../net/address.js';

/** One allow-list entry: the first `bits` bits of `bytes` (16 bytes, IPv4 mapped). */
interface Cidr {
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

function matches(c: Cidr, a: Uint8Array): boolean {
  const full = c.bits >> 3;
  for (let i = 0; i < full; i++) if (c.bytes[i] !== a[i]) return false;
  const rem = c.bits & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return ((c.bytes[full]! ^ a[full]!) & mask) === 0;
}

/** A source allow-list. Built from entries already validated by the config loader. */
export class SourceFilter {
  private readonly cidrs: Cidr[];
  /** Recent decisions: UDP checks every datagram, and agents are few. Bounded, cleared when full. */
  private readonly cache = new Map<string, boolean>();

  constructor(readonly entries: readonly string[]) {
    this.cidrs = entries.map((e) => {
      const c = parseCidr(e);
      if (typeof c === 'string') throw new Error(`allow_sources: "${e}" ${c}`);
      return c;
    });
  }

  /** True when `address` (as a socket reports it, IPv4-mapped forms included) is allowed. */
  allows(address: string | undefined): boolean {
    if (address === undefined) return false;
    const hit = this.cache.get(address);
    if (hit !== undefined) return hit;
    const bytes = ipBytes(address);
    const ok = bytes !== null && this.cidrs.some((c) => matches(c, bytes));
    if (this.cache.size >= 4096) this.cache.clear();
    this.cache.set(address, ok);
    return ok;
  }
}

/** The allow-list of `entries`, or null when it is empty (everyone may send). */
export function sourceFilter(entries: readonly string[]): SourceFilter | null {
  return entries.length === 0 ? null : new SourceFilter(entries);
}

/** Why a packet failed the auth-key check. */
export type AuthFailure = 'missing' | 'wrong';

/**
 * The accepted HEP auth keys of a listener. Every accepted key is compared, with
 * timingSafeEqual over the accepted key's own length whether or not the lengths match, and
 * without stopping at a match, so the time taken tells nothing about how much of a key (or its
 * length) was right. (No hashing: ~0.1 µs per key instead of ~1.5 µs for a SHA-256 per packet.)
 */
export class AuthKeys {
  private readonly keys: Buffer[];

  constructor(keys: readonly string[]) {
    this.keys = keys.map((k) => Buffer.from(k, 'utf8'));
  }

  /** null when `key` is accepted, else why not. Trailing NUL bytes (C agents) are ignored. */
  check(key: string | null): AuthFailure | null {
    if (key === null) return 'missing';
    const raw = Buffer.from(key, 'utf8');
    let n = raw.length;
    while (n > 0 && raw[n - 1] === 0) n--;
    const given = raw.subarray(0, n);
    let ok = false;
    for (const accepted of this.keys) {
      const sameLength = given.length === accepted.length;
      const equal = timingSafeEqual(sameLength ? given : accepted, accepted);
      ok = (sameLength && equal) || ok;
    }
    return ok ? null : 'wrong';
  }
}

/** The auth keys of `keys`, or null when the list is empty (not enforced). */
export function authKeys(keys: readonly string[]): AuthKeys | null {
  return keys.length === 0 ? null : new AuthKeys(keys);
}
