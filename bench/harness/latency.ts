/**
 * End-to-end latency: packet timestamp (= the sender's send time, in micro_ts) to the row being
 * visible in the database, which is when its transaction committed.
 *
 * A poller asks the database every `intervalMs` for rows above a watermark id. Each query's
 * snapshot starts at the recorded poll time, so a row first seen at poll t committed in
 * (previous poll, t]: the measured latency t − micro_ts overestimates the true one by less than
 * one poll interval plus the query time (on average about half an interval). Ids are assigned
 * before commit, so batches may become visible out of id order; the watermark only advances over
 * a contiguous run of seen ids, and a gap (a rolled-back batch) is skipped after `gapMs`.
 */
import { performance } from 'node:perf_hooks';

export type FetchAfter = (after: number, limit: number) => Promise<[number, number][]>;

const FETCH_LIMIT = 50_000;

function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export class LatencyPoller {
  /** Latency samples in ms, one per row seen. */
  private readonly samples: number[] = [];
  private readonly above = new Set<number>();
  private watermark = 0;
  private gapSince = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Rows seen so far. */
  seen = 0;
  /** When the last new row was seen (ms, wall clock). */
  lastNewAt = 0;
  polls = 0;
  pollErrors = 0;
  lastError = '';

  constructor(
    private readonly fetch: FetchAfter,
    private readonly intervalMs = 100,
    private readonly gapMs = 3000,
  ) {}

  /** Ignore rows up to `id` (the warm-up's). */
  skipThrough(id: number): void {
    this.watermark = Math.max(this.watermark, id);
  }

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.pollOnce()
        .catch((err: unknown) => {
          this.pollErrors++;
          this.lastError = String(err);
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    tick();
  }

  /** One poll (also used for the final one after the step). */
  async pollOnce(): Promise<void> {
    for (;;) {
      const t = nowMs();
      const rows = await this.fetch(this.watermark, FETCH_LIMIT);
      this.polls++;
      let fresh = 0;
      for (const [id, microTs] of rows) {
        if (this.above.has(id)) continue;
        this.above.add(id);
        this.samples.push(t - microTs / 1000);
        fresh++;
      }
      if (fresh > 0) {
        this.seen += fresh;
        this.lastNewAt = t;
      }
      this.advance(t);
      if (rows.length < FETCH_LIMIT) return;
    }
  }

  private advance(t: number): void {
    while (this.above.delete(this.watermark + 1)) this.watermark++;
    if (this.above.size === 0) {
      this.gapSince = 0;
      return;
    }
    if (this.gapSince === 0) this.gapSince = t;
    else if (t - this.gapSince > this.gapMs) {
      // A hole that stays: ids of a rolled-back batch. Jump over it.
      this.watermark = Math.min(...this.above) - 1;
      this.gapSince = 0;
      this.advance(t);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Percentile (0..100) of the latency samples in ms; NaN without samples. */
  percentiles(ps: readonly number[]): number[] {
    if (this.samples.length === 0) return ps.map(() => Number.NaN);
    const sorted = Float64Array.from(this.samples).sort();
    return ps.map((p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!);
  }
}
