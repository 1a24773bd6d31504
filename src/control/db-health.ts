/**
 * What /health says about each database beyond "inserts are failing right now":
 *
 * - at start, and again every `probeEveryMs` while it fails, each database with a server is
 *   asked for a trivial query (Store.ping). A refused password, an unknown database or an
 *   unreachable host makes it `unhealthy` with that reason at once — not only once the first
 *   row fails — and is logged as an ERROR (once per distinct reason);
 * - a database that has rows waiting (queued or in flight) and committed nothing for
 *   `hungAfterMs` is `degraded`: a frozen backend or a held lock makes inserts hang without
 *   failing, so the writer alone never says so.
 *
 * A committed batch clears both for that database.
 */
import type { StorageStats } from '../store/store-set.js';
import { connectProblem } from '../store/connect-errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { Stats } from '../telemetry/stats.js';

export interface DatabaseProblem {
  /** The URL, password masked. */
  db: string;
  status: 'unhealthy' | 'degraded';
  reason: string;
}

export interface DatabaseHealthOptions {
  storage: {
    probe(): Promise<{ db: string; error: unknown }[]>;
    storageStats(): StorageStats[];
  };
  stats: Stats;
  logger: Logger;
  /** Rows waiting and nothing committed for this long: degraded. Default 10 s. */
  hungAfterMs?: number;
  /** How often a database that failed its probe is asked again. Default 5 s. */
  probeEveryMs?: number;
  /** How often waiting rows are looked at. Default 1 s. */
  sampleEveryMs?: number;
}

interface DbState {
  /** The probe's failure, or null. */
  probeFailure: string | null;
  lastCommitAtMs: number;
  /** When rows started waiting (0: none waiting at the last look). */
  waitingSinceMs: number;
}

export class DatabaseHealth {
  private readonly dbs = new Map<string, DbState>();
  private readonly timers: NodeJS.Timeout[] = [];
  private probing = false;
  private stopped = false;

  constructor(private readonly opts: DatabaseHealthOptions) {
    opts.stats.onBatchWritten((db, _rows, _seconds, ok) => {
      if (!ok) return;
      const s = this.state(db);
      s.lastCommitAtMs = Date.now();
      if (s.probeFailure !== null) this.recovered(db, s);
    });
  }

  /** Probes every database now, then keeps watching. */
  start(): void {
    void this.probe(true);
    const probeEvery = setInterval(() => {
      if ([...this.dbs.values()].some((s) => s.probeFailure !== null)) void this.probe(false);
    }, this.opts.probeEveryMs ?? 5000);
    const sampleEvery = setInterval(() => this.sample(), this.opts.sampleEveryMs ?? 1000);
    probeEvery.unref();
    sampleEvery.unref();
    this.timers.push(probeEvery, sampleEvery);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
  }

  /** The databases that are not fine, worst first. */
  problems(): DatabaseProblem[] {
    const hungAfter = this.opts.hungAfterMs ?? 10_000;
    const now = Date.now();
    const out: DatabaseProblem[] = [];
    for (const s of this.opts.storage.storageStats()) {
      const st = this.dbs.get(s.db);
      if (st === undefined) continue;
      if (st.probeFailure !== null) {
        out.push({ db: s.db, status: 'unhealthy', reason: `database ${s.db} ${st.probeFailure}` });
        continue;
      }
      const waiting = s.queueDepth + s.inFlightBatches > 0;
      if (!waiting || st.waitingSinceMs === 0) continue;
      const idleMs = now - Math.max(st.lastCommitAtMs, st.waitingSinceMs);
      if (idleMs >= hungAfter) {
        out.push({ db: s.db, status: 'degraded', reason: `database ${s.db}: nothing committed for ${Math.floor(idleMs / 1000)} s while ${s.queueDepth} rows wait (${s.inFlightBatches} batches in flight)` });
      }
    }
    return out.sort((a, b) => (a.status === b.status ? 0 : a.status === 'unhealthy' ? -1 : 1));
  }

  private state(db: string): DbState {
    let s = this.dbs.get(db);
    if (s === undefined) {
      s = { probeFailure: null, lastCommitAtMs: 0, waitingSinceMs: 0 };
      this.dbs.set(db, s);
    }
    return s;
  }

  private sample(): void {
    const now = Date.now();
    for (const s of this.opts.storage.storageStats()) {
      const st = this.state(s.db);
      if (s.queueDepth + s.inFlightBatches === 0) st.waitingSinceMs = 0;
      else if (st.waitingSinceMs === 0) st.waitingSinceMs = now;
    }
  }

  private async probe(atStart: boolean): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      for (const { db, error } of await this.opts.storage.probe()) {
        if (this.stopped) return;
        const s = this.state(db);
        if (error === null) {
          if (s.probeFailure !== null) this.recovered(db, s);
          continue;
        }
        const problem = connectProblem(error);
        if (problem.text === s.probeFailure) continue;
        s.probeFailure = problem.text;
        const what = problem.kind === 'authentication' ? 'fix the user or password in db_url' : problem.kind === 'unknown_database' ? 'create it (CREATE DATABASE) or fix db_url' : 'rows are spooled until it answers';
        this.opts.logger.error({ db, reason: problem.kind, err: problem.text, atStart }, `database ${db} ${problem.text}: ${what}`);
      }
    } finally {
      this.probing = false;
    }
  }

  private recovered(db: string, s: DbState): void {
    this.opts.logger.info({ db, was: s.probeFailure }, `database ${db} answers again`);
    s.probeFailure = null;
  }
}
