/**
 * The receive thread of one HEP TCP/TLS listener (tcp_receive_thread): it accepts, admits,
 * decrypts and frames (the TcpListener of tcp.ts, unchanged), and hands the frames to the main
 * thread in batches (receive-outbox.ts), so a busy main thread costs no TCP reading and TLS
 * costs the main thread nothing. Refused connections and framing errors are posted one by one
 * to the main thread's Stats.
 *
 * Nothing is dropped here for being behind: a connection stops being read (TCP's flow control
 * then slows the agent) while the main thread's IngestGate is congested, which it flags in
 * shared memory, or while TCP_PAUSE_PENDING_BYTES posted here wait for the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { IngestFlow } from './types.js';
import { TCP_PAUSE_PENDING_BYTES, TcpShared, type MainMessage, type TcpReceiveInit } from './receive-protocol.js';
import { ReceiveOutbox } from './receive-outbox.js';
import { TcpListener } from './tcp.js';
import type { ConnectionCounts } from '../telemetry/stats.js';

if (parentPort === null) throw new Error('tcp-receive-worker must run in a worker thread');
const port = parentPort;
const init = workerData as TcpReceiveInit;
const shared = new Int32Array(init.shared);
const outbox = new ReceiveOutbox(port, init.pending, init.batchBytes);
/** How often paused connections look whether they may be read again. */
const RELIEF_POLL_MS = 10;

const counts: ConnectionCounts = {
  drop: (reason, detail, count = 1) => outbox.post({ op: 'drop', reason, detail, count }),
  connectionRejected: (reason, detail) => outbox.post({ op: 'rejected', reason, detail }),
};

let waiting: (() => void)[] = [];
let reliefTimer: NodeJS.Timeout | null = null;
const flow: IngestFlow = {
  get congested() {
    if (Atomics.load(shared, TcpShared.CONGESTED) === 1) return true;
    const bytes = Math.min(TCP_PAUSE_PENDING_BYTES, Atomics.load(shared, TcpShared.ROOM_BYTES));
    return outbox.pendingBytes >= bytes || outbox.pendingPackets >= Atomics.load(shared, TcpShared.ROOM_PACKETS);
  },
  onRelief(resume) {
    waiting.push(resume);
    reliefTimer ??= setInterval(() => {
      if (flow.congested) return;
      if (reliefTimer !== null) clearInterval(reliefTimer);
      reliefTimer = null;
      const resumes = waiting;
      waiting = [];
      for (const r of resumes) r();
    }, RELIEF_POLL_MS);
  },
};

const listener: TcpListener = new TcpListener({
  address: init.address,
  maxFrame: init.maxFrame,
  idleTimeoutMs: init.idleTimeoutMs,
  maxConnections: init.maxConnections,
  maxConnectionsPerIp: init.maxConnectionsPerIp,
  onFrame: (frame) => outbox.add(frame),
  stats: counts,
  flow,
  onConnectionsChanged: () => {
    Atomics.store(shared, TcpShared.CONNECTIONS, listener.connections);
    Atomics.store(shared, TcpShared.PAUSED, listener.pausedConnections);
  },
});

listener.start().then(
  () => outbox.post({ op: 'listening', address: init.address.host, port: listener.port, recvBufferSize: 0 }),
  (err: unknown) => {
    outbox.post({ op: 'bind-error', message: (err as Error).message });
    port.close();
  },
);

let stopping = false;
/** Reads every connection to its end (TcpListener.stop), posts the last batch and counts, then 'stopped'. */
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await listener.stop();
  if (reliefTimer !== null) clearInterval(reliefTimer);
  outbox.flush();
  outbox.post({ op: 'stopped' });
  port.close();
}

port.on('message', (msg: MainMessage) => {
  if (msg.op === 'stop') void stop();
});
