/**
 * An in-memory Store for writer / spool / replay tests: it can be "down" (every call fails like
 * a refused connection), reject rows for their content (a poisoned callid), and lose the answer
 * to a COMMIT that did happen (an ambiguous commit). Committed rows are kept in order.
 */
import type { TableKind } from '../../src/capture/rows.js';
import type { RowBatch, Store } from '../../src/store/store.js';

export class DownError extends Error {
  readonly code = 'ECONNREFUSED';
  constructor() {
    super('connect ECONNREFUSED 127.0.0.1:5432');
  }
}

export class PoisonError extends Error {
  readonly code = '23514';
  constructor(callid: string) {
    super(`new row violates check constraint (${callid})`);
  }
}

export class FakeStore implements Store {
  readonly backend = 'postgres' as const;
  readonly displayUrl = 'fake://db';
  /** Every committed row's callid, per table, in commit order. */
  readonly committed = new Map<string, string[]>();
  readonly tables = new Set<string>();
  down = false;
  /** Calls to insert (successful or not). */
  inserts = 0;
  /** Table and row count of every insert call, in call order. */
  readonly calls: { table: string; rows: number }[] = [];
  /** In-flight inserts right now, and the most seen at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** Delay of each insert, ms. */
  delayMs = 0;
  /** The next N successful inserts throw as if the answer to COMMIT was lost... */
  loseCommitAnswers = 0;
  /** ...after committing (true) or not (false). */
  commitBeforeLoss = true;
  private tokens = new Map<string, boolean>();
  private nextToken = 1;

  constructor(private readonly poisoned: (callid: string) => boolean = (c) => c.startsWith('poison')) {}

  isRowError(err: unknown): boolean {
    return err instanceof PoisonError;
  }

  async wasCommitted(token: string): Promise<boolean> {
    await Promise.resolve();
    if (this.down) throw new DownError();
    return this.tokens.get(token) ?? false;
  }

  async ensureTable(table: string, _kind: TableKind): Promise<void> {
    await Promise.resolve();
    if (this.down) throw new DownError();
    this.tables.add(table);
  }

  async insert(batch: RowBatch): Promise<void> {
    this.inserts++;
    this.calls.push({ table: batch.table, rows: batch.rows.length });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      else await Promise.resolve();
      if (this.down) throw new DownError();
      const ids = batch.rows.map((r) => (r as { callid: string }).callid);
      const bad = ids.find((c) => this.poisoned(c));
      if (bad !== undefined) throw new PoisonError(bad);
      const lose = this.loseCommitAnswers > 0;
      if (!lose || this.commitBeforeLoss) {
        let list = this.committed.get(batch.table);
        if (list === undefined) this.committed.set(batch.table, (list = []));
        list.push(...ids);
      }
      if (lose) {
        this.loseCommitAnswers--;
        const token = `fake:${this.nextToken++}`;
        this.tokens.set(token, this.commitBeforeLoss);
        throw Object.assign(new Error('Connection terminated unexpectedly'), { commitToken: token });
      }
    } finally {
      this.inFlight--;
    }
  }

  /** Every committed callid over all tables. */
  all(): string[] {
    return [...this.committed.values()].flat();
  }

  async close(): Promise<void> {}
}
