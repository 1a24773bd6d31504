/**
 * Table name templates: the names in `table_name`, in a capture mode's `table_name=` and in a
 * route rule's `table`. Kamailio passes them through strftime() on the packet's UTC time and
 * uses the result as an SQL identifier (unquoted on PostgreSQL). We only accept
 * templates whose expansion is always a safe identifier: a literal letter or `_` first, then
 * literal `[A-Za-z0-9_]` and the strftime conversions below, each of which only yields digits.
 *
 * route/ implements the expansion; it imports STRFTIME_CONVERSIONS so both sides agree.
 */

export interface StrftimeConversion {
  /** Longest output, in characters (all outputs are ASCII digits). */
  width: number;
  meaning: string;
}

/**
 * The strftime conversions allowed in table templates, by letter, all evaluated in UTC.
 * Left out on purpose: `%e` and `%k`/`%l` (pad with a space), `%%` (yields `%`), `%F`/`%D`/`%T`
 * (yield `-`, `/` or `:`), and the name conversions (`%a`, `%b`, …: locale-dependent).
 */
export const STRFTIME_CONVERSIONS: Readonly<Record<string, StrftimeConversion>> = Object.freeze({
  Y: { width: 4, meaning: 'year, 4 digits' },
  C: { width: 2, meaning: 'century (year / 100), 2 digits' },
  y: { width: 2, meaning: 'year within the century, 00-99' },
  G: { width: 4, meaning: 'ISO 8601 week-based year, 4 digits' },
  g: { width: 2, meaning: 'ISO 8601 week-based year within the century, 00-99' },
  m: { width: 2, meaning: 'month, 01-12' },
  d: { width: 2, meaning: 'day of the month, 01-31' },
  j: { width: 3, meaning: 'day of the year, 001-366' },
  H: { width: 2, meaning: 'hour, 00-23' },
  I: { width: 2, meaning: 'hour, 01-12' },
  M: { width: 2, meaning: 'minute, 00-59' },
  S: { width: 2, meaning: 'second, 00-60' },
  u: { width: 1, meaning: 'day of the week, 1-7 (Monday = 1)' },
  w: { width: 1, meaning: 'day of the week, 0-6 (Sunday = 0)' },
  U: { width: 2, meaning: 'week of the year, 00-53 (weeks start on Sunday)' },
  W: { width: 2, meaning: 'week of the year, 00-53 (weeks start on Monday)' },
  V: { width: 2, meaning: 'ISO 8601 week number, 01-53' },
  s: { width: 10, meaning: 'seconds since the Unix epoch (10 digits until the year 2286)' },
});

/** The allowed conversion letters, e.g. for a `[YCy…]` character class. */
export const ALLOWED_STRFTIME_LETTERS: readonly string[] = Object.freeze(Object.keys(STRFTIME_CONVERSIONS));

/**
 * Longest expanded table name. PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1)
 * and MySQL allows 64, so 63 is the common limit; Kamailio's own buffer is 128 bytes.
 */
export const TABLE_NAME_MAX_LENGTH = 63;

const WHY_REJECTED: Readonly<Record<string, string>> = {
  '%': '"%%" yields "%", which is not allowed in a table name',
  e: '"%e" pads with a space; use "%d"',
  k: '"%k" pads with a space; use "%H"',
  l: '"%l" pads with a space; use "%I"',
  F: '"%F" yields "-"; use "%Y%m%d"',
  D: '"%D" yields "/"; use "%m%d%y"',
  T: '"%T" yields ":"; use "%H%M%S"',
  R: '"%R" yields ":"; use "%H%M"',
};

/** Longest possible expansion of a template, assuming it is valid. */
export function maxExpandedLength(template: string): number {
  let n = 0;
  for (let i = 0; i < template.length; i++) {
    if (template[i] === '%') {
      n += STRFTIME_CONVERSIONS[template[i + 1] ?? '']?.width ?? 0;
      i++;
    } else {
      n++;
    }
  }
  return n;
}

/**
 * Checks one table template. Returns undefined when it is valid, else a short reason (without
 * the key or the value, which the caller adds).
 */
export function checkTableTemplate(template: string): string | undefined {
  if (template.length === 0) return 'a table name must not be empty';
  // Expanded names must be bare identifiers (route/table-name.ts): a conversion yields digits.
  if (!/^[A-Za-z_]/.test(template)) {
    return `must start with a letter or "_" (found ${JSON.stringify(template.charAt(0))}), so the expanded name is a valid SQL identifier`;
  }
  for (let i = 0; i < template.length; i++) {
    const c = template.charAt(i);
    if (c === '%') {
      const letter = template[i + 1];
      if (letter === undefined) return `ends with a lone "%" (at offset ${i})`;
      if (STRFTIME_CONVERSIONS[letter] === undefined) {
        const why = WHY_REJECTED[letter] ?? `"%${letter}" is not an allowed strftime conversion`;
        return `${why} (at offset ${i}; allowed: ${ALLOWED_STRFTIME_LETTERS.map((l) => '%' + l).join(' ')})`;
      }
      i++;
    } else if (!/[A-Za-z0-9_]/.test(c)) {
      return `character ${JSON.stringify(c)} at offset ${i} is not allowed (table names use A-Z a-z 0-9 _ and strftime conversions)`;
    }
  }
  const len = maxExpandedLength(template);
  if (len > TABLE_NAME_MAX_LENGTH) {
    return `expands to up to ${len} characters, more than ${TABLE_NAME_MAX_LENGTH} (PostgreSQL's identifier limit)`;
  }
  return undefined;
}

/**
 * Splits a table list (`a|b`, `a | b`, `a||b`) on `|` and whitespace and drops empty items.
 * Kamailio counts `|` and tokenises separately, which corrupts memory for `a||b` or `a b`
 * (docs/kamailio-differences.md C3); dropping empties is the recommended fix.
 */
export function splitTableList(list: string): string[] {
  return list.split(/[|\s]+/).filter((t) => t.length > 0);
}
