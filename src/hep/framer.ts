/**
 * HEP3 framing for byte streams (TCP/TLS). A frame is `HEP3` + u16 BE total length (header
 * included), then chunks (u16 vendor, u16 type, u16 length ≥ 6) that fill it exactly. Frames
 * that lie wholly inside one pushed chunk are returned as views into it; only a frame that spans
 * chunks is copied (into one Buffer of exactly its length).
 *
 * Unlike Kamailio (which hands non-HEP3 bytes to the SIP parser and stalls on a bad length),
 * bytes that do not start a valid frame make the framer scan forward to the next `HEP3`; the
 * whole skipped run is reported as ONE `desync` event when the next good frame is found (or at
 * `end()`), so a bad frame costs only itself. A header that lies about its length (a stray
 * `HEP3` + 0xFFFF) would otherwise swallow the real frames after it: a frame whose chunks do not
 * fill it exactly is not a frame, and the bytes after its magic are scanned again, so the frames
 * inside it are recovered. Rescanning is bounded (`RESCAN_CREDIT_*`) so a stream of lying headers
 * costs linear work; past the bound the frame is handed on whole, and the decoder counts it.
 * Memory is bounded by `maxFrame` + 6 bytes, plus one frame being rescanned.
 */
import { HEP3_CHUNK_HEADER_LENGTH, HEP3_HEADER_LENGTH, HEP3_MAGIC, HEP3_MAGIC_BYTES, HEP3_MAX_LENGTH } from './constants.js';

export interface HepStreamFramerOptions {
  /** Largest frame accepted (total length, header included). Default and maximum 65535. */
  maxFrame?: number;
}

/**
 * Why the framer lost sync (the first problem of a skipped run). `bad_chunks`: a header whose
 * length the chunks after it do not fill exactly (a lying or stray `HEP3` header).
 */
export type HepDesyncReason = 'bad_magic' | 'bad_length' | 'oversized' | 'bad_chunks';

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
/** Bytes a connection may rescan before it has sent anything: one largest frame, twice. */
const RESCAN_CREDIT_START = 2 * HEP3_MAX_LENGTH;
/** Rescan credit earned per byte received: rescanning costs at most a small multiple of the input. */
const RESCAN_CREDIT_PER_BYTE = 2;
/** Credit saved up at most, so a long good stream does not pay for a long run of lies. */
const RESCAN_CREDIT_MAX = 16 * HEP3_MAX_LENGTH;

