/**
 * The periodic summary line (`log_summary_s`): packets received, rows stored and packets
 * dropped (per reason) over the last interval, logged even when everything is zero — so a
 * silent log means the daemon is alive and the network is quiet, not that the daemon is dead.
 */
import type { Logger } from './logger.js';
import type { Stats, StatsSnapshot } from './stats.js';

function total(counts: Readonly<Record<string, number>>): number {
  let n = 0;
  for (const v of Object.values(counts)) n += v;
  return n;
}

/** Per key, what grew since `before` (keys that did not grow are left out). */
function growth(now: Readonly<Record<string, number>>, before: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(now)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

/** The fields of one summary line: what changed between two snapshots taken `seconds` apart. */
export function summarize(before: StatsSnapshot, now: StatsSnapshot, seconds: number): Record<string, unknown> {
  const dropped = growth(now.dropped, before.dropped);
  return {
    interval_s: seconds,
    received: total(now.received) - total(before.received),
    stored: total(now.stored) - total(before.stored),
    dropped: total(dropped),
    dropped_by_reason: dropped,
  };
}

export class SummaryLog {
  private timer: NodeJS.Timeout | null = null;
  private last: StatsSnapshot;
  private lastAtMs = Date.now();

  constructor(
    private readonly stats: Stats,
    private readonly logger: Logger,
  ) {
    this.last = stats.snapshot();
  }

  /** (Re)starts the line every `intervalS` seconds; 0 stops it. */
  setInterval(intervalS: number): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (intervalS <= 0) return;
    this.timer = setInterval(() => this.logNow(), intervalS * 1000);
    this.timer.unref();
  }

  logNow(): void {
    const now = this.stats.snapshot();
    const nowMs = Date.now();
    const fields = summarize(this.last, now, Math.round((nowMs - this.lastAtMs) / 1000));
    this.last = now;
    this.lastAtMs = nowMs;
    this.logger.info(fields, `summary: ${String(fields['received'])} received, ${String(fields['stored'])} stored, ${String(fields['dropped'])} dropped in the last ${String(fields['interval_s'])} s`);
  }

  stop(): void {
    this.setInterval(0);
  }
}
