/**
 * The receive thread of one HEP UDP listener: it owns the socket and does nothing but drain it,
 * so a busy main thread (GC, COPY encoding, waiting for a core) cannot let the kernel's
 * receive buffer overflow. Datagrams are copied into one batch buffer and posted (transferred,
 * not cloned) to the main thread; beyond MAX_PENDING_BYTES not yet processed there, datagrams
 * are dropped here and counted, and the counts reach the main thread's Stats.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { sourceFilter } from './access.js';
import {
  BATCH_MAX_DATAGRAMS,
  COUNTS_INTERVAL_MS,
  MIN_FLUSH_INTERVAL_MS,
  type DeliveryMessage,
  type MainMessage,
  type ReceiveWorkerInit,
  type WorkerMessage,
} from './udp-receive-protocol.js';

if (parentPort === null) throw new Error('udp-receive-worker must run in a worker thread');
const port = parentPort;
const init = workerData as ReceiveWorkerInit;
const pending = new Int32Array(init.pending);
const capacity = init.batchBytes;
const allow = sourceFilter(init.allowSources);
/** A flood that goes on after stop() is not waited for longer than this. */
const STOP_DRAIN_MS = 200;

/**
 * A batch buffer, not zero-filled (a zeroed 256 KiB buffer cost 2–3× as much to allocate and post
 * in a micro-benchmark): only the bytes of datagrams copied in are seen, through the main thread's views.
 */
const newBatchBuffer = (): ArrayBuffer => Buffer.allocUnsafeSlow(capacity).buffer;

let buf = newBatchBuffer();
let bytes = new Uint8Array(buf);
const ends = new Uint32Array(BATCH_MAX_DATAGRAMS);
let count = 0;
let used = 0;
let queueFull = 0;
let denied = 0;
let deniedDetail = '';
/** Datagrams read so far (stop() drains until an I/O phase reads none). */
let readTotal = 0;
let lastFlushAt = 0;
let checkScheduled: NodeJS.Immediate | null = null;
let flushTimer: NodeJS.Timeout | null = null;
let countsTimer: NodeJS.Timeout | null = null;
let stopping = false;

const post = (msg: WorkerMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);

/** Posts the current batch (if any) and the drop counts (if any), and starts a new batch. */
function flush(): void {
  if (checkScheduled !== null) clearImmediate(checkScheduled);
  if (flushTimer !== null) clearTimeout(flushTimer);
  if (countsTimer !== null) clearTimeout(countsTimer);
  checkScheduled = flushTimer = countsTimer = null;
  if (count === 0 && queueFull === 0 && denied === 0) return;
  const msg: DeliveryMessage = { op: 'batch', buf: null, ends: null, queueFull, denied, deniedDetail };
  const transfer: ArrayBuffer[] = [];
  if (count > 0) {
    let out: ArrayBuffer;
    if (used * 4 >= capacity * 3) {
      // Mostly full: hand the buffer over and take a new one.
      out = buf;
      buf = newBatchBuffer();
      bytes = new Uint8Array(buf);
    } else {
      // A small batch (low rate): copy out what is used, so the main thread does not keep a
      // whole batch buffer alive per few datagrams, and keep the buffer.
      out = buf.slice(0, used);
    }
    const outEnds = ends.slice(0, count);
    Atomics.add(pending, 0, out.byteLength);
    msg.buf = out;
    msg.ends = outEnds;
    transfer.push(out, outEnds.buffer);
  }
  post(msg, transfer);
  count = 0;
  used = 0;
  queueFull = 0;
  denied = 0;
  deniedDetail = '';
  lastFlushAt = performance.now();
}

/** After the I/O phase that read the datagram: flush now, or at the end of the minimum interval. */
function onCheck(): void {
  checkScheduled = null;
  const wait = lastFlushAt + MIN_FLUSH_INTERVAL_MS - performance.now();
  if (wait <= 0) flush();
  else flushTimer ??= setTimeout(flush, Math.ceil(wait));
}

/** Counts with no batch to carry them still reach the main thread, a little later. */
function countsDue(): void {
  countsTimer ??= setTimeout(flush, COUNTS_INTERVAL_MS);
}

/** A datagram larger than an empty batch: flushed with its own buffer (copied: dgram's may be shared). */
function postAlone(data: Buffer): void {
  if (count > 0) flush();
  const own = new ArrayBuffer(data.length);
  new Uint8Array(own).set(data);
  const ownEnds = Uint32Array.of(data.length);
  Atomics.add(pending, 0, own.byteLength);
  post({ op: 'batch', buf: own, ends: ownEnds, queueFull, denied, deniedDetail }, [own, ownEnds.buffer]);
  queueFull = 0;
  denied = 0;
  deniedDetail = '';
  if (countsTimer !== null) clearTimeout(countsTimer);
  countsTimer = null;
  lastFlushAt = performance.now();
}

function onDatagram(data: Buffer, rinfo: dgram.RemoteInfo): void {
  readTotal++;
  // UDP sources can be spoofed: this is a filter against strays and scanners, not authentication.
  if (allow !== null && !allow.allows(rinfo.address)) {
    if (denied++ === 0) deniedDetail = `${init.name}: datagram from ${rinfo.address}:${rinfo.port}, not in allow_sources`;
    countsDue();
    return;
  }
  const len = data.length;
  if (Atomics.load(pending, 0) + used + len > init.maxPendingBytes) {
    queueFull++;
    countsDue();
    return;
  }
  if (len > capacity) {
    postAlone(data);
    return;
  }
  if (len > capacity - used) flush();
  bytes.set(data, used);
  used += len;
  ends[count++] = used;
  if (count === BATCH_MAX_DATAGRAMS) flush();
  // An armed flush timer will take this datagram along: no check per datagram at high rates.
  else if (flushTimer === null) checkScheduled ??= setImmediate(onCheck);
}

const socket = dgram.createSocket({ type: init.type, recvBufferSize: init.recvBufferSize });
const onBindError = (err: Error): void => {
  post({ op: 'bind-error', message: err.message });
  try {
    socket.close();
  } catch {
    // already closed
  }
  port.close();
};
socket.once('error', onBindError);
socket.on('message', onDatagram);
socket.bind(init.port, init.host, () => {
  socket.off('error', onBindError);
  socket.on('error', (err) => post({ op: 'socket-error', message: err.message }));
  const a = socket.address();
  post({ op: 'listening', address: a.address, port: a.port, recvBufferSize: socket.getRecvBufferSize() });
});

/**
 * Reads what the kernel already holds (received before stop()) until an I/O phase reads
 * nothing, closes the socket, posts the last batch and counts, then 'stopped'.
 */
function stop(): void {
  if (stopping) return;
  stopping = true;
  const deadline = performance.now() + STOP_DRAIN_MS;
  let seen = readTotal;
  let quiet = 0;
  const step = (): void => {
    // The first check phase can be the one of the I/O phase that brought the stop message, before
    // any read: only two in a row without a datagram mean an I/O phase found the socket empty.
    quiet = readTotal === seen ? quiet + 1 : 0;
    seen = readTotal;
    if (quiet < 2 && performance.now() < deadline) {
      setImmediate(step);
      return;
    }
    socket.close(() => {
      flush();
      post({ op: 'stopped' });
      port.close();
    });
  };
  setImmediate(step);
}

port.on('message', (msg: MainMessage) => {
  if (msg.op === 'stop') stop();
});
