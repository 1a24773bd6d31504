/**
 * De-duplication of captured SIP (config `dedup`, off by default): the same packet seen by
 * several capture agents, or sent twice by one agent, becomes one row.
 *
 * A packet is remembered for `dedup_window_ms` by a 53-bit key: two different 32-bit hashes
 * (a MurmurHash3 and an xxHash32 round per 4 bytes, one pass) of the SIP payload bytes, the
 * payload length, source and destination address and port, address family and transport —
 * and, in mode `agent`, the capture id. The timestamp is not in the key: copies from different
 * agents carry different times. A copy whose key is remembered is a duplicate (counted
 * `duplicate` by the pipeline). See docs/storage.md ("Duplicates") for the collision odds.
 *
 * Keys live in a Map (key → first-seen time) plus a ring of (key, time) in arrival order, sized
 * `dedup_max_entries` once: expiry pops the ring head while it is older than the window; when
 * the ring is full the oldest entry is evicted (counted), so memory is bounded whatever the rate.
 * The window runs from the first copy: later copies do not extend it.
 *
 * Time is the message's receive time (`receivedAtUs`; for a pcap import, the capture time), so
 * no clock is read per packet.
 */
import type { CapturedMessage } from '../capture/message.js';

export type DedupMode = 'off' | 'agent' | 'all';

export interface DedupOptions {
  /** `agent`: only copies with the same capture id merge; `all`: copies from any agent merge. */
  mode: 'agent' | 'all';
  /** How long a packet is remembered, ms (from its first copy). */
  windowMs: number;
  /** Most packets remembered; the oldest is evicted beyond it. */
  maxEntries: number;
}

/** 2^21: the key is h1 (32 bits) · 2^21 + the top 21 bits of h2 = 53 bits, a safe integer. */
const HIGH = 2 ** 21;

const M1 = 0xcc9e2d51; // MurmurHash3 x86_32 constants
const M2 = 0x1b873593;
const P1 = 0x9e3779b1; // xxHash32 primes
const P2 = 0x85ebca77;
const SEED1 = 0x9747b28c;
const SEED2 = 0x3c6ef372;

/** Metadata words of the packet being hashed; reused, so hashing allocates nothing per packet. */
const META = new Int32Array(6 + 2 * 64);

/** MurmurHash3's finaliser: every input bit reaches every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Appends an address's characters to META from `at`; returns the next free index. */
function putChars(s: string, at: number): number {
  // Addresses are at most 45 characters (IPv6 with an IPv4 tail); cut defensively at 64.
  const n = Math.min(s.length, 64);
  for (let i = 0; i < n; i++) META[at++] = s.charCodeAt(i);
  return at;
}

/** The table for a configuration, or null when dedup is off. */
export function dedupFrom(cfg: { dedup: DedupMode; dedup_window_ms: number; dedup_max_entries: number }): DedupTable | null {
  if (cfg.dedup === 'off') return null;
  return new DedupTable({ mode: cfg.dedup, windowMs: cfg.dedup_window_ms, maxEntries: cfg.dedup_max_entries });
}

/** What the pipeline asks of a dedup table (a pipeline thread gives one that only records the key). */
export interface DuplicateCheck {
  readonly mode: 'agent' | 'all';
  readonly windowMs: number;
  isDuplicate(msg: CapturedMessage): boolean;
}

export class DedupTable implements DuplicateCheck {
  readonly mode: 'agent' | 'all';
  readonly windowMs: number;
  readonly maxEntries: number;
  private readonly firstSeen = new Map<number, number>();
  private readonly ringKeys: Float64Array;
  private readonly ringTimes: Float64Array;
  private head = 0;
  private count = 0;
  private evictedCount = 0;
  private duplicateCount = 0;

  constructor(opts: DedupOptions) {
    this.mode = opts.mode;
    this.windowMs = opts.windowMs;
    this.maxEntries = Math.max(1, Math.floor(opts.maxEntries));
    this.ringKeys = new Float64Array(this.maxEntries);
    this.ringTimes = new Float64Array(this.maxEntries);
  }

  /** Packets remembered right now. */
  get size(): number {
    return this.count;
  }

  /** Entries dropped before their window ended because the table was full. */
  get evicted(): number {
    return this.evictedCount;
  }

  /** Copies recognised so far. */
  get duplicates(): number {
    return this.duplicateCount;
  }

