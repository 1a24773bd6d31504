/**
 * SIP over TCP from captured segments: per-direction stream reassembly by sequence number, then
 * SIP message framing by Content-Length (RFC 3261 §18.3).
 *
 * - One stream per direction of a 4-tuple. SYN gives the initial sequence number; a stream first
 *   seen mid-connection starts at the first data segment and resynchronises on a SIP start line.
 * - Data before the expected sequence number is a retransmission and is dropped (partly old
 *   segments are trimmed). Data after it is kept out of order until the gap fills; when the
 *   out-of-order bytes or segments exceed the per-stream bounds, the gap is declared lost, the
 *   partial message is dropped and the stream resynchronises after the gap.
 * - Several messages per segment and one message over many segments are both handled. Bytes
 *   that cannot start a SIP message (keep-alive CRLFs aside) are skipped up to the next start line.
 * - Bounded: bytes per stream, number of streams (least recently used evicted), idle timeout.
 *   The common case, a segment holding whole messages, is framed in place without copying.
 * - A stream is classified by its first bytes: SIP, SIP over WebSocket (an HTTP Upgrade, then
 *   RFC 6455 frames: websocket.ts), or — when `hep` is set (pcap import) — HEP3 frames cut on
 *   their length field, as a `tcpdump port 9060` of an agent's HEP-over-TCP connection holds.
 */
import { CR, LF } from '../sip/bytes.js';
import { checkSipStartLine, contentLength, findHeaderEnd, looksLikeSip, SipCheck } from './sip-check.js';
import { isWebSocketHandshake, readWsFrame, WsOpcode } from './websocket.js';

export interface TcpLimits {
  /** Streams (directions) tracked at most; the least recently used is evicted beyond it. */
  maxStreams: number;
  /** Largest SIP message (headers + body) accepted on a stream. */
  maxMessageBytes: number;
  /** Out-of-order bytes kept per stream while waiting for a gap to fill. */
  maxOutOfOrderBytes: number;
  /** Out-of-order segments kept per stream: bounds the work per segment when they are tiny. */
  maxOutOfOrderSegments: number;
  /** A stream without segments for this long is forgotten. */
  idleTimeoutMs: number;
}

export const DEFAULT_TCP_LIMITS: TcpLimits = {
  maxStreams: 8192,
  maxMessageBytes: 256 * 1024,
  maxOutOfOrderBytes: 256 * 1024,
  maxOutOfOrderSegments: 1024,
  idleTimeoutMs: 300_000,
};

export type TcpDropKind =
  | 'tcp_retransmission'
  | 'tcp_gap'
  | 'tcp_not_sip'
  | 'tcp_oversize'
  | 'tcp_bad_content_length'
  | 'tcp_incomplete'
  | 'tcp_evicted'
  /** WebSocket handshake, control frames and messages that are not SIP. */
  | 'ws_not_sip';

export type TcpDrop = (kind: TcpDropKind, detail: string, count: number) => void;

export interface TcpCounters {
  segments: number;
  messages: number;
  outOfOrder: number;
}

export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

/** What a framed message is: SIP from the TCP stream itself, SIP from a WebSocket frame, or a HEP3 packet. */
export type TcpPayloadKind = 'sip' | 'ws' | 'hep';

/** Called for every framed message: `data[start, end)` is valid only during the call. */
export type TcpMessageHandler<M> = (meta: M, data: Buffer, start: number, end: number, kind: TcpPayloadKind) => void;

export interface TcpFraming {
  /** Recognise streams of HEP3 packets (pcap import of HEP-over-TCP traffic). */
  hep: boolean;
}

interface OooSegment {
  seq: number;
  data: Buffer;
}

interface Stream<M> {
  meta: M;
  nextSeq: number;
  /** Unframed in-order bytes (a copy), or null when none. */
  pending: Buffer | null;
  ooo: OooSegment[];
  oooBytes: number;
  /** False until a SIP start line was found (mid-stream pickup or after a gap). */
  synced: boolean;
  /** Bytes still to discard (the rest of an oversized message whose length is known). */
  skip: number;
  lastMs: number;
  /** How the stream is framed, decided on its first bytes. */
  kind: TcpPayloadKind | null;
  /** WebSocket: the HTTP handshake is still to be skipped. */
  wsHandshake: boolean;
  /** WebSocket: the frames of a message not finished yet. */
  wsParts: Buffer[];
}

