/**
 * Exponential back-off, the one rule for every loop that waits before trying again (the store
 * writer's retries, the spool replayer's probes, the raw capture supervisor's and the hook
 * runner's restarts): `baseMs` after the first failure, doubling per further failure, never
 * more than `maxMs`.
 */

/** The wait after `failures` consecutive failures (1 = the first): base · 2^(failures−1), capped. */
export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  const n = Math.max(1, Math.floor(failures));
  return Math.min(maxMs, baseMs * 2 ** Math.min(n - 1, 30));
}

/** A failure counter with its back-off: `fail()` gives the next wait, `succeed()` starts over. */
export class Backoff {
  private count = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  /** Consecutive failures since the last success. */
  get failures(): number {
    return this.count;
  }

  /** Counts one more failure and returns the wait before the next try. */
  fail(): number {
    this.count++;
    return backoffDelay(this.count, this.baseMs, this.maxMs);
  }

  succeed(): void {
    this.count = 0;
  }
}

/**
 * Waits that can all be ended at once (a shutdown that cannot wait for the back-off). After
 * `wakeAll()` with `stay` set, later waits end at once too.
 */
export class WakeableSleep {
  private readonly sleepers = new Set<() => void>();
  private awake = false;

  /** `unref`: the wait alone does not keep the process up. */
  constructor(private readonly unref = false) {}

  sleep(ms: number): Promise<void> {
    if (this.awake) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      if (this.unref) timer.unref();
      this.sleepers.add(wake);
    });
  }

  /** Ends every wait now; with `stay`, every later wait too. */
  wakeAll(stay = false): void {
    if (stay) this.awake = true;
    for (const wake of [...this.sleepers]) wake();
  }
}
