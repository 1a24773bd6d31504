/**
 * A receive thread's side of the hand-over (udp-receive-worker.ts, tcp-receive-worker.ts):
 * packets are copied into one batch buffer, posted (transferred, not cloned) to the main
 * thread when it holds BATCH_MAX_DATAGRAMS, when it is full, or after the I/O phase that read
 * them (at most once per MIN_FLUSH_INTERVAL_MS); drop counts ride along. Every byte posted is
 * added to the shared `pending` counter, which the main thread lowers as it takes batches.
 */
import { performance } from 'node:perf_hooks';
import type { MessagePort } from 'node:worker_threads';
import { BATCH_MAX_DATAGRAMS, COUNTS_INTERVAL_MS, MIN_FLUSH_INTERVAL_MS, Pending, type DeliveryMessage, type WorkerMessage } from './receive-protocol.js';

export class ReceiveOutbox {
  private buf: ArrayBuffer;
  private bytes: Uint8Array;
  private readonly ends = new Uint32Array(BATCH_MAX_DATAGRAMS);
  private count = 0;
  private used = 0;
  /** Packets dropped because the main thread was too far behind (UDP only: TCP pauses instead). */
  private queueFull = 0;
  private denied = 0;
  private deniedDetail = '';
  private lastFlushAt = 0;
  private checkScheduled: NodeJS.Immediate | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private countsTimer: NodeJS.Timeout | null = null;
  private readonly pending: Int32Array;

  constructor(
    private readonly port: MessagePort,
    pending: SharedArrayBuffer,
    /** Bytes of one batch buffer. */
    private readonly capacity: number,
  ) {
    this.pending = new Int32Array(pending);
    this.buf = this.newBuffer();
    this.bytes = new Uint8Array(this.buf);
  }

  /** Bytes read and not yet processed by the main thread (posted, or still in the batch). */
  get pendingBytes(): number {
    return Atomics.load(this.pending, Pending.BYTES) + this.used;
  }

  /** Packets read and not yet processed by the main thread (posted, or still in the batch). */
  get pendingPackets(): number {
    return Atomics.load(this.pending, Pending.PACKETS) + this.count;
  }

  /** Whether `len` more bytes would take the bytes waiting for the main thread beyond `max`. */
  wouldExceed(len: number, max: number): boolean {
    return this.pendingBytes + len > max;
  }

  post(msg: WorkerMessage, transfer: ArrayBuffer[] = []): void {
    this.port.postMessage(msg, transfer);
  }

  /**
   * A batch buffer, not zero-filled (a zeroed 256 KiB buffer cost 2–3× as much to allocate and
   * post in a micro-benchmark): only the bytes of packets copied in are seen, through the main
   * thread's views.
   */
  private newBuffer(): ArrayBuffer {
    return Buffer.allocUnsafeSlow(this.capacity).buffer;
  }

  /** Copies one packet in (valid only during the call, so copied); it leaves with its batch. */
  add(data: Uint8Array): void {
    const len = data.length;
    if (len > this.capacity) {
      this.postAlone(data);
      return;
    }
    if (len > this.capacity - this.used) this.flush();
    this.bytes.set(data, this.used);
    this.used += len;
    this.ends[this.count++] = this.used;
    if (this.count === BATCH_MAX_DATAGRAMS) this.flush();
    // An armed flush timer will take this packet along: no check per packet at high rates.
    else if (this.flushTimer === null) this.checkScheduled ??= setImmediate(this.onCheck);
  }

  countQueueFull(): void {
    this.queueFull++;
    this.countsDue();
  }

  countDenied(detail: () => string): void {
    if (this.denied++ === 0) this.deniedDetail = detail();
    this.countsDue();
  }

  /** Posts the current batch (if any) and the drop counts (if any), and starts a new batch. */
  flush(): void {
    if (this.checkScheduled !== null) clearImmediate(this.checkScheduled);
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    if (this.countsTimer !== null) clearTimeout(this.countsTimer);
    this.checkScheduled = this.flushTimer = this.countsTimer = null;
    if (this.count === 0 && this.queueFull === 0 && this.denied === 0) return;
    const msg = this.countsMessage();
    const transfer: ArrayBuffer[] = [];
    if (this.count > 0) {
      let out: ArrayBuffer;
      if (this.used * 4 >= this.capacity * 3) {
        // Mostly full: hand the buffer over and take a new one.
        out = this.buf;
        this.buf = this.newBuffer();
        this.bytes = new Uint8Array(this.buf);
      } else {
        // A small batch (low rate): copy out what is used, so the main thread does not keep a
        // whole batch buffer alive per few packets, and keep the buffer.
        out = this.buf.slice(0, this.used);
      }
      const outEnds = this.ends.slice(0, this.count);
      Atomics.add(this.pending, Pending.BYTES, out.byteLength);
      Atomics.add(this.pending, Pending.PACKETS, this.count);
      msg.buf = out;
      msg.ends = outEnds;
      transfer.push(out, outEnds.buffer);
    }
    this.post(msg, transfer);
    this.count = 0;
    this.used = 0;
    this.lastFlushAt = performance.now();
  }

  /** A message with the drop counts so far (which are reset), and no batch yet. */
  private countsMessage(): DeliveryMessage {
    const msg: DeliveryMessage = { op: 'batch', buf: null, ends: null, queueFull: this.queueFull, denied: this.denied, deniedDetail: this.deniedDetail };
    this.queueFull = 0;
    this.denied = 0;
    this.deniedDetail = '';
    return msg;
  }

  /** After the I/O phase that read the packet: flush now, or at the end of the minimum interval. */
  private readonly onCheck = (): void => {
    this.checkScheduled = null;
    const wait = this.lastFlushAt + MIN_FLUSH_INTERVAL_MS - performance.now();
    if (wait <= 0) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), Math.ceil(wait));
  };

  /** Counts with no batch to carry them still reach the main thread, a little later. */
  private countsDue(): void {
    this.countsTimer ??= setTimeout(() => this.flush(), COUNTS_INTERVAL_MS);
  }

  /** A packet larger than an empty batch: flushed with its own buffer. */
  private postAlone(data: Uint8Array): void {
    if (this.count > 0) this.flush();
    const own = new ArrayBuffer(data.length);
    new Uint8Array(own).set(data);
    const ownEnds = Uint32Array.of(data.length);
    Atomics.add(this.pending, Pending.BYTES, own.byteLength);
    Atomics.add(this.pending, Pending.PACKETS, 1);
    const msg = this.countsMessage();
    msg.buf = own;
    msg.ends = ownEnds;
    this.post(msg, [own, ownEnds.buffer]);
    if (this.countsTimer !== null) clearTimeout(this.countsTimer);
    this.countsTimer = null;
    this.lastFlushAt = performance.now();
  }
}
