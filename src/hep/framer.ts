/**
 * HEP3 framing for byte streams (TCP/TLS). A frame is `HEP3` + u16 BE total length
 * (header included). Frames that lie wholly inside one pushed chunk are returned as views into
 * it; only a frame that spans chunks is copied (into one Buffer of exactly its length).
 *
 * Unlike Kamailio (which hands non-HEP3 bytes to the SIP parser and stalls on a bad length),
 * bytes that do not start a valid frame make the framer scan forward to the next `HEP3`; the
 * whole skipped run is reported as ONE `desync` event when the next good frame is found (or at
 * `end()`), so a bad frame costs only itself. Memory is bounded by `maxFrame` + 6 bytes.
 */
import { HEP3_HEADER_LENGTH, HEP3_MAGIC, HEP3_MAGIC_BYTES, HEP3_MAX_LENGTH } from './constants.js';

export interface HepStreamFramerOptions {
  /** Largest frame accepted (total length, header included). Default and maximum 65535. */
  maxFrame?: number;
}

/** Why the framer lost sync (the first problem of a skipped run). */
export type HepDesyncReason = 'bad_magic' | 'bad_length' | 'oversized';

export interface HepFramerError {
  kind: 'error';
  /** `desync`: bytes skipped to find the next frame; `truncated`: the stream ended inside a frame. */
  code: 'desync' | 'truncated';
  /** For `desync`, what was wrong at the first skipped byte; `eof` for `truncated`. */
  reason: HepDesyncReason | 'eof';
  /** Number of bytes dropped. */
  skipped: number;
  message: string;
}

export interface HepFrame {
  kind: 'frame';
  /** One complete HEP3 message: a view into the pushed chunk, or an own copy if it spanned chunks. */
  frame: Buffer;
}

export type HepFrameEvent = HepFrame | HepFramerError;

const NO_EVENTS: readonly HepFrameEvent[] = Object.freeze([]);
const MAGIC_LENGTH = 4;

export class HepStreamFramer {
  readonly maxFrame: number;
  /** Up to 5 bytes of a header (or magic prefix) that ended a chunk. */
  private readonly head = Buffer.alloc(HEP3_HEADER_LENGTH);
  private headLen = 0;
  /** A frame spanning chunks, being filled. */
  private frame: Buffer | null = null;
  private frameFill = 0;
  private desync = false;
  private desyncReason: HepDesyncReason = 'bad_magic';
  private skipped = 0;

  constructor(options: HepStreamFramerOptions = {}) {
    const max = options.maxFrame ?? HEP3_MAX_LENGTH;
    // A frame shorter than its own header can never be valid; above 65535 is unrepresentable.
    this.maxFrame = Math.min(HEP3_MAX_LENGTH, Math.max(HEP3_HEADER_LENGTH, Math.floor(max)));
  }

  /** Bytes held between pushes (partial header or partial frame). */
  get buffered(): number {
    return this.headLen + this.frameFill;
  }

  /** Same as `buffered`: bytes that would be lost if the stream ended now. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Bytes skipped so far in an unfinished desync run (0 when in sync), for a connection limit. */
  get skipping(): number {
    return this.desync ? this.skipped : 0;
  }

