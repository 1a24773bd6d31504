/**
 * De-duplication of captured SIP (config `dedup`, off by default): the same packet seen by
 * several capture agents, or sent twice by one agent, becomes one row.
 *
 * A packet is remembered for `dedup_window_ms` by a 53-bit key: two different 32-bit hashes
 * (CRC-32 and FNV-1a) of the SIP payload bytes, the payload length, source and destination
 * address and port, address family and transport — and, in mode `agent`, the capture id. The
 * timestamp is not in the key: copies from different agents carry different times. A copy whose
 * key is remembered is a duplicate (counted `duplicate` by the pipeline).
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
import { CRC32_TABLE } from '../route/crc32.js';

export type DedupMode = 'off' | 'agent' | 'all';
export const DEDUP_MODES: readonly DedupMode[] = ['off', 'agent', 'all'];

export interface DedupOptions {
  /** `agent`: only copies with the same capture id merge; `all`: copies from any agent merge. */
  mode: 'agent' | 'all';
  /** How long a packet is remembered, ms (from its first copy). */
  windowMs: number;
  /** Most packets remembered; the oldest is evicted beyond it. */
  maxEntries: number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** 2^21: the key is h1 (32 bits) · 2^21 + the top 21 bits of h2 = 53 bits, a safe integer. */
const HIGH = 2 ** 21;

// The two running hashes of keyOf(); module state, so hashing allocates nothing per packet.
let c = 0;
let f = 0;

function step(byte: number): void {
  c = (CRC32_TABLE[(c ^ byte) & 0xff] as number) ^ (c >>> 8);
  f = Math.imul(f ^ byte, FNV_PRIME);
}

function stepNum(n: number): void {
  const u = n >>> 0;
  step(u & 0xff);
  step((u >>> 8) & 0xff);
  step((u >>> 16) & 0xff);
  step(u >>> 24);
}

function stepStr(s: string): void {
  // Addresses are ASCII; a wider character still mixes in both of its bytes.
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    step(code & 0xff);
    if (code > 0xff) step(code >>> 8);
  }
}

/** The table for a configuration, or null when dedup is off. */
export function dedupFrom(cfg: { dedup: DedupMode; dedup_window_ms: number; dedup_max_entries: number }): DedupTable | null {
  if (cfg.dedup === 'off') return null;
  return new DedupTable({ mode: cfg.dedup, windowMs: cfg.dedup_window_ms, maxEntries: cfg.dedup_max_entries });
}

export class DedupTable {
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
    const now = msg.receivedAtUs / 1000;
    this.expire(now);
    const key = this.keyOf(msg);
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

  /** The 53-bit key of a message (the payload bytes, addresses, ports, …; see above). */
  keyOf(msg: CapturedMessage): number {
    const p = msg.payload;
    c = 0xffffffff;
    f = FNV_OFFSET;
    for (let i = 0; i < p.length; i++) step(p[i] as number);
    // Addresses, ports, family, transport, length (and capture id) go into both hashes.
    stepNum(p.length);
    stepNum(msg.srcPort);
    stepNum(msg.dstPort);
    stepNum(msg.family * 256 + msg.proto);
    stepNum(this.mode === 'agent' ? (msg.hepTime?.captureId ?? 0) : 0);
    stepStr(msg.srcIp);
    step(0x7c); // '|' between the addresses: "1.2.3.4" + "5.6.7.8" never reads as another pair
    stepStr(msg.dstIp);
    return ((c ^ 0xffffffff) >>> 0) * HIGH + ((f >>> 11) & (HIGH - 1));
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
