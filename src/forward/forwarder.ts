/**
 * One forward destination: a bounded memory queue, a link with reconnect and back-off, and a
 * disk spool of its own. While the link is up and the spool empty, packets go straight from the
 * queue to the socket. While it is down, slow (queue past forward_queue_max_bytes) or the spool
 * still holds packets, the queue goes to the spool every 100 ms, and the spool is replayed in
 * order once the link is up; what comes in meanwhile waits behind it in the spool, so the
 * destination gets everything in the order received. A batch that was being written when the
 * link broke waits for the next link and is sent first (only its unacknowledged part).
 */
import type { ForwardDestination } from '../config/types.js';
import type { Logger } from '../telemetry/logger.js';
import { ForwardDropReason, type ForwardDropReasonValue } from '../telemetry/drop-reasons.js';
import { openLink, type Link } from './link.js';
import type { PacketSpool } from './packet-spool.js';

/** Packets taken from the queue per write: bounds what a crash can lose between queue and spool. */
const BATCH_PACKETS = 1024;
const BATCH_BYTES = 256 * 1024;
const SPOOL_EVERY_MS = 100;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

export interface ForwarderOptions {
  dest: ForwardDestination;
  /** null: no spool (spool_max_bytes 0); packets beyond the queue are dropped `queue_full`. */
  spool: PacketSpool | null;
  queueMaxBytes: number;
  logger: Logger;
  /** Where to open the link (tests); default openLink. */
  open?: (dest: ForwardDestination) => Promise<Link>;
}

export interface ForwarderStats {
  name: string;
  address: string;
  up: boolean;
  /** Acknowledged as sent (handed to the kernel), live or replayed. */
  forwarded: number;
  /** Written to the spool. */
  spooled: number;
  /** Sent from the spool (included in forwarded). */
  replayed: number;
  dropped: Record<string, number>;
  queuePackets: number;
  queueBytes: number;
  spoolBytes: number;
  spoolPendingBytes: number;
  /** Connections opened so far. */
  connects: number;
  lastError: string | null;
}

export class Forwarder {
  readonly name: string;
  private queue: Buffer[] = [];
  private queueBytes = 0;
  private link: Link | null = null;
  private connecting: Promise<void> | null = null;
  private backoffMs = BACKOFF_MIN_MS;
  private stopping = false;
  private closed = false;
  /** Spool appends in progress: the spool is not "empty" while one runs. */
  private appending = 0;
  private wake: (() => void) | null = null;
  private readonly linkWaiters: (() => void)[] = [];
  private readonly loop: Promise<void>;
  private readonly timer: NodeJS.Timeout;
  private readonly counters = { forwarded: 0, spooled: 0, replayed: 0, connects: 0 };
  private readonly dropped: Record<string, number> = {};
  private lastError: string | null = null;
  private lastLogMs = 0;

  constructor(private readonly opts: ForwarderOptions) {
    this.name = opts.dest.name;
    this.timer = setInterval(() => this.spoolQueueIfBehind(), SPOOL_EVERY_MS);
    this.timer.unref();
    this.connect();
    this.loop = this.run();
  }

  /** Takes a packet (the forwarder keeps it: pass a copy of a receive buffer). */
  send(packet: Buffer): void {
    if (this.stopping) {
      this.drop(ForwardDropReason.SHUTDOWN, 1);
      return;
    }
    if (this.queueBytes + packet.length > this.opts.queueMaxBytes) {
      if (this.opts.spool === null) {
        this.drop(ForwardDropReason.QUEUE_FULL, 1);
        return;
      }
      // A slow or absent destination: the queue so far goes to disk, this packet behind it.
      void this.spoolQueue();
    }
    this.queue.push(packet);
    this.queueBytes += packet.length;
    this.wake?.();
  }

  get up(): boolean {
    return this.link !== null && !this.link.broken;
  }

  stats(): ForwarderStats {
    const s = this.opts.spool?.stats();
    return {
      name: this.name,
      address: this.opts.dest.spec,
      up: this.up,
      ...this.counters,
      dropped: { ...this.dropped },
      queuePackets: this.queue.length,
      queueBytes: this.queueBytes,
      spoolBytes: s?.bytes ?? 0,
      spoolPendingBytes: s?.pendingBytes ?? 0,
      lastError: this.lastError,
    };
  }

