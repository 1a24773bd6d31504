/**
 * A pipeline thread's stand-in for the database writers: the rows of one batch, grouped by
 * database and table, ready to post. For a PostgreSQL Homer 5 table each row is encoded here as
 * the binary COPY tuple the store would write (store/encoded-row.ts), so the main thread only
 * copies bytes; other rows go as objects. A row whose text had to be cut to a column width goes
 * as an object too: the width of the real table decides that. The tuples of a batch are
 * encoded into one buffer per column layout, whatever their table; each table's group leaves
 * with a buffer of its own (the layout's when it has it nearly to itself, else an exact copy),
 * so a row waiting for its table never holds another table's bytes, and the copying is done
 * here, where it scales with the threads, not on the main thread.
 */
import type { ReportRow, SipCaptureRow, TableKind } from '../../capture/rows.js';
import type { SipcaptureConfig } from '../../config/types.js';
import { dbUrlKind } from '../../config/db-url.js';
import { defaultCopyPlan } from '../../store/encoded-row.js';
import { BinaryCopyBatch } from '../../store/postgres/copy-binary.js';
import { newCounters, type ValueCounters } from '../../store/values.js';
import type { RowSink } from '../pipeline.js';
import type { RowGroup } from './protocol.js';

/** The dedup key of the message being processed (set by the thread's dedup stand-in), -1 for none. */
export interface CurrentKey {
  key: number;
  atMs: number;
}

/** Room for the first tuples of a layout the batch was not sized for; the buffer grows by doubling. */
const FIRST_BYTES = 4096;

/** One layout's tuples of the batch: sip_capture, or the report tables (rtcp, report, logs). */
class Tuples {
  readonly encoder: BinaryCopyBatch;
  readonly counters: ValueCounters = newCounters();
  constructor(kind: TableKind, bytes: number) {
    this.encoder = new BinaryCopyBatch(defaultCopyPlan(kind), Buffer.allocUnsafeSlow(Math.max(FIRST_BYTES, bytes)));
  }
}

class Group {
  readonly rows: (SipCaptureRow | ReportRow)[] = [];
  private readonly rowKeys: number[] = [];
  /** [start, end) of each tuple in `tuples`. */
  private readonly spans: number[] = [];
  private readonly cleaned: number[] = [];
  private anyCleaned = false;
  private readonly keys: number[] = [];
  /** 1 = tuple, 0 = object, per row in arrival order. */
  private readonly order: number[] = [];

  constructor(
    readonly dbUrl: string,
    readonly table: string,
    readonly kind: TableKind,
    /** Where this group's tuples go; null: its rows travel as objects. */
    private readonly tuples: (() => Tuples) | null,
  ) {}

  add(row: SipCaptureRow | ReportRow, key: CurrentKey | null): void {
    if (this.tuples !== null && this.tryEncode(row, this.tuples())) {
      if (key !== null) this.keys.push(key.key, key.atMs);
      this.order.push(1);
      return;
    }
    this.order.push(0);
    this.rows.push(row);
    if (key !== null) this.rowKeys.push(key.key, key.atMs);
  }

  private tryEncode(row: SipCaptureRow | ReportRow, t: Tuples): boolean {
    const e = t.encoder;
    const c = t.counters;
    const before = e.length;
    const nul = c.nulStripped;
    const invalid = c.invalidReplaced;
    const truncated = c.truncatedRows;
    try {
      e.add(row, c);
    } catch {
      // A value the encoder refuses (an impossible date): the store reports it for the row.
      e.rewind(before);
      return false;
    }
    if (c.truncatedRows !== truncated) {
      e.rewind(before);
      c.nulStripped = nul;
      c.invalidReplaced = invalid;
      return false;
    }
    this.spans.push(before, e.length);
    const dn = c.nulStripped - nul;
    const di = c.invalidReplaced - invalid;
    this.cleaned.push(dn, di);
    if (dn !== 0 || di !== 0) this.anyCleaned = true;
    return true;
  }

  /** Bytes of this group's tuples. */
  tupleBytes(): number {
    let size = 0;
    for (let i = 0; i < this.spans.length; i += 2) size += this.spans[i + 1]! - this.spans[i]!;
    return size;
  }

