/**
 * Value preparation shared by the PostgreSQL, MySQL and SQLite stores.
 *
 * Kamailio never truncates: a value longer than its column loses the whole row. Here every text
 * column is cut to its width instead (columns.ts), NUL characters are removed (PostgreSQL text
 * cannot hold U+0000) and unpaired UTF-16 surrogates become U+FFFD, so a row is never rejected
 * for its text. All three backends apply exactly the same rules, so the same row reads back
 * identically from any of them (SQLite with the default widths). `msg` is bytes and is never
 * changed.
 */
import type { ReportRow, SipCaptureRow } from '../capture/rows.js';
import { REPORT_COLUMNS, SIP_CAPTURE_COLUMNS, columnValuesFiller } from '../capture/rows.js';
import type { ColumnLimits, TableLayout } from './columns.js';

/** Counters of value changes; the writer reads them for metrics. */
export interface ValueCounters {
  /** Text values cut to their column width. */
  truncatedValues: number;
  /** Rows with at least one truncated value. */
  truncatedRows: number;
  /** Text values that contained U+0000 (all NULs removed). */
  nulStripped: number;
  /**
   * Text values holding U+FFFD: bytes that were not UTF-8 (replaced when the row was built from
   * the message) or unpaired surrogates (replaced here). A U+FFFD sent as such counts too.
   */
  invalidReplaced: number;
}

export function newCounters(): ValueCounters {
  return { truncatedValues: 0, truncatedRows: 0, nulStripped: 0, invalidReplaced: 0 };
}

export function addCounters(into: ValueCounters, from: Readonly<ValueCounters>): void {
  into.truncatedValues += from.truncatedValues;
  into.truncatedRows += from.truncatedRows;
  into.nulStripped += from.nulStripped;
  into.invalidReplaced += from.invalidReplaced;
}

/** A store that sanitises values exposes its counters (the writer reports them). */
export interface CountingStore {
  readonly valueCounters: Readonly<ValueCounters>;
}

// ES2024's String well-formedness methods exist on Node 20 but not in our ES2023 lib typings.
interface WellFormed {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

/**
 * Cuts `s` to at most `max` code points without splitting a surrogate pair. Returns `s` itself
 * when it fits.
 */
export function truncateChars(s: string, max: number): string {
  // UTF-16 length ≥ code points, so this fast path is exact.
  if (s.length <= max) return s;
  let units = 0;
  let points = 0;
  while (units < s.length && points < max) {
    const c = s.charCodeAt(units);
    if (c >= 0xd800 && c <= 0xdbff && units + 1 < s.length) {
      const d = s.charCodeAt(units + 1);
      units += d >= 0xdc00 && d <= 0xdfff ? 2 : 1;
    } else {
      units += 1;
    }
    points++;
  }
  return units >= s.length ? s : s.slice(0, units);
}

/** One prepared value: a string for text and dates, a number for ints, a Buffer for msg. */
export type PreparedValue = string | number | Buffer;

/** Text cleaning without the width limit (NUL strip, U+FFFD for lone surrogates), counted. */
export function cleanText(s: string, c: ValueCounters): string {
  let v = s;
  if (v.indexOf('\0') !== -1) {
    v = v.replaceAll('\0', '');
    c.nulStripped++;
  }
  if (!(v as unknown as WellFormed).isWellFormed()) {
    v = (v as unknown as WellFormed).toWellFormed();
    c.invalidReplaced++;
  } else if (v.indexOf('\uFFFD') !== -1) {
    // Invalid UTF-8 of the message was replaced when the row was built (sip/bytes.ts text()).
    c.invalidReplaced++;
  }
  return v;
}

/** A row value as an integer column: rows are typed, but a stray value must not poison a batch. */
export function toInt(v: unknown): number {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return v;
    return Number.isFinite(v) ? Math.trunc(v) : 0;
  }
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? Math.trunc(n) : 0;
  }
  return 0;
}

const INT32_MAX = 2_147_483_647;
const INT32_MIN = -2_147_483_648;

/** Rows are typed, but a stray number or null must not poison a batch. */
function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return '';
}

function toBytes(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.alloc(0);
}

/**
 * Turns a row into its column values in `layout.columns` order, applying the text rules above
 * with `limits` and counting changes in `c`. `date` is passed through (it is not free text).
 */
export function prepareRow(
  row: SipCaptureRow | ReportRow,
  layout: TableLayout,
  limits: ColumnLimits,
  c: ValueCounters,
): PreparedValue[] {
  const values: unknown[] = [];
  if (layout.columns === SIP_CAPTURE_COLUMNS) columnValuesFiller('sip')(row, values);
  else if (layout.columns === REPORT_COLUMNS) columnValuesFiller('report')(row, values);
  else {
    const rec = row as unknown as Record<string, unknown>;
    for (const col of layout.columns) values.push(rec[col]);
  }
  const out = new Array<PreparedValue>(layout.columns.length);
  let truncated = false;
  for (let i = 0; i < layout.columns.length; i++) {
    const col = layout.columns[i]!;
    const v = values[i];
    if (col === 'msg') {
      out[i] = toBytes(v);
    } else if (layout.ints.has(col)) {
      const n = toInt(v);
      // Every int column but micro_ts is a 32-bit integer in both schemas; out-of-range values
      // (only from a broken sender) are clamped rather than failing the row.
      out[i] = col === 'micro_ts' ? n : Math.min(INT32_MAX, Math.max(INT32_MIN, n));
    } else if (col === 'date') {
      out[i] = asText(v);
    } else {
      let s = cleanText(asText(v), c);
      const max = limits.get(col);
      if (max !== undefined) {
        const t = truncateChars(s, max);
        if (t !== s) {
          c.truncatedValues++;
          truncated = true;
          s = t;
        }
      }
      out[i] = s;
    }
  }
  if (truncated) c.truncatedRows++;
  return out;
}

