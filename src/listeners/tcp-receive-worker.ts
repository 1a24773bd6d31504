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
import { TcpShared, type MainMessage, type TcpReceiveInit } from './receive-protocol.js';
import { ReceiveOutbox } from './receive-outbox.js';
import { ReliefPoll } from './relief.js';
import { TcpListener } from './tcp.js';
import type { ConnectionCounts } from '../telemetry/stats.js';

if (parentPort === null) throw new Error('tcp-receive-worker must run in a worker thread');
const port = parentPort;
const init = workerData as TcpReceiveInit;
const shared = new Int32Array(init.shared);
const outbox = new ReceiveOutbox(port, init.pending, init.batchBytes);
/** How often paused connections look whether they may be read again (the main thread takes a batch within ~1 ms when it keeps up). */
const RELIEF_POLL_MS = 1;

const counts: ConnectionCounts = {
  drop: (reason, detail, count = 1) => outbox.post({ op: 'drop', reason, detail, count }),
  connectionRejected: (reason, detail) => outbox.post({ op: 'rejected', reason, detail }),
};

/** The daemon is congested, or what was read and not yet taken by the main thread used up the room it had. */
function congested(): boolean {
  if (Atomics.load(shared, TcpShared.CONGESTED) === 1) return true;
  const bytes = Math.min(init.maxPendingBytes, Atomics.load(shared, TcpShared.ROOM_BYTES));
  return outbox.pendingBytes >= bytes || outbox.pendingPackets >= Atomics.load(shared, TcpShared.ROOM_PACKETS);
}
const relief = new ReliefPoll(congested, RELIEF_POLL_MS);
const flow: IngestFlow = {
  get congested() {
    return congested();
  },
  onRelief: (resume) => relief.add(resume),
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
/**
 * Reads every connection to its end (TcpListener.stop), posts the last batch, then 'stopped'.
 * The port is not closed but unref'd: a connection's own 'close' handlers (a frame cut off at the
 * end, counted tcp_framing) run after the server's, and their counts must still reach the main
 * thread; the thread exits once the last socket is closed, and its messages arrive before 'exit'.
 */
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await listener.stop();
  relief.stop();
  outbox.flush();
  outbox.post({ op: 'stopped' });
  port.unref();
}

port.on('message', (msg: MainMessage) => {
  if (msg.op === 'stop') void stop();
});
