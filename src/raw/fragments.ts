/**
 * IPv4 and IPv6 fragment reassembly with bounded memory.
 *
 * - Keyed by the caller (IPv4: src, dst, protocol, id; IPv6: src, dst, id).
 * - Fragments may arrive in any order. Exact or byte-identical overlaps (duplicated capture,
 *   re-fragmentation) are merged; an overlap with different bytes discards the datagram, as
 *   Linux does (RFC 5722), because we cannot know which copy the receiver used. Later fragments
 *   of a discarded datagram are dropped until its timeout.
 * - A datagram that is not complete `timeoutMs` after its first fragment is dropped (Linux
 *   ipfrag_time is 30 s). Above `maxDatagrams` pending datagrams or `maxBytes` held bytes the
 *   oldest are evicted.
 * Time is whatever the caller passes (packet time for pcap files, wall time live), so tests and
 * imports are deterministic.
 */

export interface FragmentLimits {
  /** Pending datagrams at most. */
  maxDatagrams: number;
  /** Bytes held in all pending fragments at most. */
  maxBytes: number;
  /** A datagram must complete within this time of its first fragment. */
  timeoutMs: number;
}

export const DEFAULT_FRAGMENT_LIMITS: FragmentLimits = {
  maxDatagrams: 4096,
  maxBytes: 32 * 1024 * 1024,
  timeoutMs: 30_000,
};

/** Largest reassembled payload: the 16-bit IP length and 13-bit × 8 fragment offset. */
export const MAX_REASSEMBLED = 65535;

export type FragmentDropKind = 'frag_timeout' | 'frag_evicted' | 'frag_overlap' | 'frag_malformed' | 'frag_discarded';

export interface FragmentCounters {
  /** Fragments accepted into a pending datagram. */
  fragments: number;
  /** Datagrams completed. */
  reassembled: number;
  /** Fragments whose bytes were all already present with the same content. */
  duplicates: number;
  /** Partial overlaps with identical bytes (merged). */
  overlapsMerged: number;
}

interface Part {
  start: number;
  end: number;
  data: Buffer;
}

interface Pending {
  firstMs: number;
  /** Payload length once the last fragment (MF = 0) was seen, else -1. */
  total: number;
  parts: Part[];
  covered: number;
  /** Fragments received for this datagram (for drop counts). */
  count: number;
  /** Upper-layer protocol, from the first fragment (IPv6 next header of offset 0), or -1. */
  proto: number;
  /** Set after an overlap conflict: swallow the rest until the timeout. */
  discarded: boolean;
}

export type FragmentDrop = (kind: FragmentDropKind, detail: string, count: number) => void;

export interface Reassembled {
  payload: Buffer;
  proto: number;
}

export class FragmentReassembler {
  readonly counters: FragmentCounters = { fragments: 0, reassembled: 0, duplicates: 0, overlapsMerged: 0 };
  private readonly pending = new Map<string, Pending>();
  private heldBytes = 0;
  private readonly limits: FragmentLimits;

  constructor(
    limits: Partial<FragmentLimits>,
    private readonly onDrop: FragmentDrop,
  ) {
    this.limits = { ...DEFAULT_FRAGMENT_LIMITS, ...limits };
  }

  /** Datagrams waiting for more fragments. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Bytes held in pending fragments. */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  /**
   * Adds the fragment `data[start, end)` at payload offset `offset` (bytes). `more` is the MF
   * flag; `proto` the upper protocol when this fragment knows it (IPv4: always; IPv6: the first
   * fragment), else -1. Returns the whole payload when this fragment completed the datagram.
   */
  add(
    key: string,
    data: Uint8Array,
    start: number,
    end: number,
    offset: number,
    more: boolean,
    proto: number,
    nowMs: number,
  ): Reassembled | null {
    this.expire(nowMs);
    const len = end - start;
    const fragEnd = offset + len;
    let entry = this.pending.get(key);
    if (entry?.discarded === true) {
      entry.count++;
      this.onDrop('frag_discarded', 'fragment of a discarded datagram', 1);
      return null;
    }
    // Non-last fragments carry multiples of 8 bytes; a datagram is at most 64 KiB.
    if (fragEnd > MAX_REASSEMBLED || (more && len % 8 !== 0) || (more && len === 0)) {
      this.onDrop('frag_malformed', `bad fragment (offset ${offset}, length ${len}, more ${more})`, 1);
      if (entry !== undefined) this.discard(key, entry, 'frag_malformed', 'datagram with a bad fragment');
      return null;
    }
    if (entry === undefined) {
      entry = { firstMs: nowMs, total: -1, parts: [], covered: 0, count: 0, proto: -1, discarded: false };
      this.pending.set(key, entry);
    }
    entry.count++;
    this.counters.fragments++;
    if (proto >= 0 && entry.proto < 0) entry.proto = proto;
    if (!more) {
      if ((entry.total >= 0 && entry.total !== fragEnd) || lastEnd(entry) > fragEnd) {
        this.discard(key, entry, 'frag_malformed', 'two different datagram ends');
        return null;
      }
      entry.total = fragEnd;
    } else if (entry.total >= 0 && fragEnd > entry.total) {
      this.discard(key, entry, 'frag_malformed', 'fragment beyond the datagram end');
      return null;
    }
    if (!this.insert(key, entry, data, start, offset, fragEnd)) return null;
    if (entry.total >= 0 && entry.covered === entry.total && entry.proto >= 0) {
      this.remove(key, entry);
      this.counters.reassembled++;
      return { payload: assemble(entry), proto: entry.proto };
    }
    this.enforceBounds(key);
    return null;
  }