  /**
   * True when `msg` is a copy of a packet remembered within the window (the caller drops it);
   * otherwise the packet is remembered and false is returned.
   */
  isDuplicate(msg: CapturedMessage): boolean {
    return this.isDuplicateKey(this.keyOf(msg), msg.receivedAtUs / 1000);
  }

  /**
   * isDuplicate() for a key made elsewhere (`keyOf` in a pipeline thread): one table in the main
   * thread sees the copies that different threads parsed. `now`: the packet's receive time, ms.
   */
  isDuplicateKey(key: number, now: number): boolean {
    this.expire(now);
    const seen = this.firstSeen.get(key);
    // `now - seen` may be negative after a wall-clock step back: still within the window.
    if (seen !== undefined && now - seen <= this.windowMs) {
      this.duplicateCount++;
      return true;
    }
    this.remember(key, now);
    return false;
  }

  /** Forgets everything (tests, reconfiguration). */
  clear(): void {
    this.firstSeen.clear();
    this.head = 0;
    this.count = 0;
  }

  /**
   * The 53-bit key of a message (the payload bytes, addresses, ports, …; see above). Each 32-bit
   * word goes through a MurmurHash3 round (a) and an xxHash32 round (b), all on locals: module
   * variables or closures would live in a context slot and make the loop several times slower.
   */
  keyOf(msg: CapturedMessage): number {
    const p = msg.payload;
    const n = p.length;
    let a = SEED1;
    let b = SEED2;
    // Four bytes per round (the payload is rarely 4-byte aligned, so no typed-array view).
    const whole = n & ~3;
    for (let i = 0; i < whole; i += 4) {
      const k = (p[i] as number) | ((p[i + 1] as number) << 8) | ((p[i + 2] as number) << 16) | ((p[i + 3] as number) << 24);
      let m = Math.imul(k, M1);
      m = (m << 15) | (m >>> 17);
      a ^= Math.imul(m, M2);
      a = (a << 13) | (a >>> 19);
      a = (Math.imul(a, 5) + 0xe6546b64) | 0;
      let x = (b + Math.imul(k, P2)) | 0;
      x = (x << 13) | (x >>> 19);
      b = Math.imul(x, P1);
    }
    // The last 0–3 bytes, then the metadata, as words of META, through the same rounds.
    let tail = 0;
    for (let j = whole; j < n; j++) tail |= (p[j] as number) << (8 * (j - whole));
    // Length, ports, family, transport, capture id (agent mode) and both addresses.
    META[0] = tail;
    META[1] = n;
    META[2] = msg.srcPort * 65536 + msg.dstPort;
    META[3] = msg.family * 256 + msg.proto;
    META[4] = this.mode === 'agent' ? (msg.hepTime?.captureId ?? 0) : 0;
    let end = putChars(msg.srcIp, 5);
    META[end++] = 0x7c; // a separator: "1.2.3.4" + "5.6.7.8" never reads as another pair
    end = putChars(msg.dstIp, end);
    for (let i = 0; i < end; i++) {
      const k = META[i] as number;
      let m = Math.imul(k, M1);
      m = (m << 15) | (m >>> 17);
      a ^= Math.imul(m, M2);
      a = (a << 13) | (a >>> 19);
      a = (Math.imul(a, 5) + 0xe6546b64) | 0;
      let x = (b + Math.imul(k, P2)) | 0;
      x = (x << 13) | (x >>> 19);
      b = Math.imul(x, P1);
    }
    return fmix(a) * HIGH + (fmix(b) >>> 11);
  }

  private remember(key: number, now: number): void {
    if (this.count === this.maxEntries) {
      this.popHead();
      this.evictedCount++;
    }
    const tail = (this.head + this.count) % this.maxEntries;
    this.ringKeys[tail] = key;
    this.ringTimes[tail] = now;
    this.count++;
    this.firstSeen.set(key, now);
  }

  private expire(now: number): void {
    const oldest = now - this.windowMs;
    while (this.count > 0 && (this.ringTimes[this.head] as number) < oldest) this.popHead();
  }

  private popHead(): void {
    const key = this.ringKeys[this.head] as number;
    // A key seen again after its window was remembered anew: only the latest entry owns it.
    if (this.firstSeen.get(key) === this.ringTimes[this.head]) this.firstSeen.delete(key);
    this.head = (this.head + 1) % this.maxEntries;
    this.count--;
  }
}
