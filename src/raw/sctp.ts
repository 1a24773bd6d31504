/**
 * SCTP user messages split over several DATA chunks (RFC 4960 §6.9): the fragments of one
 * message carry consecutive TSNs, the first with the B flag and the last with E. We keep
 * fragment chunks per association direction by TSN and assemble when a B…E run is complete.
 * Bounded like IP reassembly: entries, bytes and a timeout; what falls out is counted.
 */

export interface SctpLimits {
  /** Fragment chunks held at most (all associations). */
  maxChunks: number;
  /** Bytes held at most. */
  maxBytes: number;
  /** A chunk waits at most this long for the rest of its message. */
  timeoutMs: number;
}

export const DEFAULT_SCTP_LIMITS: SctpLimits = { maxChunks: 4096, maxBytes: 16 * 1024 * 1024, timeoutMs: 30_000 };

export type SctpDropKind = 'sctp_fragment';

const FLAG_E = 0x01;
const FLAG_B = 0x02;

interface Chunk {
  tsn: number;
  begin: boolean;
  end: boolean;
  data: Buffer;
  atMs: number;
}

export class SctpReassembler {
  /** Direction key → TSN → chunk. */
  private readonly byAssoc = new Map<string, Map<number, Chunk>>();
  /** All held chunks in arrival order, for the timeout and the bounds. */
  private readonly order: Array<{ key: string; tsn: number; chunk: Chunk }> = [];
  private orderHead = 0;
  private heldBytes = 0;
  private heldChunks = 0;
  private readonly limits: SctpLimits;
  reassembled = 0;

  constructor(
    limits: Partial<SctpLimits>,
    private readonly onDrop: (kind: SctpDropKind, detail: string, count: number) => void,
  ) {
    this.limits = { ...DEFAULT_SCTP_LIMITS, ...limits };
  }

  /**
   * One DATA chunk that is not a whole message (`flags` B/E not both set). Returns the whole
   * message when this chunk completed it.
   */
  add(key: string, tsn: number, flags: number, data: Uint8Array, nowMs: number): Buffer | null {
    this.expire(nowMs);
    let chunks = this.byAssoc.get(key);
    if (chunks === undefined) {
      chunks = new Map();
      this.byAssoc.set(key, chunks);
    }
    if (chunks.has(tsn)) {
      // A retransmitted chunk: the first copy is kept, this one is counted (not lost silently).
      this.onDrop('sctp_fragment', 'retransmitted SCTP DATA chunk', 1);
      return null;
    }
    const chunk: Chunk = { tsn, begin: (flags & FLAG_B) !== 0, end: (flags & FLAG_E) !== 0, data: Buffer.from(data), atMs: nowMs };
    chunks.set(tsn, chunk);
    this.order.push({ key, tsn, chunk });
    this.heldBytes += chunk.data.length;
    this.heldChunks++;
    // Find the B before and the E after this TSN.
    let first = tsn;
    for (let c: Chunk | undefined = chunk; c !== undefined && !c.begin; c = chunks.get(first)) {
      first = (first - 1) >>> 0;
      if (!chunks.has(first)) return this.bound();
    }
    let last = tsn;
    for (let c: Chunk | undefined = chunk; c !== undefined && !c.end; c = chunks.get(last)) {
      last = (last + 1) >>> 0;
      if (!chunks.has(last)) return this.bound();
    }
    const parts: Buffer[] = [];
    for (let t = first; ; t = (t + 1) >>> 0) {
      const c = chunks.get(t);
      if (c === undefined) break;
      parts.push(c.data);
      chunks.delete(t);
      this.heldBytes -= c.data.length;
      this.heldChunks--;
      if (t === last) break;
    }
    if (chunks.size === 0) this.byAssoc.delete(key);
    this.reassembled++;
    return Buffer.concat(parts);
  }

  expire(nowMs: number): void {
    while (this.orderHead < this.order.length) {
      const o = this.order[this.orderHead];
      if (o === undefined) break;
      const live = this.byAssoc.get(o.key)?.get(o.tsn) === o.chunk;
      if (live && nowMs - o.chunk.atMs < this.limits.timeoutMs) break;
      if (live) this.evict(o.key, o.tsn, o.chunk, 'incomplete SCTP message after timeout');
      this.orderHead++;
    }
    this.compact();
  }

  flush(): void {
    for (const [key, chunks] of this.byAssoc) {
      for (const c of chunks.values()) this.evict(key, c.tsn, c, 'incomplete SCTP message at end of input');
    }
    this.order.length = 0;
    this.orderHead = 0;
  }

  private bound(): null {
    while ((this.heldChunks > this.limits.maxChunks || this.heldBytes > this.limits.maxBytes) && this.orderHead < this.order.length) {
      const o = this.order[this.orderHead++];
      if (o !== undefined && this.byAssoc.get(o.key)?.get(o.tsn) === o.chunk) this.evict(o.key, o.tsn, o.chunk, 'SCTP reassembly memory limit reached');
    }
    this.compact();
    return null;
  }

  private evict(key: string, tsn: number, chunk: Chunk, detail: string): void {
    const chunks = this.byAssoc.get(key);
    if (chunks === undefined) return;
    chunks.delete(tsn);
    if (chunks.size === 0) this.byAssoc.delete(key);
    this.heldBytes -= chunk.data.length;
    this.heldChunks--;
    this.onDrop('sctp_fragment', detail, 1);
  }

  private compact(): void {
    if (this.orderHead > 1024 && this.orderHead * 2 > this.order.length) {
      this.order.splice(0, this.orderHead);
      this.orderHead = 0;
    }
  }
}