  /**
   * The group as posted. `layout`: its layout's tuples, once the batch is done; `size`: this
   * group's bytes of them (tupleBytes); `whole`: the group may take that buffer as it is (no
   * other group uses it, and the group fills at least half of it), else its tuples are copied
   * into a buffer of their own.
   */
  finish(layout: Buffer | null, size: number, whole: boolean, transfer: ArrayBuffer[]): RowGroup {
    const tupleCount = this.spans.length / 2;
    let tuples: ArrayBuffer | null = null;
    let spans: Uint32Array | null = null;
    if (tupleCount > 0 && layout !== null) {
      spans = Uint32Array.from(this.spans);
      if (whole) tuples = ownBuffer(layout);
      else {
        const own = Buffer.allocUnsafeSlow(size);
        let pos = 0;
        for (let i = 0; i < spans.length; i += 2) {
          const start = pos;
          pos += layout.copy(own, pos, spans[i], spans[i + 1]);
          spans[i] = start;
          spans[i + 1] = pos;
        }
        tuples = own.buffer;
      }
      transfer.push(tuples);
    }
    return {
      dbUrl: this.dbUrl,
      table: this.table,
      kind: this.kind,
      tuples,
      spans,
      cleaned: this.anyCleaned ? Uint32Array.from(this.cleaned) : null,
      keys: this.keys.length > 0 ? Float64Array.from(this.keys) : null,
      rows: this.rows,
      rowKeys: this.rowKeys.length > 0 ? Float64Array.from(this.rowKeys) : null,
      tupleNext: this.rows.length > 0 && tupleCount > 0 ? Uint8Array.from(this.order) : null,
    };
  }
}

const layoutOf = (kind: TableKind): 'sip' | 'report' => (kind === 'sip' ? 'sip' : 'report');

export class RowCollector {
  private groups = new Map<string, Group>();
  private last: Group | null = null;
  private tuples = new Map<'sip' | 'report', Tuples>();
  private readonly sinks = new Map<string, RowSink>();
  private readonly encodeFor: ReadonlySet<string>;
  /** Expected bytes of the batch's sip_capture tuples (set per batch). */
  sizeHint = FIRST_BYTES;

  constructor(
    cfg: SipcaptureConfig,
    /** The dedup key of the current message, or null without dedup. */
    private readonly current: CurrentKey | null,
  ) {
    this.encodeFor = new Set([...cfg.captureModes.values()].filter((m) => (m.schema ?? 'homer5') === 'homer5' && dbUrlKind(m.db_url) === 'postgres').map((m) => m.db_url));
  }

  private tuplesOf(kind: TableKind): Tuples {
    const layout = layoutOf(kind);
    let t = this.tuples.get(layout);
    if (t === undefined) this.tuples.set(layout, (t = new Tuples(kind, layout === 'sip' ? this.sizeHint : FIRST_BYTES)));
    return t;
  }

  /** The RowSink the thread's Pipeline writes a database's rows to. */
  sinkFor(dbUrl: string): RowSink {
    let sink = this.sinks.get(dbUrl);
    if (sink === undefined) {
      const encode = this.encodeFor.has(dbUrl);
      sink = {
        enqueue: (table, kind, row) => {
          // Most rows of a batch go where the one before went: no key string for them.
          let g = this.last;
          if (g === null || g.table !== table || g.kind !== kind || g.dbUrl !== dbUrl) {
            const k = `${table}\0${kind}\0${dbUrl}`;
            g = this.groups.get(k) ?? null;
            if (g === null) this.groups.set(k, (g = new Group(dbUrl, table, kind, encode ? () => this.tuplesOf(kind) : null)));
            this.last = g;
          }
          const current = this.current;
          // Only SIP rows are deduplicated: a report row carries no key (-1), whatever came before.
          if (current !== null && kind !== 'sip') current.key = -1;
          g.add(row, current);
          if (current !== null) current.key = -1;
        },
      };
      this.sinks.set(dbUrl, sink);
    }
    return sink;
  }

  /** Everything collected since the last call, and the buffers to transfer; the collector starts empty again. */
  take(transfer: ArrayBuffer[]): RowGroup[] {
    const groups = [...this.groups.values()];
    const sizes = groups.map((g) => g.tupleBytes());
    // Which groups share each layout's buffer: one group alone that fills half of it takes it whole.
    const users = new Map<'sip' | 'report', number>();
    groups.forEach((g, i) => {
      if (sizes[i]! > 0) users.set(layoutOf(g.kind), (users.get(layoutOf(g.kind)) ?? 0) + 1);
    });
    const out = groups.map((g, i) => {
      const size = sizes[i]!;
      const layout = this.tuples.get(layoutOf(g.kind))?.encoder.buffer ?? null;
      const whole = layout !== null && users.get(layoutOf(g.kind)) === 1 && size * 2 >= layout.length;
      return g.finish(layout, size, whole, transfer);
    });
    this.groups = new Map();
    this.tuples = new Map();
    this.last = null;
    return out;
  }
}

/**
 * The ArrayBuffer to transfer for a layout's whole buffer: allocUnsafeSlow (and a grown batch,
 * far above the pool size) own their memory and go as they are, the COPY header and unused
 * tail with them, so a tuple's offsets stay as they are.
 */
function ownBuffer(all: Buffer): ArrayBuffer {
  const own = all.byteOffset === 0 && all.buffer.byteLength === all.length;
  return own ? (all.buffer as ArrayBuffer) : Uint8Array.from(all).buffer;
}