/** True when chunk headers from byte 6 on fill `frame[start, start + length)` exactly. */
function chunksFillFrame(frame: Buffer, start: number, length: number): boolean {
  const end = start + length;
  let pos = start + HEP3_HEADER_LENGTH;
  while (pos < end) {
    if (end - pos < HEP3_CHUNK_HEADER_LENGTH) return false;
    const chunkLength = frame.readUInt16BE(pos + 4);
    if (chunkLength < HEP3_CHUNK_HEADER_LENGTH) return false;
    pos += chunkLength;
  }
  return pos === end;
}

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
  private rescanCredit = RESCAN_CREDIT_START;

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
    this.rescanCredit = Math.min(RESCAN_CREDIT_MAX, this.rescanCredit + RESCAN_CREDIT_PER_BYTE * chunk.length);
    let events: HepFrameEvent[] | null = null;
    // Bytes to feed, in stream order: the chunk, preceded by a refused frame's bytes while rescanning.
    const pending: Buffer[] = [chunk];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      events = this.feed(next, events, pending);
    }
    return events ?? NO_EVENTS;
  }

  /**
   * Feeds one piece of the stream. A frame spanning pieces whose chunks do not fill it is not
   * passed on: its bytes after the magic and the rest of this piece go onto `pending` (a stack,
   * last fed first) and feeding stops.
   */
  private feed(chunk: Buffer, done: HepFrameEvent[] | null, pending: Buffer[]): HepFrameEvent[] | null {
    let events = done;
    const n = chunk.length;
    let pos = 0;

    if (this.frame !== null) {
      const frame = this.frame;
      const take = Math.min(frame.length - this.frameFill, n);
      chunk.copy(frame, this.frameFill, 0, take);
      this.frameFill += take;
      pos = take;
      if (this.frameFill < frame.length) return events;
      this.frame = null;
      this.frameFill = 0;
      if (this.refuse(frame, chunk.subarray(pos), pending)) return events;
      (events ??= []).push({ kind: 'frame', frame });
    }

    for (;;) {
      const carry = this.headLen;
      if (carry + (n - pos) < HEP3_HEADER_LENGTH) {
        // Not enough for a header: keep the tail (≤ 5 bytes) for the next push.
        if (this.desync && carry === 0) pos = this.keepMagicPrefixOnly(chunk, pos);
        chunk.copy(this.head, carry, pos, n);
        this.headLen = carry + (n - pos);
        return events;
      }

      if (carry === 0 && this.desync) {
        // Fast scan for the next magic inside this chunk.
        const at = chunk.indexOf(HEP3_MAGIC_BYTES, pos);
        if (at === -1) {
          pos = this.keepMagicPrefixOnly(chunk, pos);
          chunk.copy(this.head, 0, pos, n);
          this.headLen = n - pos;
          return events;
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

      const whole = carry === 0 && n - pos >= length;
      const problem: HepDesyncReason | null =
        magic !== HEP3_MAGIC
          ? 'bad_magic'
          : length < HEP3_HEADER_LENGTH
            ? 'bad_length'
            : length > this.maxFrame
              ? 'oversized'
              : whole && this.refusesInPlace(chunk, pos, length)
                ? 'bad_chunks'
                : null;
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

      if (whole) {
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
        if (this.refuse(frame, chunk.subarray(pos), pending)) return events;
        (events ??= []).push({ kind: 'frame', frame });
        continue;
      }
      this.frame = frame;
      this.frameFill = carry + take;
      return events;
    }
  }

  /** A frame inside one piece whose chunks do not fill it: refused (and paid for) while credit lasts. */
  private refusesInPlace(chunk: Buffer, pos: number, length: number): boolean {
    if (this.rescanCredit < length || chunksFillFrame(chunk, pos, length)) return false;
    this.rescanCredit -= length;
    return true;
  }

  /**
   * A frame that spanned pieces is complete. If its chunks do not fill it and rescan credit is
   * left, it is refused: the framer is out of sync from its first byte, and its bytes after that
   * (then `rest`, the remainder of the current piece) are queued to be fed again.
   */
  private refuse(frame: Buffer, rest: Buffer, pending: Buffer[]): boolean {
    if (this.rescanCredit < frame.length || chunksFillFrame(frame, 0, frame.length)) return false;
    this.rescanCredit -= frame.length;
    this.desync = true;
    this.desyncReason = 'bad_chunks';
    this.skipped = 1;
    if (rest.length > 0) pending.push(rest);
    pending.push(frame.subarray(1));
    return true;
  }

  /**
   * The stream has ended: reports an unfinished desync run and any partial frame, then resets
   * the framer so it can be reused.
   */
  end(): readonly HepFrameEvent[] {
    const events: HepFrameEvent[] = [];
    const partial = this.frame?.subarray(0, this.frameFill);
    if (partial !== undefined && partial.indexOf(HEP3_MAGIC_BYTES, 1) !== -1 && this.rescanCredit >= partial.length) {
      // A frame cut off by the close with another magic inside may be a lying header: what follows is rescanned.
      this.rescanCredit -= partial.length;
      this.frame = null;
      this.frameFill = 0;
      this.desync = true;
      this.desyncReason = 'bad_chunks';
      this.skipped = 1;
      events.push(...this.push(partial.subarray(1)));
    }
    if (this.desync) {
      // Bytes kept as a possible magic prefix are skipped too.
      this.skipped += this.headLen;
      this.headLen = 0;
      events.push(this.takeDesyncEvent());
    }
    const cut = this.headLen + this.frameFill;
    if (cut > 0) {
      events.push({ kind: 'error', code: 'truncated', reason: 'eof', skipped: cut, message: `stream ended inside a HEP3 frame (${cut} bytes dropped)` });
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
