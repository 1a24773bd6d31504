/**
 * Retries of one failed batch, for any output: the first attempt plus up to `retries` more,
 * with exponential back-off (util/backoff.ts), within `timeoutMs` of the first failure.
 * Kamailio retries in a busy loop; waiting lets a database that is restarting come back.
 */
import { backoffDelay, type WakeableSleep } from '../../util/backoff.js';

export interface RetryPolicy {
  /** Retries after the first attempt, 0–500 (Kamailio `insert_retries`). */
  retries: number;
  /** After the first failure, retries may start for this long, ms (0 = no limit). */
  timeoutMs: number;
  /** First back-off wait, ms (doubles per retry). */
  baseMs: number;
  /** Longest back-off wait, ms. */
  maxMs: number;
}

export interface RetryControl {
  /** No more retries (shutdown): the last error is returned at once. */
  stopped(): boolean;
  /** An error retrying cannot fix (the batch's content). */
  hopeless(err: unknown): boolean;
  sleep: WakeableSleep;
}

/** Runs `attempt` (null = success, else the error) until it succeeds or the policy gives up; returns its last answer. */
export async function withRetries(attempt: () => Promise<unknown>, policy: RetryPolicy, control: RetryControl): Promise<unknown> {
  let failures = 0;
  let firstFailureAt = 0;
  for (;;) {
    const err = await attempt();
    if (err === null) return null;
    failures++;
    if (failures === 1) firstFailureAt = Date.now();
    if (control.stopped() || failures > policy.retries || control.hopeless(err)) return err;
    let delay = backoffDelay(failures, policy.baseMs, policy.maxMs);
    if (policy.timeoutMs > 0) {
      const remaining = firstFailureAt + policy.timeoutMs - Date.now();
      if (remaining <= 0) return err;
      delay = Math.min(delay, remaining);
    }
    await control.sleep.sleep(delay);
  }
}
