/**
 * The columns of the two table layouts and the widths of their text columns, shared by the
 * PostgreSQL, MySQL and SQLite stores (values.ts cuts text to these widths).
 *
 * The widths below are the ones `sql/postgres/schema.sql` and `sql/mysql/schema.sql` create
 * (a test checks they agree). They are counted in characters (Unicode code points), which is
 * what PostgreSQL `varchar(n)` and MySQL utf8mb4 `varchar(n)` count. For tables created by
 * someone else (e.g. a stock Homer 5 schema with `callid varchar(120)`) the stores read the
 * real widths from information_schema and truncate to those.
 */
import type { TableKind } from '../capture/rows.js';
import { REPORT_COLUMNS, REPORT_INT_COLUMNS, SIP_CAPTURE_COLUMNS, SIP_CAPTURE_INT_COLUMNS } from '../capture/rows.js';

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


/** True when the text columns of `layout` have the same width in both (a missing width: no limit). */
export function sameWidthsFor(layout: TableLayout, a: ColumnLimits, b: ColumnLimits): boolean {
  for (const col of layout.columns) if (!layout.ints.has(col) && a.get(col) !== b.get(col)) return false;
  return true;
}

/** True when two tables' widths are the same. */
export function sameLimits(a: ColumnLimits, b: ColumnLimits): boolean {
  if (a.size !== b.size) return false;
  for (const [col, w] of a) if (b.get(col) !== w) return false;
  return true;
}
