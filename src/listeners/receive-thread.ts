/**
 * The main thread's side of a HEP listener whose sockets live in a receive thread
 * (udp-receive-worker.ts, tcp-receive-worker.ts): starts it, hands each posted batch's packets
 * to the listener's handler in order (views into the batch buffer), counts what the thread
 * dropped or refused, and starts a new thread on the same address if the old one dies.
 */
import type { Worker } from 'node:worker_threads';
import { spawnSiblingWorker } from '../util/worker-thread.js';
import { DropReason } from '../telemetry/drop-reasons.js';
import type { Logger } from '../telemetry/logger.js';
import type { Stats } from '../telemetry/stats.js';
import { Pending, type DeliveryMessage, type MainMessage, type ReceiveWorkerInit, type TcpReceiveInit, type UdpReceiveInit, type WorkerMessage } from './receive-protocol.js';

/**
 * The thread keeps almost nothing alive (one batch buffer), but every datagram leaves garbage
 * (dgram's buffer and rinfo object). V8's default young generation (up to 32 MiB) let that
 * garbage sit in RSS; a small one is collected often and cheaply.
 */
const RECEIVE_THREAD_LIMITS = { maxYoungGenerationSizeMb: 4 };

/**
 * Longest the main thread spends delivering batches before it lets other work run. A
 * MessagePort hands over every queued message in one go; delivered at once, a backlog of 32 MiB
 * (~50,000 datagrams) would block the event loop for half a second, and with it the database
 * writes that would let the main thread catch up. Batches are queued and delivered in slices,
 * with the I/O phase (database answers, timers) between slices.
 */
const DELIVERY_SLICE_MS = 5;

/** A dead receive thread is replaced at most this often (a thread that dies at once must not spin). */
const RESTART_INTERVAL_MS = 1000;
/** stop() waits this long for the thread to close its socket and post what it has, then ends it. */
const STOP_TIMEOUT_MS = 5000;

/** The thread's socket and limits as in ReceiveWorkerInit (the pending counter is ours), plus the main-thread side. */
export interface ReceiveThreadOptions extends Omit<ReceiveWorkerInit, 'pending'> {
  /** Which receive worker runs: udp-receive-worker or tcp-receive-worker (and what logs say). */
  transport: 'udp' | 'tcp';
  /** The worker's own settings beyond ReceiveWorkerInit. */
  settings: Omit<UdpReceiveInit, keyof ReceiveWorkerInit> | Omit<TcpReceiveInit, keyof ReceiveWorkerInit>;
  onDatagram: (data: Buffer, listener: string) => void;
  /** Takes each batch whole instead (udp.ts DatagramBatchHandler). */
  onBatch?: (buf: ArrayBuffer, ends: Uint32Array, listener: string) => void;
  stats: Stats;
  logger: Logger | null;
  /** After each batch was handed on (a TCP listener's congestion signal). */
  afterDelivery?: () => void;
  /** The thread died: whatever it held died with it (a TCP thread's connections). */
  onDied?: () => void;
}

/** What the thread's socket is bound to, as it reported at start. */
export interface BoundSocket {
  address: string;
  port: number;
  /** UDP: the receive buffer the kernel granted; 0 for TCP. */
  recvBufferSize: number;
}

export class ReceiveThread {
  private worker: Worker | null = null;
  /** Bytes posted by the thread and not yet processed here; shared across restarts. */
  private readonly pendingShared = new SharedArrayBuffer(Pending.LENGTH * 4);
  private readonly pending = new Int32Array(this.pendingShared);
  private bound: BoundSocket | null = null;
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private lastSpawnAt = 0;
  private readonly queueFullDetail: string;
  /** Batches received from the thread and not yet delivered, FIFO (`inboxHead` avoids shift()). */
  private inbox: DeliveryMessage[] = [];
  private inboxHead = 0;
  private drainScheduled = false;
  private inboxEmptyWaiters: (() => void)[] = [];
  /** Threads started after the first one died (tests, logs). */
  restarts = 0;

