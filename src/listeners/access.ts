/**
 * Who may send: source allow-lists (CIDRs, IPv4 and IPv6) and HEP auth keys (chunk 0x000e).
 * The prefix matching itself is net/cidr.ts.
 */
import { timingSafeEqual } from 'node:crypto';
import { cidrMatches, ipBytes, parseCidr, type Cidr } from '../net/cidr.js';

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
    const ok = bytes !== null && this.cidrs.some((c) => cidrMatches(c, bytes));
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
