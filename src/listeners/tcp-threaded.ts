/**
 * A HEP TCP/TLS listener whose sockets live in a receive thread (tcp_receive_thread = 1,
 * tcp-receive-worker.ts): accepting, TLS and framing cost the main thread nothing, and the
 * frames arrive in batches like a UDP receive thread's (the pipeline threads take them whole).
 *
 * Congestion crosses the thread in shared memory: after each batch the main thread publishes
 * how much more the daemon can take (IngestFlow.room) and, while it is congested, raises a flag;
 * the flow's relief lowers it. The thread looks at both after each chunk it reads from a
 * connection, and pauses that connection. Connection counts come back the same way.
 */
import type { Logger } from '../telemetry/logger.js';
import type { Stats } from '../telemetry/stats.js';
import { BATCH_BYTES, TCP_PAUSE_PENDING_BYTES, TcpShared } from './receive-protocol.js';
import { ReceiveThread } from './receive-thread.js';
import type { StreamListener, TcpListenerOptions } from './tcp.js';
import type { DatagramBatchHandler, DatagramHandler } from './udp.js';
import type { IngestFlow } from './types.js';

export interface ThreadedTcpListenerOptions extends Omit<TcpListenerOptions, 'onFrame' | 'stats' | 'flow' | 'onConnectionsChanged'> {
  /** Each frame, a view valid only during the call (as a UDP datagram from a receive thread). */
  onFrame: DatagramHandler;
  /** Takes each batch whole instead (the pipeline threads). */
  onBatch?: DatagramBatchHandler;
  stats: Stats;
  flow?: IngestFlow;
  logger?: Logger;
}

const MAX_INT32 = 0x7fffffff;
const clampInt32 = (n: number): number => Math.max(0, Math.min(MAX_INT32, n));

export class ThreadedTcpListener implements StreamListener {
  readonly name: string;
  private thread: ReceiveThread | null = null;
  private readonly sharedBuffer = new SharedArrayBuffer(TcpShared.LENGTH * 4);
  private readonly shared = new Int32Array(this.sharedBuffer);

  constructor(private readonly opts: ThreadedTcpListenerOptions) {
    this.name = opts.address.spec;
  }

  get port(): number {
    return this.thread?.socket?.port ?? 0;
  }

  get connections(): number {
    return Atomics.load(this.shared, TcpShared.CONNECTIONS);
  }

  get pausedConnections(): number {
    return Atomics.load(this.shared, TcpShared.PAUSED);
  }

  /** The receive thread, or null (tests). */
  get receiveThread(): ReceiveThread | null {
    return this.thread;
  }

  async start(): Promise<void> {
    const o = this.opts;
    this.publishRoom(o.flow);
    const thread = new ReceiveThread({
      name: this.name,
      transport: 'tcp',
      settings: {
        address: o.address,
        maxFrame: o.maxFrame,
        idleTimeoutMs: o.idleTimeoutMs,
        maxConnections: o.maxConnections ?? 0,
        maxConnectionsPerIp: o.maxConnectionsPerIp ?? 0,
        shared: this.sharedBuffer,
      },
      port: o.address.port,
      onDatagram: o.onFrame,
      ...(o.onBatch === undefined ? {} : { onBatch: o.onBatch }),
      stats: o.stats,
      logger: o.logger ?? null,
      batchBytes: BATCH_BYTES,
      maxPendingBytes: TCP_PAUSE_PENDING_BYTES,
      afterDelivery: this.afterDelivery,
      onDied: this.noConnections,
    });
    this.thread = thread;
    await thread.start().catch((err: unknown) => {
      this.thread = null;
      throw err;
    });
  }

  /** Tells the thread how far it may read ahead (flow.room), and raises the flag while the daemon is congested. */
  private readonly afterDelivery = (): void => {
    const flow = this.opts.flow;
    // Stopping (thread null) reads every connection to its end: no flag to raise.
    if (flow === undefined || this.thread === null) return;
    this.publishRoom(flow);
    if (Atomics.load(this.shared, TcpShared.CONGESTED) === 1 || !flow.congested) return;
    Atomics.store(this.shared, TcpShared.CONGESTED, 1);
    flow.onRelief(() => {
      this.publishRoom(flow);
      Atomics.store(this.shared, TcpShared.CONGESTED, 0);
    });
  };

  private publishRoom(flow: IngestFlow | undefined): void {
    const { packets, bytes } = flow?.room?.() ?? { packets: MAX_INT32, bytes: MAX_INT32 };
    Atomics.store(this.shared, TcpShared.ROOM_PACKETS, clampInt32(packets));
    Atomics.store(this.shared, TcpShared.ROOM_BYTES, clampInt32(bytes));
  }

  /** The thread is gone, and its connections with it. */
  private readonly noConnections = (): void => {
    Atomics.store(this.shared, TcpShared.CONNECTIONS, 0);
    Atomics.store(this.shared, TcpShared.PAUSED, 0);
  };

  async stop(): Promise<void> {
    const thread = this.thread;
    this.thread = null;
    // Stopping reads every connection to its end, congested or not (as TcpListener.stop).
    Atomics.store(this.shared, TcpShared.CONGESTED, 0);
    await thread?.stop();
    this.noConnections();
  }
}