  constructor(private readonly opts: ReceiveThreadOptions) {
    const max = opts.maxPendingBytes;
    const size = max % 1048576 === 0 ? `${max / 1048576} MiB` : `${Math.round(max / 1024)} KiB`;
    // Only a UDP thread drops for this (a TCP thread stops reading instead).
    this.queueFullDetail = opts.transport !== 'udp' ? '' : `${opts.name}: udp receive thread: main thread behind, ${size} of received datagrams not yet processed`;
  }

  /** The bound socket; kept while a dead thread is being replaced, null once stopped. */
  get socket(): BoundSocket | null {
    return this.bound;
  }

  /** Bytes the thread has posted that this thread has not processed yet (0 when caught up). */
  get pendingBytes(): number {
    return Atomics.load(this.pending, Pending.BYTES);
  }

  /** Resolves once the thread's socket is bound; rejects with `listen NAME: …` otherwise. */
  start(): Promise<void> {
    return this.spawn(this.opts.port);
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    // A replacement being started binds first, then is stopped like any other.
    await this.starting?.catch(() => undefined);
    const worker = this.worker;
    if (worker !== null) {
      // 'exit' comes after every message the thread posted has been handled here.
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ op: 'stop' } satisfies MainMessage);
      const timer = setTimeout(() => {
        this.opts.logger?.error({ listener: this.opts.name }, `${this.opts.transport} receive thread did not stop in time: ended`);
        void worker.terminate();
      }, STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    await this.inboxEmpty();
    this.bound = null;
  }

