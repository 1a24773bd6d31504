/**
 * COPY BINARY encoding in one pass: rows go straight from the row object into one growing
 * Buffer per batch (reused across batches), with the text rules of values.ts applied on the way.
 *
 * The bytes are exactly those of `prepareRow()` followed by a per-value encoder, but the common
 * case costs far less: an ASCII value without NUL is copied by a JS loop (or one native write for
 * long values) and cut to its column width by length alone; only a value with NUL or non-ASCII
 * characters takes cleanText() / truncateChars() and the UTF-8 writer. The `date` timestamp is
 * parsed once per distinct text (rows of one second share it), integers are written without
 * BigInt, `msg` is copied with one memmove. Measured in bench/micro/copy-encode.bench.ts.
 */
import type { ColumnValuesFiller, ReportRow, SipCaptureRow } from '../../capture/rows.js';
import type { ColumnLimits, TableLayout } from '../columns.js';
import { cleanText, toInt, truncateChars, type ValueCounters } from '../values.js';

const K_TEXT = 0;
const K_INT4 = 1;
const K_INT8 = 2;
const K_TIMESTAMP = 3;
const K_BYTEA = 4;
const K_JSONB = 5;
const K_EPOCH_US = 6;

/**
 * How a column's value is encoded, for plans built by `copyPlanOf`: `text` (a string, NUL and lone
 * surrogates cleaned), `int4`, `int8`, `timestamp` (wall-clock text `YYYY-MM-DD HH:MM:SS[.ffffff]`),
 * `bytes` (a Buffer sent as is: bytea, or a text column when the bytes are valid UTF-8 without NUL),
 * `jsonb` (JSON text; jsonb's binary form is a version byte before it), `epoch_us` (microseconds
 * since 1970 as a number, for timestamp and timestamptz alike: both are µs since 2000 UTC on the wire).
 */
export type CopyColumnKind = 'text' | 'int4' | 'int8' | 'timestamp' | 'bytes' | 'jsonb' | 'epoch_us';
const KIND_CODES: Readonly<Record<CopyColumnKind, number>> = {
  text: K_TEXT,
  int4: K_INT4,
  int8: K_INT8,
  timestamp: K_TIMESTAMP,
  bytes: K_BYTEA,
  jsonb: K_JSONB,
  epoch_us: K_EPOCH_US,
};
const PG_EPOCH_US = 946_684_800_000_000;

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const DATE_RE = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/;

/** `YYYY-MM-DD HH:MM:SS[.ffffff]` → microseconds since 2000-01-01, read as wall-clock time (no zone). */
export function pgTimestampMicros(text: string): bigint {
  const m = DATE_RE.exec(text);
  if (!m) throw new RangeError(`invalid date value ${JSON.stringify(text)}`);
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  if (Number.isNaN(ms)) throw new RangeError(`invalid date value ${JSON.stringify(text)}`);
  const frac = m[7] ? Number(m[7].padEnd(6, '0')) : 0;
  return BigInt(ms - PG_EPOCH_MS) * 1000n + BigInt(frac);
}

/** 'PGCOPY\n\377\r\n\0', flags 0, header extension length 0. */
const BINARY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
const INT32_MAX = 2_147_483_647;
const INT32_MIN = -2_147_483_648;
const TWO_32 = 4_294_967_296;
/** Strings up to this length are copied by a JS loop; longer ones by one native write. */
const SHORT_STRING = 48;

/** What the encoder needs to know about one table: column kinds and widths, in layout order. */
export interface CopyPlan<R = SipCaptureRow | ReportRow> {
  readonly columns: readonly string[];
  readonly kinds: Uint8Array;
  /** Width in characters, or -1 (no limit). */
  readonly widths: Int32Array;
  /** Reads a row's values in `columns` order (capture/rows.ts columnValuesFiller). */
  readonly fill: (row: R, out: unknown[]) => void;
}

/** A plan for any row shape: one kind per column, no width limits. */
export function copyPlanOf<R>(columns: readonly string[], kinds: readonly CopyColumnKind[], fill: (row: R, out: unknown[]) => void): CopyPlan<R> {
  if (kinds.length !== columns.length) throw new Error('copyPlanOf: one kind per column');
  return { columns, kinds: Uint8Array.from(kinds.map((k) => KIND_CODES[k])), widths: new Int32Array(columns.length).fill(-1), fill };
}

export function copyPlan(layout: TableLayout, limits: ColumnLimits, fill: ColumnValuesFiller): CopyPlan {
  const n = layout.columns.length;
  const kinds = new Uint8Array(n);
  const widths = new Int32Array(n).fill(-1);
  layout.columns.forEach((c, i) => {
    kinds[i] = c === 'date' ? K_TIMESTAMP : c === 'msg' ? K_BYTEA : c === 'micro_ts' ? K_INT8 : layout.ints.has(c) ? K_INT4 : K_TEXT;
    const w = kinds[i] === K_TEXT ? limits.get(c) : undefined;
    if (w !== undefined) widths[i] = w;
  });
  return { columns: layout.columns, kinds, widths, fill };
}

