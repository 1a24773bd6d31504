/**
 * `--viewer-load`: someone using the viewer while a step runs. One client asks the daemon's
 * viewer API back to back — the broadest search (the last hour, 1,000 rows, no filter: the
 * database sorts every row of the hour), a search by From user, and the live view's `latest` —
 * so the step shows whether reading disturbs capture.
 */
export interface ViewerLoadResult {
  queries: number;
  errors: number;
  meanMs: number;
  maxMs: number;
  /** The first error answer, if any. */
  firstError: string | null;
}

const PATHS = ['/api/search?limit=1000', '/api/search?from_user=%2B4912345*&limit=100', '/api/latest?limit=200'];

export class ViewerLoad {
  private running = true;
  private readonly done: Promise<void>;
  private queries = 0;
  private errors = 0;
  private totalMs = 0;
  private maxMs = 0;
  private firstError: string | null = null;

  constructor(httpPort: number) {
    this.done = this.loop(`http://127.0.0.1:${httpPort}`);
  }

  private async loop(base: string): Promise<void> {
    for (let i = 0; this.running; i++) {
      const t0 = performance.now();
      try {
        const res = await fetch(`${base}${PATHS[i % PATHS.length]!}`);
        const body = await res.text();
        if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.slice(0, 200)}`);
      } catch (err) {
        this.errors++;
        this.firstError ??= (err as Error).message;
        await new Promise((r) => setTimeout(r, 100));
      }
      const ms = performance.now() - t0;
      this.queries++;
      this.totalMs += ms;
      this.maxMs = Math.max(this.maxMs, ms);
    }
  }

  async stop(): Promise<ViewerLoadResult> {
    this.running = false;
    await this.done;
    return { queries: this.queries, errors: this.errors, meanMs: this.queries > 0 ? this.totalMs / this.queries : 0, maxMs: this.maxMs, firstError: this.firstError };
  }
}
