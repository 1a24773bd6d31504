/**
 * Puts spooled batches back into their output (the database) once it works again, in spool order.
 *
 * A loop per spool: while the spool is empty it sleeps until `notify()` (something was
 * spooled). Otherwise it replays: each record goes through the target's `replay()` (for the
 * stores `StoreWriter.replay()`), which writes
 * it, isolates rows the database rejects for their content (counted), or rejects while the
 * database is down — then the record stays first in line and the loop waits, with exponential
 * back-off (util/backoff.ts, `probeBaseMs` doubling up to `probeMaxMs`), before trying that record again. So the
 * first spooled record is the probe: no separate health query is needed.
 *
 * Live traffic comes first: before each record the replayer waits while the writer has batches
 * waiting for a flush slot, but at most `maxYieldMs`, so a busy daemon still replays at least a
 * record per `maxYieldMs`.
 */
import type { Logger } from 'pino';
import { Backoff, WakeableSleep } from '../../util/backoff.js';
import type { Spool, Spoolable } from './segment-log.js';

/** Where replayed batches go: the output's writer. */
export interface ReplayTarget<B> {
  /** Live batches waiting for a write slot: replay yields to them. */
  readonly readyBatches: number;
  /** Resolves once the batch is written (or counted, or spooled again); rejects while the output is down. */
  replay(batch: B): Promise<void>;
}

export interface SpoolReplayerOptions {
  logger?: Logger | null;
  /** First wait after a failed replay, ms. Default 250. */
  probeBaseMs?: number;
  /** Longest wait between replay attempts while the database is down, ms. Default 5000. */
  probeMaxMs?: number;
  /** Longest a record waits for live batches to be written first, ms. Default 1000. */
  maxYieldMs?: number;
}

class Stopping extends Error {
  constructor() {
    super('replay stopped');
  }
}

export class SpoolReplayer<B extends Spoolable> {
  private readonly logger: Logger | null;
  private readonly backoff: Backoff;
  private readonly maxYieldMs: number;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private notified = false;
  private wakeIdle: (() => void) | null = null;
  // Never the reason the process stays up: stop() ends the loop explicitly.
  private readonly sleeper = new WakeableSleep(true);
  private active = false;

  constructor(
    private readonly writer: ReplayTarget<B>,
    private readonly spool: Spool<B>,
    opts: SpoolReplayerOptions = {},
  ) {
    this.logger = opts.logger ?? null;
    const probeBaseMs = Math.max(1, opts.probeBaseMs ?? 250);
    this.backoff = new Backoff(probeBaseMs, Math.max(probeBaseMs, opts.probeMaxMs ?? 5000));
    this.maxYieldMs = Math.max(0, opts.maxYieldMs ?? 1000);
  }

  /** True while a replay pass is writing records. */
  get replaying(): boolean {
    return this.active;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Something was spooled: wake the loop if it is idle (a back-off wait is not cut short). */
  notify(): void {
    this.notified = true;
    this.wakeIdle?.();
  }

  /**
   * Stops after the record being written (or at once when idle or waiting). Records not
   * replayed stay in the spool for the next start.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeIdle?.();
    this.sleeper.wakeAll(true);
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      if (this.spool.isEmpty) {
        await this.idle();
        continue;
      }
      this.notified = false;
      this.active = true;
      try {
        const res = await this.spool.replay((b) => this.handle(b));
        if (this.backoff.failures > 0 || res.batches > 0) {
          this.logger?.info({ spool: this.spool.dir, batches: res.batches, rows: res.rows }, 'spool replayed into the database');
        }
        if (res.corruptRecords > 0) {
          this.logger?.error(
            { spool: this.spool.dir, records: res.corruptRecords, bytes: res.corruptBytes },
            'spool records failed their checksum and were skipped (their rows are lost)',
          );
        }
        this.backoff.succeed();
      } catch (err) {
        if (this.stopping || err instanceof Stopping) break;
        const delay = this.backoff.fail();
        if (this.backoff.failures === 1) {
          this.logger?.warn({ spool: this.spool.dir, err: err instanceof Error ? err.message : String(err) }, 'spool replay waits for the database');
        }
        await this.sleeper.sleep(delay);
      } finally {
        this.active = false;
      }
    }
  }

  private async handle(batch: B): Promise<void> {
    if (this.stopping) throw new Stopping();
    const until = Date.now() + this.maxYieldMs;
    while (this.writer.readyBatches > 0 && Date.now() < until && !this.stopping) await this.sleeper.sleep(10);
    if (this.stopping) throw new Stopping();
    await this.writer.replay(batch);
  }

  private idle(): Promise<void> {
    if (this.notified || this.stopping) {
      this.notified = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.wakeIdle = () => {
        this.wakeIdle = null;
        resolve();
      };
    });
  }
}
