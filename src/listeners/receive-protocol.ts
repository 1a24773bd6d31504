/**
 * The messages between a HEP listener's main-thread side (receive-thread.ts) and its receive
 * thread (udp-receive-worker.ts, tcp-receive-worker.ts), and the batching limits both sides
 * agree on (receive-outbox.ts batches on the thread's side).
 */
import type { ConnectionRejectReasonValue } from '../telemetry/stats.js';
import type { DropReasonValue } from '../telemetry/drop-reasons.js';
import type { ListenAddress } from '../config/types.js';

/** Datagrams per batch at most: one message per 256 keeps postMessage off the per-packet cost. */
export const BATCH_MAX_DATAGRAMS = 256;
/**
 * Bytes of one batch buffer: 256 typical HEP datagrams (~1 KB) fit, and so does the largest UDP
 * datagram (65,535). A datagram that does not fit an empty batch still travels, in its own buffer.
 */
export const BATCH_BYTES = 256 * 1024;
/**
 * A batch is posted at most once per this interval unless it is full: below ~200 datagrams/s
 * every datagram leaves right after the I/O phase that read it (no added latency); above, the
 * batches grow instead of the message count, and a datagram waits 5–6 ms at most (rows wait
 * ~100 ms for their database batch anyway). Each batch costs a hop to the main thread, one to a
 * pipeline thread and one back, each a thread woken on a shared core: at 28,000 datagrams/s into
 * PostgreSQL the daemon spent 19–20 µs of CPU per message with 5 ms against 22.5–23.7 with 1 ms
 * (docs/benchmarks.md).
 */
export const MIN_FLUSH_INTERVAL_MS = 5;
/** Drop counts with no batch to ride on are posted on their own after at most this long. */
export const COUNTS_INTERVAL_MS = 100;
/**
 * Bytes posted to the main thread and not yet processed, at most (batch buffers as allocated).
 * The main thread stalls for 20–40 ms (GC, encoding a batch) and up to a few hundred ms when it
 * waits for a core behind PostgreSQL and the sender; 32 MiB holds ~1 s of 30,000 datagrams/s
 * of ~1 KB, four times the default socket buffer, at 6 % of the default memory_limit_mb.
 * Beyond it the thread keeps draining the socket and counts what it drops as queue_full,
 * instead of the kernel dropping silently.
 */
export const MAX_PENDING_BYTES = 32 * 1024 * 1024;

/**
 * A TCP/TLS receive thread stops reading its connections (as the main thread's IngestGate
 * would) while this many bytes it read wait for the main thread (its maxPendingBytes): TCP can
 * wait, so nothing is dropped there; 4 MiB is ~130 ms of 30,000 frames/s of ~1 KB, well under
 * the pipeline threads' 3/4 mark of their 32 MiB.
 */
export const TCP_PAUSE_PENDING_BYTES = 4 * 1024 * 1024;

/** What every receive thread gets. */
export interface ReceiveWorkerInit {
  /** The listener's name, for drop details. */
  name: string;
  port: number;
  /** Int32Array[2] over a SharedArrayBuffer: bytes and packets posted and not yet processed by the main thread. */
  pending: SharedArrayBuffer;
  maxPendingBytes: number;
  batchBytes: number;
}

export interface UdpReceiveInit extends ReceiveWorkerInit {
  type: 'udp4' | 'udp6';
  host: string;
  recvBufferSize: number;
  /** The listener's allow_sources (empty: everyone may send). */
  allowSources: readonly string[];
}

/** Indexes of ReceiveWorkerInit.pending (an Int32Array). */
export const Pending = { BYTES: 0, PACKETS: 1, LENGTH: 2 } as const;

/** Indexes of TcpReceiveInit.shared (an Int32Array). */
export const TcpShared = {
  /** 1 while the main thread's IngestGate is congested (it sets and clears it). */
  CONGESTED: 0,
  /** Open connections, paused connections (the thread keeps them current). */
  CONNECTIONS: 1,
  PAUSED: 2,
  /**
   * Packets, and bytes, the daemon could take before its IngestGate closes, as the main thread
   * saw after the last batch (IngestFlow.room): the thread pauses a connection once what it read
   * and the main thread has not taken yet reaches either. It looks after each chunk a connection
   * read (up to 64 KiB), so it overshoots by at most a chunk per connection read in that turn.
   */
  ROOM_PACKETS: 3,
  ROOM_BYTES: 4,
  LENGTH: 5,
} as const;

export interface TcpReceiveInit extends ReceiveWorkerInit {
  address: ListenAddress;
  maxFrame: number;
  idleTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Int32Array[TcpShared.LENGTH] over a SharedArrayBuffer. */
  shared: SharedArrayBuffer;
}

/** Packets and drop counts; `buf` is transferred, packet i is [ends[i-1] ?? 0, ends[i]). */
export interface DeliveryMessage {
  op: 'batch';
  /** null when the message only carries counts. */
  buf: ArrayBuffer | null;
  ends: Uint32Array | null;
  /** Datagrams dropped because the main thread was MAX_PENDING_BYTES behind. */
  queueFull: number;
  /** Datagrams from sources outside allow_sources, and one example detail. */
  denied: number;
  deniedDetail: string;
}

export type WorkerMessage =
  | { op: 'listening'; address: string; port: number; recvBufferSize: number }
  /** `message` is the whole sentence, `listen NAME: …`. */
  | { op: 'bind-error'; message: string }
  | { op: 'socket-error'; message: string }
  | DeliveryMessage
  /** Counted on a stream (tcp_framing): rare, so one message each, with its own detail. */
  | { op: 'drop'; reason: DropReasonValue; detail: string; count: number }
  | { op: 'rejected'; reason: ConnectionRejectReasonValue; detail: string }
  /** The socket is closed and everything it received has been posted before this. */
  | { op: 'stopped' };

export type MainMessage = { op: 'stop' };