  /** Drops datagrams older than the timeout; call now and then when traffic is idle. */
  expire(nowMs: number): void {
    // Map order is insertion order, i.e. by first-fragment time (modulo clock jumps).
    for (const [key, entry] of this.pending) {
      if (nowMs - entry.firstMs < this.limits.timeoutMs) break;
      this.remove(key, entry);
      if (!entry.discarded) this.onDrop('frag_timeout', `incomplete datagram after ${this.limits.timeoutMs} ms`, entry.count);
    }
  }

  /** Drops everything (shutdown, end of a file): counted as timeouts. */
  flush(): void {
    for (const [key, entry] of this.pending) {
      this.remove(key, entry);
      if (!entry.discarded) this.onDrop('frag_timeout', 'incomplete datagram at end of input', entry.count);
    }
  }

  /** Puts the not-yet-covered parts of [offset, fragEnd) into the sorted part list. */
  private insert(key: string, entry: Pending, data: Uint8Array, start: number, offset: number, fragEnd: number): boolean {
    const parts = entry.parts;
    let cursor = offset;
    let overlapped = false;
    let i = 0;
    // Skip parts entirely before the new fragment.
    while (i < parts.length && (parts[i]?.end ?? 0) <= offset) i++;
    const pieces: Part[] = [];
    for (; i < parts.length && cursor < fragEnd; i++) {
      const p = parts[i];
      if (p === undefined || p.start >= fragEnd) break;
      if (p.start > cursor) pieces.push(copyPart(data, start, offset, cursor, p.start));
      // Compare the overlapping bytes.
      const ovStart = Math.max(cursor, p.start);
      const ovEnd = Math.min(fragEnd, p.end);
      if (ovEnd > ovStart) {
        overlapped = true;
        const a = p.data.subarray(ovStart - p.start, ovEnd - p.start);
        const b = data.subarray(start + ovStart - offset, start + ovEnd - offset);
        if (!a.equals(b)) {
          this.discard(key, entry, 'frag_overlap', 'overlapping fragments with different bytes');
          return false;
        }
      }
      cursor = Math.max(cursor, p.end);
    }
    if (cursor < fragEnd) pieces.push(copyPart(data, start, offset, cursor, fragEnd));
    if (pieces.length === 0) {
      this.counters.duplicates++;
      return true;
    }
    if (overlapped) this.counters.overlapsMerged++;
    for (const piece of pieces) {
      const at = findInsertAt(parts, piece.start);
      parts.splice(at, 0, piece);
      const n = piece.end - piece.start;
      entry.covered += n;
      this.heldBytes += n;
    }
    return true;
  }

  private enforceBounds(keepKey: string): void {
    for (const [key, entry] of this.pending) {
      if (this.pending.size <= this.limits.maxDatagrams && this.heldBytes <= this.limits.maxBytes) return;
      if (key === keepKey && this.pending.size === 1) return;
      this.remove(key, entry);
      if (!entry.discarded) this.onDrop('frag_evicted', 'reassembly memory limit reached', entry.count);
    }
  }

  private discard(key: string, entry: Pending, kind: FragmentDropKind, detail: string): void {
    this.onDrop(kind, detail, entry.count);
    this.heldBytes -= entry.covered;
    entry.parts = [];
    entry.covered = 0;
    entry.discarded = true;
    // Keep the entry (empty) so later fragments are swallowed; it expires normally.
    this.pending.set(key, entry);
  }

  private remove(key: string, entry: Pending): void {
    this.pending.delete(key);
    this.heldBytes -= entry.covered;
  }
}

function lastEnd(entry: Pending): number {
  const last = entry.parts[entry.parts.length - 1];
  return last === undefined ? 0 : last.end;
}

function copyPart(data: Uint8Array, start: number, offset: number, from: number, to: number): Part {
  // Copy: the fragment lives in a receive buffer that is reused for the next packet.
  return { start: from, end: to, data: Buffer.from(data.subarray(start + from - offset, start + to - offset)) };
}

function findInsertAt(parts: readonly Part[], start: number): number {
  let lo = 0;
  let hi = parts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((parts[mid]?.start ?? 0) < start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function assemble(entry: Pending): Buffer {
  const out = Buffer.allocUnsafe(entry.total);
  for (const p of entry.parts) out.set(p.data, p.start);
  return out;
}
