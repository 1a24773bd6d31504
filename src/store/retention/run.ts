/**
 * Retention over every database of a configuration: once (`sipcapture db prune`), or in the
 * daemon at start and every retention_interval_s, with every drop logged and counted.
 */
import type { Logger } from 'pino';
import type { SipcaptureConfig } from '../../config/types.js';
import { maskPasswords } from '../../config/db-url.js';
import { openRetentionDb, type RetentionDb } from './databases.js';
import { prunePolicies, pruneDatabase, retentionEnabled, type PruneDrop, type PruneResult } from './prune.js';

export interface PruneAllOptions {
  nowMs?: number;
  dryRun?: boolean;
  onDrop?: (db: string, drop: PruneDrop) => void;
  /** Opens a database (tests: a wrapper). Default: databases.ts openRetentionDb. */
  open?: (url: string) => Promise<RetentionDb>;
}

/** One pass over every database; a database that fails does not stop the others (its error is in the result). */
export async function pruneAll(cfg: SipcaptureConfig, opts: PruneAllOptions = {}): Promise<(PruneResult & { error?: string })[]> {
  const out: (PruneResult & { error?: string })[] = [];
  for (const [url, policy] of prunePolicies(cfg)) {
    let db: RetentionDb | null = null;
    try {
      db = await (opts.open ?? openRetentionDb)(url);
      const display = db.displayUrl;
      out.push(
        await pruneDatabase(db, policy, {
          nowMs: opts.nowMs ?? Date.now(),
          dryRun: opts.dryRun === true,
          onDrop: (d) => opts.onDrop?.(display, d),
        }),
      );
    } catch (err) {
      out.push({ db: maskPasswords(url), drops: [], error: err instanceof Error ? err.message : String(err) });
    } finally {
      await db?.close();
    }
  }
  return out;
}

/** What the daemon's retention did, for metrics. */
export interface RetentionCounters {
  /** Tables dropped, by `db|kind|reason`. */
  dropped: Map<string, number>;
  runs: { ok: number; failed: number; skipped: number };
}

/** The daemon's retention: a pass at start and every retention_interval_s, one at a time. */
export class RetentionScheduler {
  readonly counters: RetentionCounters = { dropped: new Map(), runs: { ok: 0, failed: 0, skipped: 0 } };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly cfg: SipcaptureConfig,
    private readonly logger: Logger | null,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Starts the schedule when the config turns retention on; a no-op otherwise. */
  start(): void {
    if (!retentionEnabled(this.cfg)) return;
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.cfg.retention_interval_s * 1000);
    this.timer.unref();
  }

  /** One pass (waits for a pass already running instead of starting a second). */
  runOnce(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    const results = await pruneAll(this.cfg, {
      nowMs: this.nowMs(),
      onDrop: (db, d) => {
        const key = `${db}|${d.kind}|${d.reason}`;
        this.counters.dropped.set(key, (this.counters.dropped.get(key) ?? 0) + 1);
        this.logger?.info(
          { db, table: d.name, kind: d.kind, reason: d.reason, from: new Date(d.startMs).toISOString(), to: new Date(d.endMs).toISOString() },
          d.reason === 'age' ? 'retention: dropped a table older than its retention' : 'retention: dropped the oldest table (size guard)',
        );
      },
    });
    for (const r of results) {
      if (r.error !== undefined) {
        this.counters.runs.failed++;
        this.logger?.warn({ db: r.db, err: r.error }, 'retention pass failed; retrying at the next interval');
      } else if (r.skipped !== undefined) {
        this.counters.runs.skipped++;
        this.logger?.debug({ db: r.db }, `retention pass skipped: ${r.skipped}`);
      } else {
        this.counters.runs.ok++;
        if (r.overLimit !== undefined) this.logger?.warn({ db: r.db }, `retention size guard: ${r.overLimit}`);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