  /**
   * Stops: waits up to `graceMs` for the queue to reach the destination, spools what is left
   * (or counts it `shutdown` without a spool), then closes the link and the spool.
   */
  async close(graceMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && this.up && (this.queue.length > 0 || this.inFlight > 0 || !this.spoolIdle())) {
      await sleep(20);
    }
    this.stopping = true;
    clearInterval(this.timer);
    this.wake?.();
    for (const w of this.linkWaiters.splice(0)) w();
    this.link?.close();
    await this.loop;
    await this.spoolQueue();
    if (this.queue.length > 0) {
      this.drop(ForwardDropReason.SHUTDOWN, this.queue.length);
      this.queue = [];
      this.queueBytes = 0;
    }
    await this.opts.spool?.close();
  }

  private inFlight = 0;

  private spoolIdle(): boolean {
    const spool = this.opts.spool;
    return spool === null || (spool.isEmpty && this.appending === 0);
  }

  private drop(reason: ForwardDropReasonValue, n: number): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + n;
    const now = Date.now();
    if (now - this.lastLogMs >= 10_000) {
      this.lastLogMs = now;
      this.opts.logger.warn({ destination: this.name, reason, packets: n, dropped: this.dropped }, 'forward: packets dropped');
    }
  }

  /** Every 100 ms: the queue goes to the spool while the destination cannot take it directly. */
  private spoolQueueIfBehind(): void {
    if (this.queue.length === 0 || this.opts.spool === null) return;
    if (!this.up || !this.spoolIdle() || this.queueBytes > this.opts.queueMaxBytes / 2) void this.spoolQueue();
  }

  private async spoolQueue(): Promise<void> {
    const spool = this.opts.spool;
    if (spool === null || this.queue.length === 0) return;
    const packets = this.queue;
    this.queue = [];
    this.queueBytes = 0;
    this.appending++;
    try {
      if (await spool.append(packets)) this.counters.spooled += packets.length;
      else this.drop(ForwardDropReason.SPOOL_FULL, packets.length);
    } catch (err) {
      this.drop(ForwardDropReason.SPOOL_ERROR, packets.length);
      this.lastError = `spool: ${(err as Error).message}`;
    } finally {
      this.appending--;
      this.wake?.();
    }
  }

  /** Opens a link unless one is open or opening; retries with back-off until it works or we stop. */
  private connect(): void {
    if (this.connecting !== null || this.stopping) return;
    this.connecting = (async () => {
      while (!this.stopping) {
        try {
          const link = await (this.opts.open ?? openLink)(this.opts.dest);
          if (this.stopping) {
            link.close();
            break;
          }
          link.onBreak = () => {
            this.lastError = link.error;
            this.opts.logger.warn({ destination: this.name, error: link.error }, 'forward: connection lost; reconnecting');
            this.link = null;
            this.connect();
          };
          this.link = link;
          this.counters.connects++;
          this.backoffMs = BACKOFF_MIN_MS;
          this.opts.logger.info({ destination: this.name, address: this.opts.dest.spec }, 'forward: connected');
          for (const w of this.linkWaiters.splice(0)) w();
          this.wake?.();
          break;
        } catch (err) {
          this.lastError = (err as Error).message;
          await sleep(this.backoffMs);
          this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
        }
      }
      this.connecting = null;
    })();
  }

  /** Resolves with an open link, or null once stopping. */
  private async linkUp(): Promise<Link | null> {
    while (!this.stopping) {
      const l = this.link;
      if (l !== null && !l.broken) return l;
      this.connect();
      await new Promise<void>((resolve) => this.linkWaiters.push(resolve));
    }
    return null;
  }

  /** Sends every packet, across reconnects; resolves with how many were acknowledged (fewer only when stopping). */
  private async sendAll(packets: Buffer[]): Promise<number> {
    let from = 0;
    while (from < packets.length) {
      const link = await this.linkUp();
      if (link === null) break;
      const part = from === 0 ? packets : packets.slice(from);
      this.inFlight = part.length;
      const acked = await link.send(part);
      this.inFlight = 0;
      this.counters.forwarded += acked;
      from += acked;
    }
    return from;
  }

  private async run(): Promise<void> {
    const spool = this.opts.spool;
    while (!this.stopping) {
      if (spool !== null && this.up && !this.spoolIdle()) {
        // Order: what waits in memory is newer than the spool, so it goes behind it first.
        await this.spoolQueue();
        while (this.appending > 0 && !this.stopping) await this.nextWake(SPOOL_EVERY_MS);
        try {
          await spool.replay(async (packets) => {
            // Stopped mid-record: the record stays in the spool and is sent whole next time.
            if ((await this.sendAll(packets)) < packets.length) throw new Error('stopping');
            this.counters.replayed += packets.length;
          });
        } catch (err) {
          if (!this.stopping) this.lastError = `spool replay: ${(err as Error).message}`;
        }
        continue;
      }
      if (this.up && this.spoolIdle() && this.queue.length > 0) {
        const batch = this.takeBatch();
        const sent = await this.sendAll(batch.packets);
        if (sent < batch.packets.length) {
          // Stopped mid-batch: the unsent part goes back to the front, to the spool at close.
          const rest = batch.packets.slice(sent);
          this.queue.unshift(...rest);
          for (const p of rest) this.queueBytes += p.length;
        }
        continue;
      }
      await this.nextWake(SPOOL_EVERY_MS);
    }
  }

  private takeBatch(): { packets: Buffer[] } {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < BATCH_PACKETS && bytes < BATCH_BYTES) bytes += this.queue[n++]!.length;
    const packets = this.queue.splice(0, n);
    this.queueBytes -= bytes;
    return { packets };
  }

  /** Resolves after `ms`, or sooner when send(), a new link or a finished spool append wakes the loop. */
  private nextWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wake = done;
    });
  }
}

/** A timer that does not keep a stopping process alive. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
