/**
 * A row a pipeline thread has already encoded as one PostgreSQL binary COPY tuple for the Homer
 * 5 layouts with the default column widths (store/columns.ts). The PostgreSQL store copies the
 * bytes into its COPY as they are; everything else that needs the row's values (another table
 * layout, the spool, a store of another backend) gets them back with `rowOf`, exactly as the row
 * was built except that its text is already cleaned the way every store cleans it (values.ts).
 * A row that had to be cut to a column width never travels this way (the cut could be wrong for
 * a table with other widths): the thread sends that row as it is.
 */
import { columnValuesFiller, type ReportRow, type SipCaptureRow, type TableKind } from '../capture/rows.js';
import { DEFAULT_LIMITS, layoutOf } from './columns.js';
import { copyPlan, decodeTuple, type CopyPlan } from './postgres/copy-binary.js';

export class EncodedRow {
  constructor(
    /** The tuples of one batch of a thread (shared by its rows); this row's is [start, end). */
    readonly bytes: Buffer,
    readonly start: number,
    readonly end: number,
    /** What cleaning the text changed (values.ts ValueCounters), counted once the row is committed. */
    readonly nulStripped: number,
    readonly invalidReplaced: number,
  ) {}

  get byteLength(): number {
    return this.end - this.start;
  }

  /** The tuple: field count and fields, no COPY header or trailer. */
  get tuple(): Buffer {
    return this.bytes.subarray(this.start, this.end);
  }
}

/** A row as the stores take it: built here, or encoded in a pipeline thread. */
export type StoreRow = SipCaptureRow | ReportRow | EncodedRow;

const plans = new Map<TableKind, CopyPlan>();

/** The plan pipeline threads encode with and the store checks against: default widths. */
export function defaultCopyPlan(kind: TableKind): CopyPlan {
  let plan = plans.get(kind);
  if (plan === undefined) plans.set(kind, (plan = copyPlan(layoutOf(kind), DEFAULT_LIMITS, columnValuesFiller(kind))));
  return plan;
}

/** The row's values as an object, decoded from the tuple when it is an EncodedRow. */
export function rowOf(row: StoreRow, kind: TableKind): SipCaptureRow | ReportRow {
  if (!(row instanceof EncodedRow)) return row;
  const plan = defaultCopyPlan(kind);
  const values = decodeTuple(plan, row.tuple);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < plan.columns.length; i++) out[plan.columns[i]!] = values[i];
  return out as unknown as SipCaptureRow | ReportRow;
}

/** Every row of a batch as an object (for stores and codecs that read values). */
export function rowsOf(rows: readonly StoreRow[], kind: TableKind): (SipCaptureRow | ReportRow)[] {
  return rows.map((r) => rowOf(r, kind));
}
