/**
 * Column widths and value preparation shared by the PostgreSQL, MySQL and SQLite stores.
 *
 * Kamailio never truncates: a value longer than its column loses the whole row (spec §3.6,
 * §13 item 15). Here every text column is cut to its width instead, NUL characters are removed
 * (PostgreSQL text cannot hold U+0000) and unpaired UTF-16 surrogates become U+FFFD, so a row
 * is never rejected for its text. All three backends apply exactly the same rules, so the same
 * row reads back identically from any of them (SQLite with these default widths). `msg` is
 * bytes and is never changed.
 *
 * The widths below are the ones `sql/postgres/schema.sql` and `sql/mysql/schema.sql` create
 * (a test checks they agree). They are counted in characters (Unicode code points), which is
 * what PostgreSQL `varchar(n)` and MySQL utf8mb4 `varchar(n)` count. For tables created by
 * someone else (e.g. a stock Homer 5 schema with `callid varchar(120)`) the stores read the
 * real widths from information_schema and truncate to those.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReportRow, SipCaptureRow, TableKind } from '../capture/rows.js';
import { REPORT_COLUMNS, REPORT_INT_COLUMNS, SIP_CAPTURE_COLUMNS, SIP_CAPTURE_INT_COLUMNS, columnValuesFiller } from '../capture/rows.js';
import { tableNameProblem } from '../route/table-name.js';

/** Maximum characters per text column (generous compared with Homer 5, which is in brackets). */
export const COLUMN_WIDTHS: Readonly<Record<string, number>> = {
  method: 64, // (50)
  reply_reason: 256, // (100)
  ruri: 1024, // (200)
  ruri_user: 256, // (100)
  ruri_domain: 256, // (150)
  from_user: 256, // (100)
  from_domain: 256, // (150)
  from_tag: 128, // (64)
  to_user: 256, // (100)
  to_domain: 256, // (150)
  to_tag: 128, // (64)
  pid_user: 256, // (100)
  contact_user: 256, // (120)
  auth_user: 256, // (120)
  callid: 256, // (120)
  callid_aleg: 256, // (120)
  via_1: 1024, // (256)
  via_1_branch: 256, // (80)
  cseq: 64, // (25)
  diversion: 1024, // (256)
  reason: 512, // (200)
  content_type: 256, // (256)
  auth: 256, // (256)
  user_agent: 512, // (256)
  source_ip: 64, // (60)
  destination_ip: 64, // (60)
  contact_ip: 256, // (60) a Contact host may be a name
  originator_ip: 256, // (60)
  correlation_id: 256, // (256)
  custom_field1: 256, // (120)
  custom_field2: 256, // (120)
  custom_field3: 256, // (120)
  rtp_stat: 1024, // (256)
  node: 128, // (125)
};

/** Text widths of one concrete table: column → max characters (absent = unlimited). */
export type ColumnLimits = ReadonlyMap<string, number>;

export const DEFAULT_LIMITS: ColumnLimits = new Map(Object.entries(COLUMN_WIDTHS));

/** Layout of a table kind: column names in insertion order and which are int / bytes. */
export interface TableLayout {
  columns: readonly string[];
  ints: ReadonlySet<string>;
}

export const SIP_LAYOUT: TableLayout = { columns: SIP_CAPTURE_COLUMNS, ints: SIP_CAPTURE_INT_COLUMNS };
export const REPORT_LAYOUT: TableLayout = { columns: REPORT_COLUMNS, ints: REPORT_INT_COLUMNS };

export function layoutOf(kind: TableKind): TableLayout {
  return kind === 'sip' ? SIP_LAYOUT : REPORT_LAYOUT;
}

export function isTableKind(v: unknown): v is TableKind {
  return v === 'sip' || v === 'rtcp' || v === 'report' || v === 'logs';
}

/**
 * Throws a TypeError unless `name` matches ^[A-Za-z_][A-Za-z0-9_]{0,62}$ (route/table-name.ts).
 * The stores quote identifiers too; this keeps injection attempts out of SQL, index names and logs.
 */
export function assertTableName(name: string): void {
  const problem = tableNameProblem(name);
  if (problem !== undefined) throw new TypeError(problem);
}

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

/**
 * `ensureTable` for a backend: one creation promise per table name, shared by concurrent callers;
 * a failed creation is forgotten so a later call (database back up) tries again.
 */
export function ensureOnce(ensured: Map<string, Promise<void>>, name: string, create: () => Promise<void>): Promise<void> {
  let p = ensured.get(name);
  if (!p) {
    p = create();
    ensured.set(name, p);
    p.catch(() => ensured.delete(name));
  }
  return p;
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

/** `scheme://user:secret@host/db` → `scheme://user:***@host/db` for logs. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:\/\/([^:@/]*):[^@/]*@/, '://$1:***@');
  }
}

// ---- schema templates (sql/<dialect>/schema.sql) ----

export type SqlDialect = 'postgres' | 'mysql';

/** The statements of each `-- @template` section of a schema file, placeholders unreplaced. */
export interface SchemaTemplate {
  sip: string[];
  report: string[];
}

/**
 * Finds `sql/<dialect>/schema.sql` by walking up from this module, so it works from `src/`
 * (tsx) and from `dist/src/` (compiled) alike.
 */
export function findSchemaFile(dialect: SqlDialect): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'sql', dialect, 'schema.sql');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`sql/${dialect}/schema.sql not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Splits a schema file into its sections; a statement ends with `;` at the end of a line. */
export function parseSchemaTemplate(text: string): SchemaTemplate {
  const out: SchemaTemplate = { sip: [], report: [] };
  let section: string[] | undefined;
  let current: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const m = /^--\s*@template\s+(\w+)/.exec(raw);
    if (m) {
      if (current.length > 0) throw new Error('schema template: unterminated statement before @template');
      if (m[1] === 'sip') section = out.sip;
      else if (m[1] === 'report') section = out.report;
      else throw new Error(`schema template: unknown section ${m[1]}`);
      continue;
    }
    const line = raw.trimEnd();
    if (line.trim() === '' || line.trimStart().startsWith('--')) continue;
    if (!section) throw new Error('schema template: SQL before the first @template line');
    current.push(line);
    if (line.endsWith(';')) {
      section.push(current.join('\n').slice(0, -1));
      current = [];
    }
  }
  if (current.length > 0) throw new Error('schema template: unterminated statement at end of file');
  if (out.sip.length === 0 || out.report.length === 0) throw new Error('schema template: missing @template sip or report');
  return out;
}

export async function loadSchemaTemplate(dialect: SqlDialect, file?: string): Promise<SchemaTemplate> {
  return parseSchemaTemplate(await readFile(file ?? findSchemaFile(dialect), 'utf8'));
}

/** Replaces `{{name}}` placeholders; an unknown placeholder is an error. */
export function renderStatements(stmts: readonly string[], vars: Readonly<Record<string, string>>): string[] {
  return stmts.map((s) =>
    s.replace(/\{\{(\w+)\}\}/g, (_m, k: string) => {
      const v = vars[k];
      if (v === undefined) throw new Error(`schema template: unknown placeholder {{${k}}}`);
      return v;
    }),
  );
}

export function templateFor(t: SchemaTemplate, kind: TableKind): string[] {
  return kind === 'sip' ? t.sip : t.report;
}
