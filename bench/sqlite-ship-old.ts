/**
 * The SQLite batch encoding before values were read by name (a keyed `row[column]` per value):
 * the baseline of bench/sqlite-ship.bench.ts only.
 */
import type { TableKind } from '../src/capture/rows.js';
import { cleanText, truncateChars } from '../src/store/values.js';
import { layoutOf, type ColumnLayout, type ColumnType, type TextRules } from '../src/store/sqlite/protocol.js';
import type { RowBatch } from '../src/store/store.js';

/** A batch ready for postMessage; the typed arrays' buffers go in the transfer list. */
export interface OldEncodedBatch {
  table: string;
  kind: TableKind;
  rows: number;
  /** All string values, row-major, concatenated. */
  text: string;
  /** UTF-16 length of each string value, row-major (rows × strColumns). */
  textLengths: Uint32Array;
  /** Integer values, row-major (rows × intColumns). */
  ints: Float64Array;
  /** All msg bytes, concatenated. */
  blob: Uint8Array;
  /** rows + 1 offsets into blob. */
  blobOffsets: Uint32Array;
}

type RowLike = Readonly<Record<string, unknown>>;

export function oldEncodeBatch(batch: RowBatch, rules?: TextRules): OldEncodedBatch {
  const lay = layoutOf(batch.kind);
  const rows = batch.rows as readonly unknown[] as readonly RowLike[];
  const n = rows.length;
  const strCols = lay.strColumns;
  const intCols = lay.intColumns;
  const textLengths = new Uint32Array(n * strCols.length);
  const ints = new Float64Array(n * intCols.length);
  const blobOffsets = new Uint32Array(n + 1);
  let blobSize = 0;
  for (let i = 0; i < n; i++) blobSize += msgOf(rows[i]).length;
  const blob = new Uint8Array(blobSize);
  let text = '';
  let ti = 0;
  let ii = 0;
  let off = 0;
  // Per string column: its width, or -1 for `date` (not free text), or undefined (no limit).
  const widths = rules === undefined ? null : strCols.map((c) => (c === 'date' ? -1 : rules.limits.get(c)));
  for (let i = 0; i < n; i++) {
    const row = rows[i] as RowLike;
    let truncated = false;
    for (let k = 0; k < strCols.length; k++) {
      const v = row[strCols[k]!];
      // A missing string is '' (as Kamailio sends for an absent value), never "undefined".
      let s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : '';
      const w = widths?.[k];
      if (widths !== null && w !== -1) {
        const c = rules!.counters;
        s = cleanText(s, c);
        if (w !== undefined && s.length > w) {
          const t = truncateChars(s, w);
          if (t !== s) {
            c.truncatedValues++;
            truncated = true;
            s = t;
          }
        }
      }
      text += s;
      textLengths[ti++] = s.length;
    }
    if (truncated) rules!.counters.truncatedRows++;
    for (const c of intCols) ints[ii++] = Number(row[c] ?? 0);
    const msg = msgOf(row);
    blobOffsets[i] = off;
    blob.set(msg, off);
    off += msg.length;
  }
  blobOffsets[n] = off;
  return { table: batch.table, kind: batch.kind, rows: n, text, textLengths, ints, blob, blobOffsets };
}

function msgOf(row: RowLike | undefined): Uint8Array {
  const m = row?.['msg'];
  if (m instanceof Uint8Array) return m;
  return typeof m === 'string' ? Buffer.from(m, 'utf8') : EMPTY;
}

const EMPTY = new Uint8Array(0);

export function oldTransferListOf(b: OldEncodedBatch): ArrayBuffer[] {
  return [b.textLengths.buffer, b.ints.buffer, b.blob.buffer, b.blobOffsets.buffer] as ArrayBuffer[];
}

/**
 * Reads an OldEncodedBatch row by row into one reused parameter array, in column order.
 * `fill(i, params, at)` writes row i's values into params[at … at + columns − 1].
 */
export class OldBatchReader {
  private readonly lay: ColumnLayout;
  private readonly blob: Buffer;
  /** Start of each row's strings in `text`. */
  private readonly textStart: Uint32Array;
  /** Scratch: start of each string of the current row. */
  private readonly starts: Uint32Array;

  constructor(private readonly b: OldEncodedBatch) {
    this.lay = layoutOf(b.kind);
    this.blob = Buffer.from(b.blob.buffer, b.blob.byteOffset, b.blob.byteLength);
    const nStr = this.lay.strColumns.length;
    this.starts = new Uint32Array(nStr);
    this.textStart = new Uint32Array(b.rows + 1);
    let pos = 0;
    for (let i = 0, k = 0; i < b.rows; i++) {
      this.textStart[i] = pos;
      for (let j = 0; j < nStr; j++) pos += b.textLengths[k++] as number;
    }
    this.textStart[b.rows] = pos;
    if (pos !== b.text.length) throw new Error(`corrupt batch: text length ${b.text.length}, lengths sum ${pos}`);
  }

  get rows(): number {
    return this.b.rows;
  }

  fill(i: number, params: unknown[], at: number): void {
    const { slots, strColumns, intColumns } = this.lay;
    const nStr = strColumns.length;
    const nInt = intColumns.length;
    const { text, textLengths, ints, blobOffsets } = this.b;
    // String j of row i starts at textStart[i] plus the lengths of strings 0..j-1 of that row.
    const starts = this.starts;
    let pos = this.textStart[i] as number;
    for (let j = 0; j < nStr; j++) {
      starts[j] = pos;
      pos += textLengths[i * nStr + j] as number;
    }
    for (let c = 0; c < slots.length; c++) {
      const slot = slots[c] as { type: ColumnType; index: number };
      if (slot.type === 'str') {
        const s = starts[slot.index] as number;
        params[at + c] = text.substring(s, s + (textLengths[i * nStr + slot.index] as number));
      } else if (slot.type === 'int') {
        params[at + c] = ints[i * nInt + slot.index];
      } else {
        params[at + c] = this.blob.subarray(blobOffsets[i], blobOffsets[i + 1]);
      }
    }
  }
}