/** Signed distance a - b in sequence space (mod 2^32). */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export class TcpReassembler<M> {
  readonly counters: TcpCounters = { segments: 0, messages: 0, outOfOrder: 0 };
  private readonly streams = new Map<string, Stream<M>>();
  private readonly limits: TcpLimits;

  constructor(
    limits: Partial<TcpLimits>,
    private readonly onMessage: TcpMessageHandler<M>,
    private readonly onDrop: TcpDrop,
    private readonly framing: TcpFraming = { hep: false },
  ) {
    this.limits = { ...DEFAULT_TCP_LIMITS, ...limits };
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /**
   * One segment of the direction `key`. `makeMeta` is called only when a new stream is created
   * (so address texts are built once per stream). `data[start, end)` is the TCP payload.
   * Returns true when the segment's bytes were used (delivered or kept), false when dropped.
   */
  segment(
    key: string,
    makeMeta: () => M,
    seq: number,
    flags: number,
    data: Buffer,
    start: number,
    end: number,
    nowMs: number,
  ): boolean {
    this.counters.segments++;
    let stream = this.streams.get(key);
    if ((flags & TcpFlag.RST) !== 0) {
      if (stream !== undefined) this.close(key, stream);
      return end === start;
    }
    if (stream !== undefined) {
      // Refresh LRU position.
      this.streams.delete(key);
      this.streams.set(key, stream);
      stream.lastMs = nowMs;
    }
    if ((flags & TcpFlag.SYN) !== 0) {
      if (stream !== undefined) this.close(key, stream);
      stream = this.create(key, makeMeta(), (seq + 1) >>> 0, nowMs, true);
    }
    let used = end === start;
    if (end > start) {
      if (stream === undefined) stream = this.create(key, makeMeta(), seq, nowMs, false);
      used = this.data(stream, seq, data, start, end);
    }
    if ((flags & TcpFlag.FIN) !== 0 && stream !== undefined) {
      // Only a FIN at the expected position ends the stream; an early one waits for the gap.
      if (seqDiff((seq + (end - start)) >>> 0, stream.nextSeq) === 0 && stream.ooo.length === 0) this.close(key, stream);
    }
    this.expire(nowMs);
    return used;
  }

  /** Forgets idle streams; call now and then when traffic is idle. */
  expire(nowMs: number): void {
    for (const [key, stream] of this.streams) {
      if (nowMs - stream.lastMs < this.limits.idleTimeoutMs) break;
      this.close(key, stream);
    }
  }

  /** Ends every stream (end of a file, shutdown). */
  flush(): void {
    for (const [key, stream] of this.streams) this.close(key, stream);
  }

  private create(key: string, meta: M, nextSeq: number, nowMs: number, synced: boolean): Stream<M> {
    const stream: Stream<M> = { meta, nextSeq, pending: null, ooo: [], oooBytes: 0, synced, skip: 0, lastMs: nowMs, kind: null, wsHandshake: false, wsParts: [] };
    this.streams.set(key, stream);
    if (this.streams.size > this.limits.maxStreams) {
      for (const [oldKey, old] of this.streams) {
        if (old === stream) break;
        this.close(oldKey, old, 'tcp_evicted');
        if (this.streams.size <= this.limits.maxStreams) break;
      }
    }
    return stream;
  }

  private close(key: string, stream: Stream<M>, kind: TcpDropKind = 'tcp_incomplete'): void {
    this.streams.delete(key);
    if (stream.pending !== null && hasNonBlank(stream.pending)) {
      this.onDrop(kind, kind === 'tcp_evicted' ? 'stream evicted (too many streams)' : 'stream ended inside a message', 1);
    }
    stream.pending = null;
    if (stream.ooo.length > 0) this.onDrop('tcp_gap', 'stream ended with a gap', stream.ooo.length);
    stream.ooo = [];
    stream.oooBytes = 0;
  }

  private data(stream: Stream<M>, seq: number, data: Buffer, start: number, end: number): boolean {
    let rel = seqDiff(seq, stream.nextSeq);
    const len = end - start;
    if (rel + len <= 0) {
      this.onDrop('tcp_retransmission', 'retransmitted segment', 1);
      return false;
    }
    if (rel < 0) {
      start -= rel; // partly old: keep the new tail
      rel = 0;
    }
    if (rel > 0) {
      this.keepOutOfOrder(stream, (stream.nextSeq + rel) >>> 0, data, start, end);
      return true;
    }
    this.append(stream, data, start, end);
    this.drainOutOfOrder(stream);
    return true;
  }

  private keepOutOfOrder(stream: Stream<M>, seq: number, data: Buffer, start: number, end: number): void {
    this.counters.outOfOrder++;
    // The list is kept sorted by binary-search insertion: a scan and a sort per segment made
    // many tiny out-of-order segments quadratic (20,000 took 20 s).
    const ooo = stream.ooo;
    let at = lowerBound(ooo, seq);
    // Ignore an exact duplicate of a kept segment (same-seq segments are adjacent).
    for (let s = ooo[at]; s !== undefined && s.seq === seq; s = ooo[++at]) {
      if (s.data.length >= end - start) return;
    }
    // After the segments with the same seq, as the stable sort placed it.
    ooo.splice(at, 0, { seq, data: Buffer.from(data.subarray(start, end)) });
    stream.oooBytes += end - start;
    if (stream.oooBytes > this.limits.maxOutOfOrderBytes || ooo.length > this.limits.maxOutOfOrderSegments) {
      // The gap will not fill: give up on it and continue after it.
      const first = stream.ooo[0];
      if (first === undefined) return;
      this.onDrop('tcp_gap', `lost ${seqDiff(first.seq, stream.nextSeq)} bytes (gap not filled)`, 1);
      if (stream.pending !== null && hasNonBlank(stream.pending)) this.onDrop('tcp_incomplete', 'message cut by a gap', 1);
      stream.pending = null;
      stream.synced = false;
      stream.skip = 0;
      stream.nextSeq = first.seq;
      this.drainOutOfOrder(stream);
    }
  }

  private drainOutOfOrder(stream: Stream<M>): void {
    while (stream.ooo.length > 0) {
      const s = stream.ooo[0];
      if (s === undefined) break;
      const rel = seqDiff(s.seq, stream.nextSeq);
      if (rel > 0) break;
      stream.ooo.shift();
      stream.oooBytes -= s.data.length;
      if (rel + s.data.length <= 0) continue; // already covered
      this.append(stream, s.data, -rel, s.data.length);
    }
  }

  /** In-order bytes: frame what is complete, keep the rest. */
  private append(stream: Stream<M>, data: Buffer, start: number, end: number): void {
    stream.nextSeq = (stream.nextSeq + (end - start)) >>> 0;
    let buf: Buffer;
    let from: number;
    let to: number;
    if (stream.pending === null) {
      // Frame directly on the segment; copy only an incomplete tail.
      buf = data;
      from = start;
      to = end;
    } else {
      buf = Buffer.concat([stream.pending, data.subarray(start, end)]);
      from = 0;
      to = buf.length;
    }
    const consumed = this.frame(stream, buf, from, to);
    if (consumed >= to) {
      stream.pending = null;
    } else {
      const rest = to - consumed;
      if (rest > this.limits.maxMessageBytes) {
        this.onDrop('tcp_oversize', `message larger than ${this.limits.maxMessageBytes} bytes`, 1);
        stream.pending = null;
        stream.synced = false;
        return;
      }
      stream.pending = buf === data ? Buffer.from(buf.subarray(consumed, to)) : buf.subarray(consumed, to);
    }
  }

  /** Emits complete messages from buf[from, to); returns where the unconsumed bytes start. */
  private frame(stream: Stream<M>, buf: Buffer, from: number, to: number): number {
    if (stream.kind === null) {
      const kind = this.classify(buf, from, to);
      if (kind === null) return from;
      stream.kind = kind;
      stream.wsHandshake = kind === 'ws';
    }
    if (stream.kind === 'hep') return this.frameHep(stream, buf, from, to);
    if (stream.kind === 'ws') return this.frameWs(stream, buf, from, to);
    return this.frameSip(stream, buf, from, to);
  }

  /** The framing of a stream from its first bytes; null until there are enough of them. */
  private classify(buf: Buffer, from: number, to: number): TcpPayloadKind | null {
    if (this.framing.hep) {
      const magic = hepMagicAt(buf, from, to);
      if (magic === null) return null;
      if (magic) return 'hep';
    }
    const ws = isWebSocketHandshake(buf, from, to);
    if (ws === null) return null;
    return ws ? 'ws' : 'sip';
  }

  /** HEP3 packets back to back, cut on their 16-bit total length. */
  private frameHep(stream: Stream<M>, buf: Buffer, from: number, to: number): number {
    let pos = from;
    for (;;) {
      if (to - pos < 6) return pos;
      if (hepMagicAt(buf, pos, to) !== true) {
        const next = nextHepMagic(buf, pos + 1, to);
        const skipTo = next < 0 ? Math.max(pos, to - 3) : next;
        if (skipTo > pos) this.onDrop('tcp_not_sip', 'skipped bytes that are not a HEP3 packet', 1);
        if (next < 0) return skipTo;
        pos = next;
        continue;
      }
      const len = buf.readUInt16BE(pos + 4);
      if (len < 6) {
        this.onDrop('tcp_not_sip', `HEP3 packet with total length ${len}`, 1);
        pos += 4;
        continue;
      }
      if (to - pos < len) return pos;
      this.counters.messages++;
      this.onMessage(stream.meta, buf, pos, pos + len, 'hep');
      pos += len;
    }
  }

  /** SIP over WebSocket: skip the HTTP handshake, then one SIP message per WebSocket message. */
  private frameWs(stream: Stream<M>, buf: Buffer, from: number, to: number): number {
    let pos = from;
    if (stream.wsHandshake) {
      const headerEnd = findHeaderEnd(buf, pos, to);
      if (headerEnd < 0) return pos;
      this.onDrop('ws_not_sip', 'WebSocket handshake (HTTP Upgrade)', 1);
      stream.wsHandshake = false;
      pos = headerEnd;
    }
    for (;;) {
      const f = readWsFrame(buf, pos, to, this.limits.maxMessageBytes);
      if (f === null) return pos;
      if (f === 'bad') {
        this.onDrop('ws_not_sip', 'WebSocket frame longer than the largest message, or not a frame', 1);
        stream.kind = 'sip';
        stream.synced = false;
        stream.wsParts = [];
        return to;
      }
      pos = f.end;
      if (f.opcode >= WsOpcode.CLOSE) {
        this.onDrop('ws_not_sip', `WebSocket control frame (opcode ${f.opcode})`, 1);
        continue;
      }
      if (f.opcode !== WsOpcode.CONTINUATION) stream.wsParts = [];
      if (!f.fin) {
        stream.wsParts.push(Buffer.from(f.payload));
        if (stream.wsParts.reduce((n, b) => n + b.length, 0) > this.limits.maxMessageBytes) {
          this.onDrop('ws_not_sip', `WebSocket message larger than ${this.limits.maxMessageBytes} bytes`, 1);
          stream.wsParts = [];
        }
        continue;
      }
      const whole = stream.wsParts.length === 0 ? f.payload : Buffer.concat([...stream.wsParts, f.payload]);
      stream.wsParts = [];
      if (!looksLikeSip(whole, 0, whole.length)) {
        this.onDrop('ws_not_sip', 'WebSocket message that is not SIP', 1);
        continue;
      }
      this.counters.messages++;
      this.onMessage(stream.meta, whole, 0, whole.length, 'ws');
    }
  }

  /** SIP messages framed by Content-Length. */
  private frameSip(stream: Stream<M>, buf: Buffer, from: number, to: number): number {
    let pos = from;
    for (;;) {
      if (stream.skip > 0) {
        const n = Math.min(stream.skip, to - pos);
        stream.skip -= n;
        pos += n;
      }
      // Keep-alives (RFC 5626 CRLF ping/pong) between messages.
      while (pos < to && (buf[pos] === CR || buf[pos] === LF)) pos++;
      if (pos >= to) return pos;
      if (!stream.synced) {
        const found = this.resync(buf, pos, to);
        if (found < 0) {
          // No start line yet: keep only the last (possibly partial) line.
          const keep = lastLineStart(buf, pos, to);
          if (keep > pos && hasNonBlankRange(buf, pos, keep)) this.onDrop('tcp_not_sip', 'skipped bytes that are not SIP', 1);
          return keep;
        }
        if (found > pos) this.onDrop('tcp_not_sip', 'skipped bytes before a SIP start line', 1);
        pos = found;
        stream.synced = true;
      }
      const check = checkSipStartLine(buf, pos, to);
      if (check === SipCheck.NEED_MORE) return pos;
      if (check === SipCheck.NOT_SIP) {
        stream.synced = false;
        continue;
      }
      const headerEnd = findHeaderEnd(buf, pos, to);
      if (headerEnd < 0) {
        if (to - pos > this.limits.maxMessageBytes) {
          this.onDrop('tcp_oversize', `header block larger than ${this.limits.maxMessageBytes} bytes`, 1);
          stream.synced = false;
          // Resync from the next line, never from inside this one.
          const nl = buf.indexOf(LF, pos);
          pos = nl < 0 || nl >= to ? to : nl + 1;
          continue;
        }
        return pos;
      }
      const bodyLen = contentLength(buf, pos, headerEnd);
      if (bodyLen < 0) {
        this.onDrop('tcp_bad_content_length', 'cannot frame message (bad Content-Length)', 1);
        stream.synced = false;
        pos = headerEnd;
        continue;
      }
      if (headerEnd - pos + bodyLen > this.limits.maxMessageBytes) {
        // The length is known: skip exactly this message and stay in sync.
        this.onDrop('tcp_oversize', `message larger than ${this.limits.maxMessageBytes} bytes`, 1);
        stream.skip = headerEnd + bodyLen - pos;
        continue;
      }
      const msgEnd = headerEnd + bodyLen;
      if (msgEnd > to) return pos;
      this.counters.messages++;
      this.onMessage(stream.meta, buf, pos, msgEnd, 'sip');
      pos = msgEnd;
    }
  }

  /** First SIP start line at or after `from` that begins a line; -1 when none is complete. */
  private resync(buf: Buffer, from: number, to: number): number {
    let lineStart = from;
    for (;;) {
      const c = checkSipStartLine(buf, lineStart, to);
      if (c === SipCheck.SIP) return lineStart;
      if (c === SipCheck.NEED_MORE) return -1;
      const nl = buf.indexOf(LF, lineStart);
      if (nl < 0 || nl >= to - 1) return -1;
      lineStart = nl + 1;
    }
  }
}

const HEP3 = Buffer.from('HEP3');
const EEP1 = Buffer.from('EEP1');

/** Whether buf[at, to) starts with the HEP3 (or EEP1) magic; null when too short to tell. */
function hepMagicAt(buf: Buffer, at: number, to: number): boolean | null {
  const n = Math.min(4, to - at);
  const prefixOf = (magic: Buffer): boolean => buf.compare(magic, 0, n, at, at + n) === 0;
  if (!prefixOf(HEP3) && !prefixOf(EEP1)) return false;
  return n < 4 ? null : true;
}

/** Offset of the next HEP3 magic in buf[from, to), or -1. */
function nextHepMagic(buf: Buffer, from: number, to: number): number {
  const at = buf.indexOf(HEP3, from);
  return at < 0 || at + 4 > to ? -1 : at;
}

/** First index of `ooo` (sorted by sequence number) whose seq is not before `seq`. */
function lowerBound(ooo: readonly OooSegment[], seq: number): number {
  let lo = 0;
  let hi = ooo.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (seqDiff(ooo[mid]?.seq ?? seq, seq) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function lastLineStart(buf: Buffer, from: number, to: number): number {
  const nl = buf.lastIndexOf(LF, to - 1);
  return nl < from ? from : nl + 1;
}

function hasNonBlankRange(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c !== CR && c !== LF && c !== 0x20 && c !== 0x09) return true;
  }
  return false;
}

function hasNonBlank(buf: Buffer): boolean {
  return hasNonBlankRange(buf, 0, buf.length);
}
