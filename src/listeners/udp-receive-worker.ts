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
import type { MainMessage, UdpReceiveInit } from './receive-protocol.js';
import { ReceiveOutbox } from './receive-outbox.js';

if (parentPort === null) throw new Error('udp-receive-worker must run in a worker thread');
const port = parentPort;
const init = workerData as UdpReceiveInit;
const outbox = new ReceiveOutbox(port, init.pending, init.batchBytes);
const allow = sourceFilter(init.allowSources);
/** A flood that goes on after stop() is not waited for longer than this. */
const STOP_DRAIN_MS = 200;

/** Datagrams read so far (stop() drains until an I/O phase reads none). */
let readTotal = 0;
let stopping = false;

function onDatagram(data: Buffer, rinfo: dgram.RemoteInfo): void {
  readTotal++;
  // UDP sources can be spoofed: this is a filter against strays and scanners, not authentication.
  if (allow !== null && !allow.allows(rinfo.address)) {
    outbox.countDenied(() => `${init.name}: datagram from ${rinfo.address}:${rinfo.port}, not in allow_sources`);
    return;
  }
  if (outbox.wouldExceed(data.length, init.maxPendingBytes)) outbox.countQueueFull();
  else outbox.add(data);
}

const socket = dgram.createSocket({ type: init.type, recvBufferSize: init.recvBufferSize });
const onBindError = (err: Error): void => {
  outbox.post({ op: 'bind-error', message: `listen ${init.name}: ${err.message}` });
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
  socket.on('error', (err) => outbox.post({ op: 'socket-error', message: err.message }));
  const a = socket.address();
  outbox.post({ op: 'listening', address: a.address, port: a.port, recvBufferSize: socket.getRecvBufferSize() });
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
      outbox.flush();
      outbox.post({ op: 'stopped' });
      port.close();
    });
  };
  setImmediate(step);
}

port.on('message', (msg: MainMessage) => {
  if (msg.op === 'stop') stop();
});
