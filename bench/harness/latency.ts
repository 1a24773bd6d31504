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

/** What a step reads from its poller: the latency percentiles, and whether rows still arrive. */
export interface StepPoller {
  start(): void;
  stop(): Promise<void>;
  /** One poll; after stop() the last one, which also looks for rows that came late. */
  pollOnce(): Promise<void>;
  /** Rows of the step visible so far, and when that number last grew (ms, wall clock). */
  progress(): Promise<{ seen: number; lastNewAt: number }>;
  /** Percentile (0..100) of the latency samples in ms; NaN without samples. */
  percentiles(ps: readonly number[]): number[];
}

const FETCH_LIMIT = 50_000;

function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The poll loop both pollers share: pollOnce() every intervalMs until stop(), errors counted. */
abstract class PeriodicPoller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  protected stopped = false;
  pollErrors = 0;
  lastError = '';

  constructor(protected readonly intervalMs: number) {}

  abstract pollOnce(): Promise<void>;

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

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}

export class LatencyPoller extends PeriodicPoller implements StepPoller {
  /** Latency samples in ms, one per row seen. */
  private readonly samples: number[] = [];
  private readonly above = new Set<number>();
  private watermark = 0;
  private gapSince = 0;
  /** Rows seen so far. */
  seen = 0;
  /** When the last new row was seen (ms, wall clock). */
  lastNewAt = 0;
  polls = 0;

  constructor(
    private readonly fetch: FetchAfter,
    intervalMs = 100,
    private readonly gapMs = 3000,
  ) {
    super(intervalMs);
  }

  /** Ignore rows up to `id` (the warm-up's). */
  skipThrough(id: number): void {
    this.watermark = Math.max(this.watermark, id);
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

  progress(): Promise<{ seen: number; lastNewAt: number }> {
    return Promise.resolve({ seen: this.seen, lastNewAt: this.lastNewAt });
  }

  percentiles(ps: readonly number[]): number[] {
    return percentilesOf(this.samples, ps);
  }
}

function percentilesOf(samples: readonly number[], ps: readonly number[]): number[] {
  if (samples.length === 0) return ps.map(() => Number.NaN);
  const sorted = Float64Array.from(samples).sort();
  return ps.map((p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!);
}

/**
 * Rows whose timestamp (µs) is in [start, start + widthUs) for one of `startsUs`, as [key, µs];
 * the key is unique per row (partition and id).
 */
export type FetchSlices = (startsUs: readonly number[], widthUs: number) => Promise<[string, number][]>;

export interface SampledPollerOptions {
  intervalMs?: number;
  /** A slice starts every `everyMs` of send time (default 50)… */
  everyMs?: number;
  /** …and is `widthUs` long (default 500: 1 % of the rows). */
  widthUs?: number;
  /** Slices younger than this are read at every poll, older ones at every `lateEvery`-th (defaults 5000 ms, 10). */
  freshMs?: number;
  lateEvery?: number;
}

/**
 * Latency for tables the LatencyPoller cannot follow: HOMER 7's hep_proto_* parents have one id
 * sequence each and no index on id (a poll by id is a sequential scan of the step's partitions,
 * ~130 ms per 180,000 rows here), only one on create_date. So this poller follows a sample: the
 * rows sent in thin slices of time (by default 0.5 ms in every 50 ms from start(), 1 % of the
 * rows), each slice an index range scan. A row's latency is, as above, the start of the first
 * poll that saw it minus its timestamp. Slices stay polled at every poll for `freshMs`, then at
 * every `lateEvery`-th poll (a late row's latency is then over by up to that many intervals),
 * and all of them in the last poll after stop(). Whether rows still arrive comes from `count`
 * (all rows of the step, not only the sampled ones).
 */
export class SampledLatencyPoller extends PeriodicPoller implements StepPoller {
  private readonly samples: number[] = [];
  private readonly seenKeys = new Set<string>();
  private readonly everyMs: number;
  private readonly widthUs: number;
  private readonly freshMs: number;
  private readonly lateEvery: number;
  private origin = 0;
  private lastCount = -1;
  private lastNewAt = 0;
  polls = 0;

  constructor(
    private readonly fetch: FetchSlices,
    private readonly count: () => Promise<number>,
    opts: SampledPollerOptions = {},
  ) {
    super(opts.intervalMs ?? 100);
    this.everyMs = opts.everyMs ?? 50;
    this.widthUs = opts.widthUs ?? 500;
    this.freshMs = opts.freshMs ?? 5000;
    this.lateEvery = Math.max(1, opts.lateEvery ?? 10);
  }

  /** Rows sampled (seen in a slice) so far. */
  get sampled(): number {
    return this.samples.length;
  }

  override start(): void {
    // Slices start at the first whole ms from now: rows sent before (the warm-up's) are never in one.
    this.origin = Math.ceil(nowMs());
    super.start();
  }

  /**
   * Slice j starts in the j-th period of `everyMs` at a point that moves by the golden ratio
   * from one period to the next: a sender that sends in bursts on a timer would otherwise meet
   * slices at the same phase every time (ms-aligned slices took 1.3-2.1 % of the rows, not 1 %).
   */
  private sliceStartUs(j: number): number {
    return Math.round((this.origin + j * this.everyMs + ((j * 0.6180339887498949) % 1) * this.everyMs) * 1000);
  }

  /** The slice starts (µs) a poll at `t` reads: those begun by `t`, from the last `freshMs` unless `all`. */
  slicesAt(t: number, all: boolean): number[] {
    const out: number[] = [];
    if (this.origin === 0) return out;
    const fromUs = all ? 0 : (t - this.freshMs) * 1000;
    const j0 = all ? 0 : Math.max(0, Math.floor((t - this.freshMs - this.origin) / this.everyMs));
    for (let j = j0; j <= (t - this.origin) / this.everyMs; j++) {
      const us = this.sliceStartUs(j);
      if (us >= fromUs && us <= t * 1000) out.push(us);
    }
    return out;
  }

  async pollOnce(): Promise<void> {
    const t = nowMs();
    const all = this.stopped || this.polls % this.lateEvery === 0;
    const starts = this.slicesAt(t, all);
    this.polls++;
    if (starts.length === 0) return;
    for (const [key, us] of await this.fetch(starts, this.widthUs)) {
      if (this.seenKeys.has(key)) continue;
      this.seenKeys.add(key);
      this.samples.push(t - us / 1000);
    }
  }

  async progress(): Promise<{ seen: number; lastNewAt: number }> {
    const n = await this.count();
    if (n !== this.lastCount) {
      this.lastCount = n;
      this.lastNewAt = nowMs();
    }
    return { seen: n, lastNewAt: this.lastNewAt };
  }

  percentiles(ps: readonly number[]): number[] {
    return percentilesOf(this.samples, ps);
  }
}