  /** Feeds the next chunk of the stream. Returns the frames and errors it completes, in order. */
  push(chunk: Buffer): readonly HepFrameEvent[] {
    let events: HepFrameEvent[] | null = null;
    const n = chunk.length;
    let pos = 0;

    if (this.frame !== null) {
      const frame = this.frame;
      const take = Math.min(frame.length - this.frameFill, n);
      chunk.copy(frame, this.frameFill, 0, take);
      this.frameFill += take;
      pos = take;
      if (this.frameFill < frame.length) return NO_EVENTS;
      this.frame = null;
      this.frameFill = 0;
      events = [{ kind: 'frame', frame }];
    }

    for (;;) {
      const carry = this.headLen;
      if (carry + (n - pos) < HEP3_HEADER_LENGTH) {
        // Not enough for a header: keep the tail (≤ 5 bytes) for the next push.
        if (this.desync && carry === 0) pos = this.keepMagicPrefixOnly(chunk, pos);
        chunk.copy(this.head, carry, pos, n);
        this.headLen = carry + (n - pos);
        return events ?? NO_EVENTS;
      }

      if (carry === 0 && this.desync) {
        // Fast scan for the next magic inside this chunk.
        const at = chunk.indexOf(HEP3_MAGIC_BYTES, pos);
        if (at === -1) {
          pos = this.keepMagicPrefixOnly(chunk, pos);
          chunk.copy(this.head, 0, pos, n);
          this.headLen = n - pos;
          return events ?? NO_EVENTS;
        }
        this.skipped += at - pos;
        pos = at;
        if (n - pos < HEP3_HEADER_LENGTH) continue; // stash the partial header above
      }

      // Header: from `head` + chunk when a header straddles the previous chunk, else from chunk.
      let magic: number;
      let length: number;
      if (carry === 0) {
        magic = chunk.readUInt32BE(pos);
        length = chunk.readUInt16BE(pos + MAGIC_LENGTH);
      } else {
        magic = ((this.byteAt(chunk, pos, 0) << 24) | (this.byteAt(chunk, pos, 1) << 16) | (this.byteAt(chunk, pos, 2) << 8) | this.byteAt(chunk, pos, 3)) >>> 0;
        length = (this.byteAt(chunk, pos, 4) << 8) | this.byteAt(chunk, pos, 5);
      }

      const problem: HepDesyncReason | null =
        magic !== HEP3_MAGIC ? 'bad_magic' : length < HEP3_HEADER_LENGTH ? 'bad_length' : length > this.maxFrame ? 'oversized' : null;
      if (problem !== null) {
        if (!this.desync) {
          this.desync = true;
          this.desyncReason = problem;
          this.skipped = 0;
        }
        // Drop one byte and look again.
        this.skipped++;
        if (carry > 0) {
          this.head.copyWithin(0, 1, carry);
          this.headLen = carry - 1;
        } else {
          pos++;
        }
        continue;
      }

      if (this.desync) (events ??= []).push(this.takeDesyncEvent());

      if (carry === 0 && n - pos >= length) {
        (events ??= []).push({ kind: 'frame', frame: chunk.subarray(pos, pos + length) });
        pos += length;
        continue;
      }

      // The frame spans chunks: copy what is here into a buffer of exactly its length.
      const frame = Buffer.allocUnsafe(length);
      this.head.copy(frame, 0, 0, carry);
      const take = Math.min(length - carry, n - pos);
      chunk.copy(frame, carry, pos, pos + take);
      pos += take;
      this.headLen = 0;
      if (carry + take === length) {
        (events ??= []).push({ kind: 'frame', frame });
        continue;
      }
      this.frame = frame;
      this.frameFill = carry + take;
      return events ?? NO_EVENTS;
    }
  }

  /**
   * The stream has ended: reports an unfinished desync run and any partial frame, then resets
   * the framer so it can be reused.
   */
  end(): readonly HepFrameEvent[] {
    const events: HepFrameEvent[] = [];
    if (this.desync) {
      // Bytes kept as a possible magic prefix are skipped too.
      this.skipped += this.headLen;
      this.headLen = 0;
      events.push(this.takeDesyncEvent());
    }
    const partial = this.headLen + this.frameFill;
    if (partial > 0) {
      events.push({ kind: 'error', code: 'truncated', reason: 'eof', skipped: partial, message: `stream ended inside a HEP3 frame (${partial} bytes dropped)` });
    }
    this.headLen = 0;
    this.frame = null;
    this.frameFill = 0;
    return events;
  }

  /** Byte `k` of the virtual stream `head[0..headLen) + chunk[pos..)`. */
  private byteAt(chunk: Buffer, pos: number, k: number): number {
    return (k < this.headLen ? this.head[k] : chunk[pos + k - this.headLen]) ?? 0;
  }

  /**
   * While scanning: counts the bytes of `chunk[pos..)` that cannot begin a frame as skipped and
   * returns where the kept tail starts: the longest suffix (at most 5 bytes) that starts like a
   * header, i.e. a prefix of `HEP3`, or `HEP3` plus part of the length.
   */
  private keepMagicPrefixOnly(chunk: Buffer, pos: number): number {
    const n = chunk.length;
    let keep = Math.min(HEP3_HEADER_LENGTH - 1, n - pos);
    for (; keep > 0; keep--) {
      const cmp = Math.min(keep, MAGIC_LENGTH);
      if (chunk.compare(HEP3_MAGIC_BYTES, 0, cmp, n - keep, n - keep + cmp) === 0) break;
    }
    this.skipped += n - keep - pos;
    return n - keep;
  }

  private takeDesyncEvent(): HepFrameEvent {
    const skipped = this.skipped;
    const reason = this.desyncReason;
    this.desync = false;
    this.skipped = 0;
    return { kind: 'error', code: 'desync', reason, skipped, message: `HEP3 stream out of sync (${reason}): skipped ${skipped} bytes` };
  }
}