function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return '';
}

function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return EMPTY;
}

const EMPTY = new Uint8Array(0);

/** Buffers kept for the next batch; bigger ones are left to the GC so a burst does not pin memory. */
const KEEP_MAX_BYTES = 8 * 1024 * 1024;
const KEEP_MAX_BUFFERS = 4;
const FIRST_BYTES = 1024 * 1024;

/** A small free list of batch buffers (several batches may be in flight with db_insert_mode 2). */
export class BufferPool {
  private readonly free: Buffer[] = [];
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(FIRST_BYTES);
  }
  /** Only for a buffer nobody reads any more (the COPY finished). */
  give(buf: Buffer): void {
    if (buf.length <= KEEP_MAX_BYTES && this.free.length < KEEP_MAX_BUFFERS) this.free.push(buf);
  }
}

/**
 * Encodes one batch: `new BinaryCopyBatch(plan, buf)`, `add(row, counters)` per row, `end()`.
 * Throws RangeError (a row error for the writer) for a date or integer PostgreSQL cannot take.
 */
export class BinaryCopyBatch<R = SipCaptureRow | ReportRow> {
  private buf: Buffer;
  private pos: number;
  private readonly plan: CopyPlan<R>;
  /** Upper bound of a row's bytes outside its text and bytea values. */
  private readonly fixed: number;
  /** The current row's values, reused. */
  private readonly values: unknown[] = [];
  // The last date text and its 8 encoded bytes as two int32 halves.
  private lastDate = '';
  private lastHi = 0;
  private lastLo = 0;

  constructor(plan: CopyPlan<R>, buf: Buffer) {
    this.plan = plan;
    this.fixed = 2 + plan.columns.length * 12;
    this.buf = buf;
    BINARY_HEADER.copy(buf, 0);
    this.pos = BINARY_HEADER.length;
  }

  /** The buffer in use (it may have been replaced by a bigger one): give this back to the pool. */
  get buffer(): Buffer {
    return this.buf;
  }