  private spawn(port: number): Promise<void> {
    const { name, logger, transport } = this.opts;
    this.lastSpawnAt = Date.now();
    const init: ReceiveWorkerInit = {
      ...this.opts.settings,
      name,
      port,
      pending: this.pendingShared,
      maxPendingBytes: this.opts.maxPendingBytes,
      batchBytes: this.opts.batchBytes,
    };
    const worker = spawnSiblingWorker(import.meta.url, `${transport}-receive-worker`, init, RECEIVE_THREAD_LIMITS);
    this.worker = worker;
    const started = new Promise<void>((resolve, reject) => {
      let listening = false;
      worker.on('message', (msg: WorkerMessage) => {
        switch (msg.op) {
          case 'batch':
            this.inbox.push(msg);
            this.scheduleDrain();
            break;
          case 'listening':
            listening = true;
            this.bound = { address: msg.address, port: msg.port, recvBufferSize: msg.recvBufferSize };
            resolve();
            break;
          case 'bind-error':
            reject(new Error(msg.message));
            break;
          case 'socket-error':
            logger?.warn({ listener: name, err: msg.message }, `${transport} socket error`);
            break;
          case 'drop':
            this.opts.stats.drop(msg.reason, msg.detail, msg.count);
            break;
          case 'rejected':
            this.opts.stats.connectionRejected(msg.reason, msg.detail);
            break;
          case 'stopped':
            break;
        }
      });
      worker.on('error', (err) => {
        if (!listening) reject(new Error(`listen ${name}: receive thread failed: ${err.message}`));
        else logger?.error({ listener: name, err: err.message }, `${transport} receive thread failed`);
      });
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = null;
        if (!listening) {
          reject(new Error(`listen ${name}: receive thread exited with code ${code} before it was listening`));
          return;
        }
        if (this.stopping === null) this.died(code);
      });
    });
    this.starting = started;
    void started.then(
      () => {
        if (this.starting === started) this.starting = null;
      },
      () => {
        if (this.starting === started) this.starting = null;
        if (this.worker === worker) this.worker = null;
      },
    );
    return started;
  }

  /** The thread died while listening: what it had read and not posted is gone (never counted as received). */
  private died(code: number): void {
    this.opts.logger?.error(
      { listener: this.opts.name, code },
      this.opts.transport === 'udp'
        ? 'udp receive thread exited: datagrams in its unsent batch and in the socket buffer are lost; starting a new one'
        : 'tcp receive thread exited: its connections are reset (agents reconnect and resend what they had not written), frames in its unsent batch are lost; starting a new one',
    );
    this.opts.onDied?.();
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    const delay = Math.max(0, this.lastSpawnAt + RESTART_INTERVAL_MS - Date.now());
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping !== null) return;
      // The same port, also when the config asked for port 0: senders already use it.
      const port = this.bound?.port ?? this.opts.port;
      this.spawn(port).then(
        () => {
          this.restarts++;
          this.opts.logger?.info({ listener: this.opts.name, port }, `${this.opts.transport} receive thread restarted`);
        },
        (err: unknown) => {
          this.opts.logger?.error({ listener: this.opts.name, err: (err as Error).message }, `${this.opts.transport} receive thread could not be restarted; trying again`);
          if (this.stopping === null) this.scheduleRestart();
        },
      );
    }, delay);
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(this.drain);
  }

  /** Delivers queued batches for at most DELIVERY_SLICE_MS, then yields to the event loop. */
  private readonly drain = (): void => {
    this.drainScheduled = false;
    const until = performance.now() + DELIVERY_SLICE_MS;
    while (this.inboxHead < this.inbox.length) {
      const m = this.inbox[this.inboxHead] as DeliveryMessage;
      this.inbox[this.inboxHead++] = EMPTY_DELIVERY;
      this.deliver(m);
      if (performance.now() >= until) break;
    }
    if (this.inboxHead < this.inbox.length) {
      this.scheduleDrain();
      return;
    }
    this.inbox = [];
    this.inboxHead = 0;
    if (this.inboxEmptyWaiters.length > 0) {
      const waiters = this.inboxEmptyWaiters;
      this.inboxEmptyWaiters = [];
      for (const w of waiters) w();
    }
  };

  private inboxEmpty(): Promise<void> {
    if (this.inboxHead >= this.inbox.length) return Promise.resolve();
    return new Promise((resolve) => this.inboxEmptyWaiters.push(resolve));
  }

  /** A batch is no longer the thread's to count as pending. */
  private taken(buf: ArrayBuffer, ends: Uint32Array): void {
    Atomics.sub(this.pending, Pending.BYTES, buf.byteLength);
    Atomics.sub(this.pending, Pending.PACKETS, ends.length);
  }

  /** One batch: the thread's drop counts, then each datagram in order, as a view of the batch buffer. */
  private deliver(m: DeliveryMessage): void {
    const { stats, name } = this.opts;
    if (m.queueFull > 0) stats.drop(DropReason.QUEUE_FULL, this.queueFullDetail, m.queueFull);
    if (m.denied > 0) stats.drop(DropReason.SOURCE_DENIED, m.deniedDetail, m.denied);
    const { buf, ends } = m;
    if (buf === null || ends === null) return;
    const onBatch = this.opts.onBatch;
    if (onBatch !== undefined) {
      this.taken(buf, ends);
      onBatch(buf, ends, name);
      this.opts.afterDelivery?.();
      return;
    }
    const onDatagram = this.opts.onDatagram;
    try {
      let start = 0;
      for (let i = 0; i < ends.length; i++) {
        const end = ends[i]!;
        onDatagram(Buffer.from(buf, start, end - start), name);
        start = end;
      }
    } finally {
      this.taken(buf, ends);
      // Free the batch now: a batch that waited in the inbox may have been promoted to V8's old
      // generation, whose buffers are only released by a full GC — measured +80 MiB RSS at 18k
      // msg/s. Detaching hands the bytes to a new, short-lived owner. Safe because a datagram is
      // valid only during onDatagram (see DatagramHandler).
      structuredClone(buf, { transfer: [buf] });
    }
    this.opts.afterDelivery?.();
  }
}

const EMPTY_DELIVERY: DeliveryMessage = { op: 'batch', buf: null, ends: null, queueFull: 0, denied: 0, deniedDetail: '' };
