/**
 * The relief half of an IngestFlow: callers waiting for congestion to end are resumed once, by
 * a poll that runs only while someone waits (the congestion has no event of its own: it ends
 * when queues drain, in another component or another thread).
 */
export class ReliefPoll {
  private waiting: (() => void)[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** True while still congested. */
    private readonly congested: () => boolean,
    private readonly everyMs: number,
  ) {}

  /** Calls `resume` once, at the first poll that finds the congestion over. */
  add(resume: () => void): void {
    this.waiting.push(resume);
    this.timer ??= setInterval(() => {
      if (this.congested()) return;
      this.stop();
      const resumes = this.waiting;
      this.waiting = [];
      for (const r of resumes) r();
    }, this.everyMs);
  }

  /** Stops polling (the waiting callers are kept, and polled for again on the next add). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
