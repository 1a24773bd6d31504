/**
 * HEP over UDP: one datagram is one HEP packet. The listener only receives; decoding happens in
 * the HepIngest it feeds, so the same code path serves UDP, TCP and tests.
 *
 * With `receiveThread` (config udp_receive_thread, on by default) the socket lives in a thread
 * of its own that only drains it (udp-receive-worker.ts): stalls of the main thread are absorbed
 * in a bounded queue, and what does not fit is counted as queue_full instead of being dropped
 * by the kernel. Without it the socket is read on the main thread.
 */
import dgram from 'node:dgram';
import type { ListenAddress } from '../config/types.js';
import { DropReason } from '../telemetry/drop-reasons.js';
import type { Logger } from '../telemetry/logger.js';
import type { Stats } from '../telemetry/stats.js';
import { sourceFilter } from './access.js';
import { readUdpKernelDrops } from './udp-kernel-drops.js';
import { BATCH_BYTES, MAX_PENDING_BYTES } from './receive-protocol.js';
import { ReceiveThread } from './receive-thread.js';
import type { Listener } from './types.js';

/**
 * Receives one datagram. `data` is valid only during the call (with a receive thread it is a
 * view of a batch that is freed right after): a handler that keeps the bytes must copy them.
 */
export type DatagramHandler = (data: Buffer, listener: string) => void;

/**
 * Receives a whole batch from a receive thread and takes it over: datagram i is
 * [ends[i-1] ?? 0, ends[i]) of `buf`. Without it the batch's datagrams go to onDatagram one by one.
 */
export type DatagramBatchHandler = (buf: ArrayBuffer, ends: Uint32Array, listener: string) => void;

export interface UdpListenerOptions {
  address: ListenAddress;
  /** SO_RCVBUF request; the kernel caps it at 2 × net.core.rmem_max. */
  recvBufferSize: number;
  onDatagram: DatagramHandler;
  /** With a receive thread: takes its batches whole (the pipeline threads, pipeline_threads). */
  onBatch?: DatagramBatchHandler;
  /** Where dropped datagrams are counted (needed with an allow-list or a receive thread). */
  stats?: Stats;
  /** Receive in a thread of its own (config udp_receive_thread); default false: on the main thread. */
  receiveThread?: boolean;
  /** Where a receive thread's failures and restarts are logged. */
  logger?: Logger;
  /** Receive thread: bytes of one batch buffer (tests; default BATCH_BYTES). */
  batchBytes?: number;
  /** Receive thread: bytes posted and not yet processed, at most, < 1 GiB (tests; default MAX_PENDING_BYTES). */
  maxPendingBytes?: number;
}

export class UdpListener implements Listener {
  readonly name: string;
  private socket: dgram.Socket | null = null;
  private thread: ReceiveThread | null = null;
  private readonly socketType: 'udp4' | 'udp6';

  constructor(private readonly opts: UdpListenerOptions) {
    this.name = opts.address.spec;
    this.socketType = opts.address.host.includes(':') ? 'udp6' : 'udp4';
  }

  /** The bound port (useful when the config asked for port 0). */
  get port(): number {
    if (this.thread !== null) return this.thread.socket?.port ?? 0;
    return this.socket?.address().port ?? 0;
  }

  /** The receive buffer the kernel actually granted. */
  get recvBufferSize(): number {
    if (this.thread !== null) return this.thread.socket?.recvBufferSize ?? 0;
    return this.socket?.getRecvBufferSize() ?? 0;
  }

  /** The receive thread, or null (tests). */
  get receiveThread(): ReceiveThread | null {
    return this.thread;
  }

  /**
   * Datagrams the kernel dropped on this socket since it was bound (receive buffer full), or
   * null when unknown (not Linux, not bound). Read from /proc at call time: not for the hot path.
   * A receive thread that was replaced has a new socket, whose count starts at 0.
   */
  kernelDrops(): number | null {
    const bound = this.thread !== null ? this.thread.socket : (this.socket?.address() ?? null);
    if (bound === null) return null;
    return readUdpKernelDrops(bound.address, bound.port);
  }

  start(): Promise<void> {
    return this.opts.receiveThread === true ? this.startThread() : this.startHere();
  }

  private async startThread(): Promise<void> {
    const { address, stats } = this.opts;
    if (stats === undefined) throw new Error(`listen ${this.name}: a receive thread needs stats to count what it drops`);
    const thread = new ReceiveThread({
      name: this.name,
      transport: 'udp',
      settings: { type: this.socketType, host: address.host, recvBufferSize: this.opts.recvBufferSize, allowSources: [...address.access.allowSources] },
      port: address.port,
      onDatagram: this.opts.onDatagram,
      ...(this.opts.onBatch === undefined ? {} : { onBatch: this.opts.onBatch }),
      stats,
      logger: this.opts.logger ?? null,
      batchBytes: this.opts.batchBytes ?? BATCH_BYTES,
      maxPendingBytes: this.opts.maxPendingBytes ?? MAX_PENDING_BYTES,
    });
    this.thread = thread;
    try {
      await thread.start();
    } catch (err) {
      this.thread = null;
      throw err;
    }
  }

  private startHere(): Promise<void> {
    const { address, onDatagram } = this.opts;
    const socket = dgram.createSocket({ type: this.socketType, recvBufferSize: this.opts.recvBufferSize });
    this.socket = socket;
    const name = this.name;
    const allow = sourceFilter(address.access.allowSources);
    const stats = this.opts.stats;
    if (allow !== null && stats === undefined) return Promise.reject(new Error(`listen ${name}: an allow-list needs stats to count what it drops`));
    return new Promise((resolve, reject) => {
      const onStartError = (err: Error): void => {
        reject(new Error(`listen ${name}: ${err.message}`));
      };
      socket.once('error', onStartError);
      if (allow === null) {
        socket.on('message', (data) => onDatagram(data, name));
      } else {
        // UDP sources can be spoofed: this is a filter against strays and scanners, not authentication.
        socket.on('message', (data, rinfo) => {
          if (allow.allows(rinfo.address)) onDatagram(data, name);
          else stats?.drop(DropReason.SOURCE_DENIED, `${name}: datagram from ${rinfo.address}:${rinfo.port}, not in allow_sources`);
        });
      }
      socket.bind(address.port, address.host, () => {
        socket.off('error', onStartError);
        // After start-up a socket error is not fatal for the daemon; it is logged by the owner.
        socket.on('error', () => undefined);
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    const thread = this.thread;
    this.thread = null;
    if (thread !== null) return thread.stop();
    const socket = this.socket;
    this.socket = null;
    if (socket === null) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }
}
