/**
 * Compact binary batches of CapturedMessages, for the pipe between a capture child and the
 * daemon. One frame: u32 byte length, u32 message count, then per message:
 *   u8 flags (bit 0: hepTime present), u8 family, u8 proto, u8 source,
 *   u16 srcPort, u16 dstPort, f64 receivedAtUs,
 *   [u32 sec, u32 usec, u32 captureId] when bit 0,
 *   u8 len + srcIp ASCII, u8 len + dstIp ASCII, u32 len + payload.
 * The listener name is not sent: the parent knows which child a pipe belongs to.
 */
import type { CaptureSource, CapturedMessage, KamailioProtoValue } from '../capture/message.js';

const SOURCES: readonly CaptureSource[] = ['ipip', 'mirror', 'pcap', 'hep'];
const FIXED = 4 + 4 + 8; // flags..ports, receivedAtUs
const TIME = 12;
/** A frame larger than this is a protocol error (a batch is flushed long before). */
export const MAX_BATCH_FRAME = 64 * 1024 * 1024;

export class BatchWriter {
  private buf: Buffer;
  private pos = 8;
  private count = 0;

  constructor(private readonly initialSize = 256 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get messages(): number {
    return this.count;
  }

  get bytes(): number {
    return this.pos;
  }

  /** Appends one message (copies the payload). */
  add(msg: CapturedMessage): void {
    const need = FIXED + TIME + 2 + msg.srcIp.length + msg.dstIp.length + 4 + msg.payload.length;
    this.ensure(need);
    const b = this.buf;
    let p = this.pos;
    b[p++] = msg.hepTime === null ? 0 : 1;
    b[p++] = msg.family;
    b[p++] = msg.proto;
    b[p++] = Math.max(0, SOURCES.indexOf(msg.source));
    b.writeUInt16BE(msg.srcPort, p);
    b.writeUInt16BE(msg.dstPort, p + 2);
    b.writeDoubleBE(msg.receivedAtUs, p + 4);
    p += 12;
    if (msg.hepTime !== null) {
      b.writeUInt32BE(msg.hepTime.sec >>> 0, p);
      b.writeUInt32BE(msg.hepTime.usec >>> 0, p + 4);
      b.writeUInt32BE(msg.hepTime.captureId >>> 0, p + 8);
      p += 12;
    }
    b[p] = msg.srcIp.length;
    p += 1 + b.write(msg.srcIp, p + 1, 'latin1');
    b[p] = msg.dstIp.length;
    p += 1 + b.write(msg.dstIp, p + 1, 'latin1');
    b.writeUInt32BE(msg.payload.length, p);
    p += 4;
    p += msg.payload.copy(b, p);
    this.pos = p;
    this.count++;
  }

  /** The framed batch (a fresh Buffer the caller owns), or null when empty. */
  take(): Buffer | null {
    if (this.count === 0) return null;
    this.buf.writeUInt32BE(this.pos - 4, 0);
    this.buf.writeUInt32BE(this.count, 4);
    // Copy out and keep the (large) working buffer for the next batch.
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    if (this.buf.length > 4 * this.initialSize) this.buf = Buffer.allocUnsafe(this.initialSize);
    this.pos = 8;
    this.count = 0;
    return out;
  }

  private ensure(need: number): void {
    if (this.pos + need <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + need));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
}

export class BatchFormatError extends Error {}

/** Parses frames from a byte stream and yields the messages. */
export class BatchReader {
  /** Received bytes not yet consumed, as chunks (joined only once a frame is complete). */
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly listener: string) {}

  /** Feeds stream bytes; calls `onMessage` for every message of every complete frame. */
  push(chunk: Buffer, onMessage: (msg: CapturedMessage) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < 4) return;
      const head = this.peekLength();
      if (head < 4 || head > MAX_BATCH_FRAME) throw new BatchFormatError(`bad batch frame length ${head}`);
      if (this.buffered < 4 + head) return;
      const data = this.chunks.length === 1 ? (this.chunks[0] ?? Buffer.alloc(0)) : Buffer.concat(this.chunks, this.buffered);
      let p = 0;
      while (data.length - p >= 4) {
        const len = data.readUInt32BE(p);
        if (len < 4 || len > MAX_BATCH_FRAME) throw new BatchFormatError(`bad batch frame length ${len}`);
        if (data.length - p - 4 < len) break;
        this.frame(data, p + 4, p + 4 + len, onMessage);
        p += 4 + len;
      }
      const rest = data.subarray(p);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
  }

  private peekLength(): number {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.concat(this.chunks, this.buffered).subarray(0, 4);
    return head.readUInt32BE(0);
  }

  private frame(b: Buffer, start: number, end: number, onMessage: (msg: CapturedMessage) => void): void {
    const count = b.readUInt32BE(start);
    let p = start + 4;
    for (let i = 0; i < count; i++) {
      if (p + FIXED > end) throw new BatchFormatError('truncated batch');
      const flags = b[p] ?? 0;
      const family = b[p + 1] === 10 ? 10 : 2;
      const proto = (b[p + 2] ?? 0) as KamailioProtoValue;
      const source = SOURCES[b[p + 3] ?? 0] ?? 'mirror';
      const srcPort = b.readUInt16BE(p + 4);
      const dstPort = b.readUInt16BE(p + 6);
      const receivedAtUs = b.readDoubleBE(p + 8);
      p += FIXED;
      let hepTime: CapturedMessage['hepTime'] = null;
      if ((flags & 1) !== 0) {
        hepTime = { sec: b.readUInt32BE(p), usec: b.readUInt32BE(p + 4), captureId: b.readUInt32BE(p + 8) };
        p += TIME;
      }
      const srcLen = b[p] ?? 0;
      const srcIp = b.toString('latin1', p + 1, p + 1 + srcLen);
      p += 1 + srcLen;
      const dstLen = b[p] ?? 0;
      const dstIp = b.toString('latin1', p + 1, p + 1 + dstLen);
      p += 1 + dstLen;
      const payloadLen = b.readUInt32BE(p);
      p += 4;
      if (p + payloadLen > end) throw new BatchFormatError('truncated batch payload');
      onMessage({
        payload: b.subarray(p, p + payloadLen),
        family,
        proto,
        srcIp,
        srcPort,
        dstIp,
        dstPort,
        hepTime,
        correlationId: null,
        protoType: 1,
        receivedAtUs,
        source,
        listener: this.listener,
      });
      p += payloadLen;
    }
  }
}
