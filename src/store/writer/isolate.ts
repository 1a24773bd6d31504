/**
 * Isolation of a poisoned batch: a batch whose rows were rejected is split in halves,
 * recursively, until every row that can be written is written and each row that cannot is
 * counted (or, for outputs that cannot tell row errors from database errors, handed on alone).
 * One attempt per piece, no back-off: the retries already ran for the whole batch. If the
 * output fails on the way, the rest is handed on in one piece.
 *
 * It only needs a batch's `rows`, its commit token and its replay mark, so any output whose
 * batches carry those can use it (`Isolatable`).
 */
import type { Logger } from 'pino';
import type { ReplayMark } from '../store.js';
import type { FailureClass } from './attempt.js';
import { errorMessage } from './errors.js';

/** What isolation reads of a batch. */
export interface Isolatable<T> {
  rows: readonly T[];
  commitToken?: string;
  replayMark?: ReplayMark;
}

export interface IsolationContext<T, B extends Isolatable<T>> {
  /** One attempt of a piece (null on success); `checkMark`: skip it if its replay marker is in. */
  attempt(piece: B, checkMark: boolean): Promise<unknown>;
  classify(err: unknown): FailureClass;
  /** A piece the output refuses for its content while it takes others: counted, not retried. */
  reject(piece: B, err: unknown): void;
  /** Rows that cannot be written now go on (to the spool). */
  handOn(piece: B, err: unknown): Promise<void>;
  /** The output, not the rows, is failing. */
  enterOutage(): void;
  /** No more splitting (shutdown): what is left is handed on. */
  stopped(): boolean;
  /**
   * Only for outputs that cannot classify errors: after this many single rows failed in a row
   * and nothing succeeded, the last row is probed; if it fails too, the output is taken to be
   * the problem and the rest is handed on in one piece.
   */
  giveUpAfter: number;
  logger: Logger | null;
  /** Names the output in the log line about handing the rest on. */
  outputName: string;
}

/** Makes a piece of `batch` holding `rows` (which start at row `first` of it). */
export type PieceOf<T, B> = (batch: B, rows: readonly T[], first: number) => B;

export async function isolate<T, B extends Isolatable<T>>(batch: B, firstError: unknown, pieceOf: PieceOf<T, B>, ctx: IsolationContext<T, B>): Promise<void> {
  if (batch.rows.length === 1 || ctx.stopped()) {
    if (batch.rows.length === 1 && ctx.classify(firstError) === 'row') {
      ctx.reject(batch, firstError);
      return;
    }
    await ctx.handOn(batch, firstError);
    if (batch.rows.length > 1) ctx.enterOutage();
    return;
  }
  const index = new Map(batch.rows.map((r, i) => [r, i]));
  const piece = (rows: readonly T[]): B => pieceOf(batch, rows, index.get(rows[0] as T) ?? 0);
  const handOnRest = async (rows: readonly T[], stack: (readonly T[])[], tail: T[], err: unknown): Promise<void> => {
    const rest: T[] = [...rows];
    for (let i = stack.length - 1; i >= 0; i--) rest.push(...(stack[i] as readonly T[]));
    rest.push(...tail);
    ctx.logger?.error({ db: ctx.outputName, rows: rest.length, err: errorMessage(err) }, 'database rejects every row; handing the rest of the batch on');
    const whole = pieceOf(batch, rest, 0);
    // The rest is not a piece of the record: it is spooled as a record of its own.
    delete whole.replayMark;
    await ctx.handOn(whole, err);
  };
  // A stack of row ranges; the left half is on top so rows are tried in order.
  const stack: (readonly T[])[] = [];
  pushHalves(stack, batch.rows);
  let successes = 0;
  let singleFailuresInARow = 0;
  while (stack.length > 0) {
    const rows = stack.pop() as readonly T[];
    const p = piece(rows);
    const err = await ctx.attempt(p, true);
    if (err === null) {
      successes++;
      singleFailuresInARow = 0;
      continue;
    }
    const cls = ctx.classify(err);
    if (ctx.stopped() || cls === 'database' || p.commitToken !== undefined) {
      if (cls === 'database') ctx.enterOutage();
      if (p.commitToken !== undefined) {
        // This piece may have committed: it travels alone, with its token.
        await ctx.handOn(p, err);
        if (stack.length > 0) await handOnRest([], stack, [], err);
        return;
      }
      await handOnRest(rows, stack, [], err);
      return;
    }
    if (rows.length > 1) {
      pushHalves(stack, rows);
      continue;
    }
    if (cls === 'row') {
      ctx.reject(p, err);
      continue;
    }
    singleFailuresInARow++;
    if (successes === 0 && singleFailuresInARow >= ctx.giveUpAfter && stack.length > 0) {
      // Nothing got through yet. Probe the far end of the batch: if a row there is written,
      // the rows are bad, not the output, and splitting goes on.
      const probe = takeLastRow(stack);
      const probeErr = await ctx.attempt(piece([probe]), true);
      if (probeErr === null) {
        successes++;
        singleFailuresInARow = 0;
      } else {
        // The output, not the rows: hand the rest on in one piece (the spool takes it whole).
        ctx.enterOutage();
        await handOnRest(rows, stack, [probe], probeErr);
        return;
      }
    }
    await ctx.handOn(p, err);
  }
}

/** Removes and returns the last row (in batch order) of the ranges on the stack. */
function takeLastRow<T>(stack: (readonly T[])[]): T {
  const last = stack[0] as readonly T[];
  const row = last[last.length - 1] as T;
  if (last.length === 1) stack.shift();
  else stack[0] = last.slice(0, -1);
  return row;
}

function pushHalves<T>(stack: (readonly T[])[], rows: readonly T[]): void {
  const mid = Math.ceil(rows.length / 2);
  stack.push(rows.slice(mid), rows.slice(0, mid));
}
