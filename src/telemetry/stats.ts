/**
 * Counters for everything that happens to a packet, in one place. Listeners, the pipeline and
 * the writers report here; metrics (prom-client) and the RPC read from here. A drop is also
 * logged, rate-limited per reason, so a flood of bad packets cannot flood the log.
 */
import type { Logger } from 'pino';
import type { DropReasonValue } from './drop-reasons.js';

export interface StatsSnapshot {
  received: Record<string, number>;
  dropped: Record<string, number>;
  stored: Record<string, number>;
  /** nonsip_hook outcomes (continue, handled, rejected, error, timeout, …); empty without a hook. */
  hook: Record<string, number>;
  /** TCP/TLS connections refused or closed by sipcapture, per reason (see ConnectionRejectReason). */
  tcpRejected: Record<string, number>;
}

/**
 * Why sipcapture refused or closed a TCP/TLS connection. Data lost with a closed connection (a
 * half frame) is counted separately, as the packet drop reason tcp_framing.
 */
export const ConnectionRejectReason = {
  /** The source address is not in the listener's allow_sources (closed at accept). */
  SOURCE_DENIED: 'source_denied',
  /** tcp_max_connections open connections on the listener already. */
  LIMIT_TOTAL: 'limit_total',
  /** tcp_max_connections_per_ip open connections from this address already. */
  LIMIT_PER_IP: 'limit_per_ip',
  /** TLS handshake failed (not TLS, bad protocol version, timeout …). */
  TLS_HANDSHAKE: 'tls_handshake',
  /** tls_verify_client: no client certificate, or one that does not verify against tls_ca_file. */
  TLS_CLIENT_CERT: 'tls_client_cert',
  /** Nothing received for tcp_idle_timeout_s. */
  IDLE_TIMEOUT: 'idle_timeout',
} as const;

export type ConnectionRejectReasonValue = (typeof ConnectionRejectReason)[keyof typeof ConnectionRejectReason];

/** Database batch writes of one database URL (for the RPC; metrics keep the histogram). */
export interface BatchSummary {
  batches: number;
  failed: number;
  rows: number;
  seconds: number;
  maxSeconds: number;
}

/** One database write attempt: its database, rows, duration and outcome. */
export type BatchListener = (db: string, rows: number, seconds: number, ok: boolean) => void;

/** What the data path counts per packet; a pipeline thread counts into its own and hands the counts over. */
export interface PacketCounts {
  received(listener: string, kind: string, count?: number): void;
  drop(reason: DropReasonValue, detail: string, count?: number): void;
}

/** What a stream listener counts (listeners/tcp.ts); a TCP receive thread hands each over to the main thread. */
export interface ConnectionCounts {
  drop(reason: DropReasonValue, detail: string, count?: number): void;
  connectionRejected(reason: ConnectionRejectReasonValue, detail: string): void;
}

export class Stats implements PacketCounts, ConnectionCounts {
  private readonly receivedByKey = new Map<string, number>();
  private readonly droppedByReason = new Map<string, number>();
  private readonly storedByTable = new Map<string, number>();
  private readonly lastLogAt = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();
  private readonly hookByResult = new Map<string, number>();
  private readonly tcpRejectedByReason = new Map<string, number>();
  private readonly batchesByDb = new Map<string, BatchSummary>();
  private readonly batchListeners: BatchListener[] = [];

  /** @param logger where drops are reported; null in tests that only count. */
  constructor(
    private readonly logger: Logger | null,
    private logIntervalMs = 10_000,
  ) {}

  /** log_rate_limit_s changed by a reload. */
  setLogInterval(ms: number): void {
    this.logIntervalMs = ms;
  }

  /** One packet (or TCP frame) received by `listener`; `kind` is e.g. `hep3`, `hep2`, `ipip`. */
  received(listener: string, kind: string, count = 1): void {
    const key = `${listener}|${kind}`;
    this.receivedByKey.set(key, (this.receivedByKey.get(key) ?? 0) + count);
  }

  /** `count` packets or rows not stored, for `reason`; `detail` goes to the (rate-limited) log. */
  drop(reason: DropReasonValue, detail: string, count = 1): void {
    this.droppedByReason.set(reason, (this.droppedByReason.get(reason) ?? 0) + count);
    this.rateLimitedWarn(reason, { reason, count }, `dropped: ${detail}`, count);
  }

  /** One warning per `key` per log interval; what is held back is reported with the next one. */
  private rateLimitedWarn(key: string, fields: Record<string, unknown>, message: string, count: number): void {
    if (this.logger === null) return;
    const now = Date.now();
    const last = this.lastLogAt.get(key) ?? 0;
    if (now - last >= this.logIntervalMs) {
      const suppressedSinceLast = this.suppressed.get(key) ?? 0;
      this.lastLogAt.set(key, now);
      this.suppressed.set(key, 0);
      this.logger.warn({ ...fields, suppressedSinceLast }, message);
    } else {
      this.suppressed.set(key, (this.suppressed.get(key) ?? 0) + count);
    }
  }

  /** A TCP/TLS connection refused or closed for `reason`; `detail` goes to the (rate-limited) log. */
  connectionRejected(reason: ConnectionRejectReasonValue, detail: string): void {
    this.tcpRejectedByReason.set(reason, (this.tcpRejectedByReason.get(reason) ?? 0) + 1);
    this.rateLimitedWarn(`tcp:${reason}`, { reason, connection: true }, `connection closed: ${detail}`, 1);
  }

  connectionRejectedCount(reason: ConnectionRejectReasonValue): number {
    return this.tcpRejectedByReason.get(reason) ?? 0;
  }

  /** `count` rows committed to `table`. */
  stored(table: string, count: number): void {
    this.storedByTable.set(table, (this.storedByTable.get(table) ?? 0) + count);
  }

  /** One nonsip_hook call ended with `result` (see hook/runner.ts). */
  hook(result: string, count = 1): void {
    this.hookByResult.set(result, (this.hookByResult.get(result) ?? 0) + count);
  }

  hookCount(result: string): number {
    return this.hookByResult.get(result) ?? 0;
  }

  /** One database write attempt (the writer reports it; metrics turn it into a histogram). */
  batchWritten(db: string, rows: number, seconds: number, ok: boolean): void {
    let b = this.batchesByDb.get(db);
    if (b === undefined) {
      b = { batches: 0, failed: 0, rows: 0, seconds: 0, maxSeconds: 0 };
      this.batchesByDb.set(db, b);
    }
    b.batches++;
    if (ok) b.rows += rows;
    else b.failed++;
    b.seconds += seconds;
    if (seconds > b.maxSeconds) b.maxSeconds = seconds;
    for (const l of this.batchListeners) l(db, rows, seconds, ok);
  }

  onBatchWritten(listener: BatchListener): void {
    this.batchListeners.push(listener);
  }

  batchSummaries(): ReadonlyMap<string, Readonly<BatchSummary>> {
    return this.batchesByDb;
  }

  droppedCount(reason: DropReasonValue): number {
    return this.droppedByReason.get(reason) ?? 0;
  }

  snapshot(): StatsSnapshot {
    return {
      received: Object.fromEntries(this.receivedByKey),
      dropped: Object.fromEntries(this.droppedByReason),
      stored: Object.fromEntries(this.storedByTable),
      hook: Object.fromEntries(this.hookByResult),
      tcpRejected: Object.fromEntries(this.tcpRejectedByReason),
    };
  }
}