  /** Bytes so far. */
  get length(): number {
    return this.pos;
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private int32(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  add(row: R, c: ValueCounters): void {
    const { columns, kinds, widths } = this.plan;
    const n = columns.length;
    const values = this.values;
    this.plan.fill(row, values);
    // Fixed part: field count, and for every field its length word plus int/timestamp bytes.
    this.ensure(this.fixed);
    const b0 = this.buf;
    b0[this.pos] = n >>> 8;
    b0[this.pos + 1] = n;
    this.pos += 2;
    let truncated = false;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      switch (kinds[i]) {
        case K_TEXT:
          if (this.text(asText(v), widths[i]!, c)) truncated = true;
          break;
        case K_INT4: {
          // Every int column but micro_ts is 32-bit in both schemas; out-of-range values (only
          // from a broken sender) are clamped rather than failing the row.
          const x = Math.min(INT32_MAX, Math.max(INT32_MIN, toInt(v)));
          this.int32(4);
          this.int32(x);
          break;
        }
        case K_INT8: {
          const x = toInt(v);
          this.int32(8);
          if (Number.isSafeInteger(x)) {
            const hi = Math.floor(x / TWO_32);
            this.int32(hi);
            this.int32(x - hi * TWO_32);
          } else {
            // Exact, and a RangeError beyond int64, as before.
            this.buf.writeBigInt64BE(BigInt(x), this.pos);
            this.pos += 8;
          }
          break;
        }
        case K_TIMESTAMP: {
          const s = asText(v);
          if (s !== this.lastDate || s === '') {
            const us = pgTimestampMicros(s);
            const p = this.pos + 4;
            this.buf.writeBigInt64BE(us, p);
            this.lastHi = this.buf.readInt32BE(p);
            this.lastLo = this.buf.readInt32BE(p + 4);
            this.lastDate = s;
          }
          this.int32(8);
          this.int32(this.lastHi);
          this.int32(this.lastLo);
          break;
        }
        case K_EPOCH_US: {
          const x = toInt(v) - PG_EPOCH_US;
          if (!Number.isSafeInteger(x)) throw new RangeError(`invalid timestamp ${String(v)}`);
          const hi = Math.floor(x / TWO_32);
          this.int32(8);
          this.int32(hi);
          this.int32(x - hi * TWO_32);
          break;
        }
        case K_JSONB: {
          // jsonb's binary form is version byte 1 and the text. The text is written one byte
          // further on as an ordinary field ([length][bytes]), then its length word is moved
          // back over the gap, grown by one, and the version byte put where it ended.
          const start = this.pos;
          this.pos = start + 1;
          if (this.text(asText(v), -1, c)) truncated = true;
          const b = this.buf;
          b.writeInt32BE(b.readInt32BE(start + 1) + 1, start);
          b[start + 4] = 1;
          break;
        }
        default: {
          const bytes = toBytes(v);
          this.ensure(4 + bytes.length + this.fixed);
          this.int32(bytes.length);
          this.buf.set(bytes, this.pos);
          this.pos += bytes.length;
        }
      }
    }
    if (truncated) c.truncatedRows++;
  }

  /**
   * One text field (length word + UTF-8). Returns true when the value was cut to `width`.
   * Fast path: ASCII without NUL is written as is and cut by length (one char = one byte).
   */
  private text(s: string, width: number, c: ValueCounters): boolean {
    const len = s.length;
    // Room for the value in UTF-8 (≤ 3 bytes per UTF-16 unit) and the remaining fixed parts.
    this.ensure(len * 3 + 4 + this.fixed);
    const b = this.buf;
    const start = this.pos + 4;
    let ascii = true;
    if (len <= SHORT_STRING) {
      for (let k = 0; k < len; k++) {
        const ch = s.charCodeAt(k);
        if (ch === 0 || ch > 0x7f) {
          ascii = false;
          break;
        }
        b[start + k] = ch;
      }
    } else {
      ascii = b.write(s, start, 'utf8') === len && s.indexOf('\0') === -1;
    }
    if (ascii) {
      const out = width >= 0 && len > width ? width : len;
      this.int32(out);
      this.pos += out;
      if (out !== len) {
        c.truncatedValues++;
        return true;
      }
      return false;
    }
    // The rare case: the same rules as prepareRow(), then UTF-8.
    const clean = cleanText(s, c);
    let t = clean;
    let cut = false;
    if (width >= 0) {
      t = truncateChars(clean, width);
      if (t !== clean) {
        c.truncatedValues++;
        cut = true;
      }
    }
    const bytes = b.write(t, start, 'utf8');
    this.int32(bytes);
    this.pos += bytes;
    return cut;
  }

  /**
   * Appends a tuple encoded earlier by a batch of the same plan (a pipeline thread's `add`):
   * the bytes between two `length` readings, copied as they are.
   */
  addEncoded(source: Buffer, start: number, end: number): void {
    this.ensure(end - start + 2);
    this.pos += source.copy(this.buf, this.pos, start, end);
  }

  /** Forgets everything after `length` bytes (a row that must travel another way). */
  rewind(length: number): void {
    if (length < BINARY_HEADER.length || length > this.pos) throw new RangeError('rewind past the batch');
    this.pos = length;
  }

  /** Appends the trailer and returns the encoded bytes (a view of `buffer`). */
  end(): Buffer {
    this.ensure(2);
    this.buf[this.pos] = 0xff;
    this.buf[this.pos + 1] = 0xff;
    this.pos += 2;
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * The values of one tuple of `plan` (as `add` wrote it) back in column order: text as strings,
 * int4/int8 as numbers, the timestamp as `YYYY-MM-DD HH:MM:SS[.ffffff]`, bytea as a copied
 * Buffer. For rows that must leave the binary path (another table layout, the spool).
 */
export function decodeTuple(plan: CopyPlan, tuple: Uint8Array): unknown[] {
  const b = Buffer.from(tuple.buffer, tuple.byteOffset, tuple.byteLength);
  const n = b.readInt16BE(0);
  if (n !== plan.columns.length) throw new RangeError(`tuple has ${n} fields, the plan ${plan.columns.length}`);
  const out = new Array<unknown>(n);
  let p = 2;
  for (let i = 0; i < n; i++) {
    const len = b.readInt32BE(p);
    p += 4;
    if (len < 0) {
      out[i] = null;
      continue;
    }
    switch (plan.kinds[i]) {
      case K_TEXT:
        out[i] = b.toString('utf8', p, p + len);
        break;
      case K_INT4:
        out[i] = b.readInt32BE(p);
        break;
      case K_INT8:
        out[i] = b.readInt32BE(p) * TWO_32 + b.readUInt32BE(p + 4);
        break;
      case K_TIMESTAMP: {
        const us = b.readBigInt64BE(p);
        const frac = Number(us % 1_000_000n);
        const text = new Date(Number(us / 1_000_000n) * 1000 + PG_EPOCH_MS).toISOString().slice(0, 19).replace('T', ' ');
        out[i] = frac === 0 ? text : `${text}.${String(frac).padStart(6, '0')}`;
        break;
      }
      case K_EPOCH_US:
        out[i] = b.readInt32BE(p) * TWO_32 + b.readUInt32BE(p + 4) + PG_EPOCH_US;
        break;
      default:
        out[i] = Buffer.from(b.subarray(p, p + len));
    }
    p += len;
  }
  if (p !== b.length) throw new RangeError('tuple: trailing bytes');
  return out;
}
