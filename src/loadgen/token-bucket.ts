/**
 * Token bucket for the sender's rate: `rate` tokens per second, at most `capacity` banked.
 * The sender wakes about once a millisecond and sends what the bucket allows, so the rate is
 * exact over any window longer than a few milliseconds while bursts stay small. If the sender
 * stalls for longer than the capacity covers, those tokens are lost and the achieved rate falls
 * short — the summary reports the achieved rate, so this is visible rather than hidden.
 */
export class TokenBucket {
  private tokens: number;
  private lastNs: bigint;

  /**
   * @param rate tokens per second; 0 means unlimited
   * @param capacity most tokens banked (burst size); default 10 ms worth, at least 1
   */
  constructor(
    readonly rate: number,
    readonly capacity: number = Math.max(1, rate * 0.01),
    nowNs: bigint = process.hrtime.bigint(),
  ) {
    if (!(rate >= 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be a finite number ≥ 0, got ${rate}`);
    this.tokens = Math.min(1, this.capacity);
    this.lastNs = nowNs;
  }

  /** Takes up to `max` whole tokens available at `nowNs`; returns how many were taken. */
  take(max: number, nowNs: bigint = process.hrtime.bigint()): number {
    if (this.rate === 0) return max;
    const elapsedS = Number(nowNs - this.lastNs) / 1e9;
    this.lastNs = nowNs;
    this.tokens = Math.min(this.capacity, this.tokens + elapsedS * this.rate);
    const n = Math.min(max, Math.floor(this.tokens));
    this.tokens -= n;
    return n;
  }

  /** Milliseconds until at least one token is available (0 when one already is). */
  msUntilNext(): number {
    if (this.rate === 0 || this.tokens >= 1) return 0;
    return ((1 - this.tokens) / this.rate) * 1000;
  }
}
