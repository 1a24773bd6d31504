/**
 * How the commands print their results for people (`--json` prints the same facts as one JSON
 * line for scripts): counts with thousands separators, and "name count" lists.
 */

/** 12345.6 → "12,346". */
export function formatCount(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

/** { a: 1, b: 2000 } → "a 1, b 2,000"; "none" when empty. */
export function formatCounts(r: Readonly<Record<string, number>>): string {
  const entries = Object.entries(r);
  if (entries.length === 0) return 'none';
  return entries.map(([k, v]) => `${k} ${formatCount(v)}`).join(', ');
}
