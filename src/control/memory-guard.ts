/**
 * The process-level memory bound (config `memory_limit_mb`). Every queue in the daemon has its
 * own bound (writer rows and bytes, batches waiting before the spool, hook queue, raw capture
 * pipe), but their sum, the V8 heap and the drivers' buffers are only bounded here: the
 * resident set size is sampled every `sampleMs`; above the limit new packets are shed at
 * ingress (counted `memory_limit`) so the queues can drain, and taken again once RSS is below
 * `resumeFraction` of the limit.
 *
 * RSS does not always fall when our queues empty (the allocator, V8 and SQLite keep freed
 * pages). Shedding then would drop traffic without freeing anything, so the guard also resumes
 * when nothing of ours is queued any more (`queuedBytes()` is 0), and takes the RSS of that
 * moment as a floor: it sheds again only when RSS grows a further 10 % of the limit above the
 * floor (and not within `holdOffMs`). The floor is forgotten once RSS is below the resume mark.
 */
import type { Logger } from 'pino';
import type { SipcaptureConfig } from '../config/types.js';

export interface MemoryGuardOptions {
  /** Shed above this RSS, bytes. */
  limitBytes: number;
  logger?: Logger | null;
  /** Sampling period, ms. Default 200. */
  sampleMs?: number;
  /** Take packets again below this fraction of the limit. Default 0.9. */
  resumeFraction?: number;
  /** Bytes queued in the writers (and anything else the daemon can free by draining). */
  queuedBytes?: () => number;
  /** After resuming because nothing was queued, no shedding for this long, ms. Default 5000. */
  holdOffMs?: number;
  /** The RSS source (tests). Default process.memoryUsage.rss. */
  rss?: () => number;
}

export interface MemoryGuardState {
  rssBytes: number;
  limitBytes: number;
  shedding: boolean;
  /** Times shedding started. */
  episodes: number;
  peakRssBytes: number;
}

export class MemoryGuard {
  /** Read on every packet: a plain field, no call. */
  shedding = false;
  private readonly limitBytes: number;
  private readonly resumeBytes: number;
  private readonly logger: Logger | null;
  private readonly queuedBytes: () => number;
  private readonly holdOffMs: number;
  private readonly rss: () => number;
  private readonly sampleMs: number;
  private timer: NodeJS.Timeout | null = null;
  private lastRss = 0;
  private peakRss = 0;
  private episodes = 0;
  private holdOffUntil = 0;
  private shedSince = 0;
  /** RSS when the guard last resumed with nothing queued (memory that is not ours); 0 = none. */
  private floor = 0;

  constructor(opts: MemoryGuardOptions) {
    this.limitBytes = opts.limitBytes;
    this.resumeBytes = opts.limitBytes * Math.min(1, Math.max(0.1, opts.resumeFraction ?? 0.9));
    this.logger = opts.logger ?? null;
    this.queuedBytes = opts.queuedBytes ?? (() => 0);
    this.holdOffMs = Math.max(0, opts.holdOffMs ?? 5000);
    this.rss = opts.rss ?? (() => process.memoryUsage.rss());
    this.sampleMs = Math.max(10, opts.sampleMs ?? 200);
  }

  start(): void {
    if (this.timer !== null) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One measurement and the decision; public so tests can step it. */
  sample(now = Date.now()): void {
    const rss = this.rss();
    this.lastRss = rss;
    if (rss > this.peakRss) this.peakRss = rss;
    if (!this.shedding) {
      if (rss < this.resumeBytes) this.floor = 0;
      const trigger = this.floor === 0 ? this.limitBytes : Math.max(this.limitBytes, this.floor + this.limitBytes * 0.1);
      if (rss > trigger && now >= this.holdOffUntil) {
        this.shedding = true;
        this.episodes++;
        this.shedSince = now;
        this.logger?.error(
          { rssMiB: mib(rss), limitMiB: mib(this.limitBytes), queuedMiB: mib(this.queuedBytes()) },
          'memory limit reached: dropping new packets (memory_limit) until the queues drain',
        );
      }
      return;
    }
    const queued = this.queuedBytes();
    if (rss < this.resumeBytes || queued === 0) {
      this.shedding = false;
      if (rss >= this.resumeBytes) {
        this.holdOffUntil = now + this.holdOffMs;
        this.floor = rss;
      } else {
        this.floor = 0;
      }
      this.logger?.warn(
        { rssMiB: mib(rss), limitMiB: mib(this.limitBytes), shedMs: now - this.shedSince },
        rss < this.resumeBytes ? 'memory below the limit again: taking packets' : 'nothing queued but RSS stays high (memory not held by queues): taking packets again',
      );
    }
  }

  state(): MemoryGuardState {
    return { rssBytes: this.lastRss, limitBytes: this.limitBytes, shedding: this.shedding, episodes: this.episodes, peakRssBytes: this.peakRss };
  }
}

function mib(n: number): number {
  return Math.round(n / 1048576);
}

/** The guard of `memory_limit_mb`, or null when it is 0 (no limit). */
export function memoryGuardFrom(cfg: Pick<SipcaptureConfig, 'memory_limit_mb'>, opts: Omit<MemoryGuardOptions, 'limitBytes'>): MemoryGuard | null {
  return cfg.memory_limit_mb > 0 ? new MemoryGuard({ ...opts, limitBytes: cfg.memory_limit_mb * 1048576 }) : null;
}
