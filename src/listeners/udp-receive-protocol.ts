/**
 * The messages between a HEP UDP listener (main thread) and its receive thread
 * (udp-receive-worker.ts), and the batching limits both sides agree on.
 */

/** Datagrams per batch at most: one message per 256 keeps postMessage off the per-packet cost. */
export const BATCH_MAX_DATAGRAMS = 256;
/**
 * Bytes of one batch buffer: 256 typical HEP datagrams (~1 KB) fit, and so does the largest UDP
 * datagram (65,535). A datagram that does not fit an empty batch still travels, in its own buffer.
 */
export const BATCH_BYTES = 256 * 1024;
/**
 * A batch is posted at most once per this interval unless it is full: below ~1,000 datagrams/s
 * every datagram leaves right after the I/O phase that read it (no added latency); above, the
 * batches grow instead of the message count, and a datagram waits 1–2 ms at most.
 */
export const MIN_FLUSH_INTERVAL_MS = 1;
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

export interface ReceiveWorkerInit {
  /** The listener's name, for drop details. */
  name: string;
  type: 'udp4' | 'udp6';
  host: string;
  port: number;
  recvBufferSize: number;
  /** The listener's allow_sources (empty: everyone may send). */
  allowSources: readonly string[];
  /** Int32Array[1] over a SharedArrayBuffer: bytes posted and not yet processed by the main thread. */
  pending: SharedArrayBuffer;
  maxPendingBytes: number;
  batchBytes: number;
}

/** Datagrams and drop counts; `buf` is transferred, datagram i is [ends[i-1] ?? 0, ends[i]). */
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
  | { op: 'bind-error'; message: string }
  | { op: 'socket-error'; message: string }
  | DeliveryMessage
  /** The socket is closed and everything it received has been posted before this. */
  | { op: 'stopped' };

export type MainMessage = { op: 'stop' };
