/** Command-line helpers shared by the benchmark scripts (run.ts, overload.ts). */

/** A numeric option ≥ 0; `dflt` when absent or empty. Throws on anything else, naming the value. */
export function numberArg(v: string | undefined, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`not a number ≥ 0: ${v}`);
  return n;
}
