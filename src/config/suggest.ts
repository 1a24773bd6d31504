/** "Did you mean …?" for misspelt names, by Levenshtein distance. */

export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * The closest candidate, if it is close enough to be a plausible typo: at most a third of the
 * name's length (at least 2) edits away. Case differences count as one edit in total, and a
 * name that merely extends a candidate (`warning` / `warn`) counts as one edit.
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const [n, l] = [name.toLowerCase(), c.toLowerCase()];
    // Only a candidate that the name starts with: `insert_retry` stays closer to insert_retries.
    const prefix = l.length >= 3 && n.startsWith(l);
    const d = Math.min(levenshtein(name, c), levenshtein(n, l) + (name === c ? 0 : 1), prefix && name !== c ? 1 : Infinity);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** ` — did you mean X?` or an empty string. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const c = closest(name, candidates);
  return c === undefined ? '' : ` — did you mean ${c}?`;
}
