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
}

export class Stats {
  private readonly receivedByKey = new Map<string, number>();
  private readonly droppedByReason = new Map<string, number>();
  private readonly storedByTable = new Map<string, number>();
  private readonly lastLogAt = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();

  /** @param logger where drops are reported; null in tests that only count. */
  constructor(
    private readonly logger: Logger | null,
    private readonly logIntervalMs = 10_000,
  ) {}

  /** One packet (or TCP frame) received by `listener`; `kind` is e.g. `hep3`, `hep2`, `ipip`. */
  received(listener: string, kind: string): void {
    const key = `${listener}|${kind}`;
    this.receivedByKey.set(key, (this.receivedByKey.get(key) ?? 0) + 1);
  }

  /** `count` packets or rows not stored, for `reason`; `detail` goes to the (rate-limited) log. */
  drop(reason: DropReasonValue, detail: string, count = 1): void {
    this.droppedByReason.set(reason, (this.droppedByReason.get(reason) ?? 0) + count);
    if (this.logger === null) return;
    const now = Date.now();
    const last = this.lastLogAt.get(reason) ?? 0;
    if (now - last >= this.logIntervalMs) {
      const suppressedSinceLast = this.suppressed.get(reason) ?? 0;
      this.lastLogAt.set(reason, now);
      this.suppressed.set(reason, 0);
      this.logger.warn({ reason, count, suppressedSinceLast }, `dropped: ${detail}`);
    } else {
      this.suppressed.set(reason, (this.suppressed.get(reason) ?? 0) + count);
    }
  }

  /** `count` rows committed to `table`. */
  stored(table: string, count: number): void {
    this.storedByTable.set(table, (this.storedByTable.get(table) ?? 0) + count);
  }

  droppedCount(reason: DropReasonValue): number {
    return this.droppedByReason.get(reason) ?? 0;
  }

  snapshot(): StatsSnapshot {
    return {
      received: Object.fromEntries(this.receivedByKey),
      dropped: Object.fromEntries(this.droppedByReason),
      stored: Object.fromEntries(this.storedByTable),
    };
  }
}
