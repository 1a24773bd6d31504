/**
 * A pipeline thread's stand-in for the database writers: the rows of one batch, grouped by
 * database and table, ready to post. For a PostgreSQL Homer 5 table each row is encoded here as
 * the binary COPY tuple the store would write (store/encoded-row.ts), so the main thread only
 * copies bytes; other rows go as objects. A row whose text had to be cut to a column width goes
 * as an object too: the width of the real table decides that.
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

/** Room for a group's first tuples at least; the batch grows by doubling. */
const FIRST_BYTES = 4096;

class Group {
  readonly rows: (SipCaptureRow | ReportRow)[] = [];
  private readonly rowKeys: number[] = [];
  private encoder: BinaryCopyBatch | null = null;
  private start = 0;
  private readonly ends: number[] = [];
  private readonly cleaned: number[] = [];
  private anyCleaned = false;
  private readonly keys: number[] = [];
  private readonly counters: ValueCounters = newCounters();
  /** 1 = tuple, 0 = object, per row in arrival order. */
  private readonly order: number[] = [];

  constructor(
    readonly dbUrl: string,
    readonly table: string,
    readonly kind: TableKind,
    private readonly encode: boolean,
    private readonly sizeHint: number,
  ) {}

  add(row: SipCaptureRow | ReportRow, key: CurrentKey | null): void {
    if (this.encode && this.tryEncode(row)) {
      if (key !== null) this.keys.push(key.key, key.atMs);
      this.order.push(1);
      return;
    }
    this.order.push(0);
    this.rows.push(row);
    if (key !== null) this.rowKeys.push(key.key, key.atMs);
  }

  private tryEncode(row: SipCaptureRow | ReportRow): boolean {
    if (this.encoder === null) {
      this.encoder = new BinaryCopyBatch(defaultCopyPlan(this.kind), Buffer.allocUnsafeSlow(Math.max(FIRST_BYTES, this.sizeHint)));
      this.start = this.encoder.length;
    }
    const e = this.encoder;
    const c = this.counters;
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
    this.ends.push(e.length - this.start);
    const dn = c.nulStripped - nul;
    const di = c.invalidReplaced - invalid;
    this.cleaned.push(dn, di);
    if (dn !== 0 || di !== 0) this.anyCleaned = true;
    return true;
  }

  /** The group as posted, and the buffers to transfer. */
  finish(transfer: ArrayBuffer[]): RowGroup {
    let tuples: ArrayBuffer | null = null;
    let ends: Uint32Array | null = null;
    if (this.encoder !== null && this.ends.length > 0) {
      const all = this.encoder.buffer;
      // allocUnsafeSlow (and a grown batch, far above the pool size) own their memory: sent as it is.
      const own = all.byteOffset === 0 && all.buffer.byteLength === all.length;
      const offset = own ? this.start : 0;
      tuples = own ? (all.buffer as ArrayBuffer) : Uint8Array.from(all.subarray(this.start, this.encoder.length)).buffer;
      ends = new Uint32Array(this.ends.length + 1);
      ends[0] = offset;
      for (let i = 0; i < this.ends.length; i++) ends[i + 1] = this.ends[i]! + offset;
      transfer.push(tuples);
    }
    return {
      dbUrl: this.dbUrl,
      table: this.table,
      kind: this.kind,
      tuples,
      ends,
      cleaned: this.anyCleaned ? Uint32Array.from(this.cleaned) : null,
      keys: this.keys.length > 0 ? Float64Array.from(this.keys) : null,
      rows: this.rows,
      rowKeys: this.rowKeys.length > 0 ? Float64Array.from(this.rowKeys) : null,
      tupleNext: this.rows.length > 0 && this.ends.length > 0 ? Uint8Array.from(this.order) : null,
    };
  }
}

export class RowCollector {
  private groups = new Map<string, Group>();
  private last: Group | null = null;
  private readonly sinks = new Map<string, RowSink>();
  private readonly encodeFor: ReadonlySet<string>;
  /** Expected bytes of one group's tuples: the batch's bytes with room to spare. */
  sizeHint = FIRST_BYTES;

  constructor(
    cfg: SipcaptureConfig,
    /** The dedup key of the current message, or null without dedup. */
    private readonly current: CurrentKey | null,
  ) {
    this.encodeFor = new Set([...cfg.captureModes.values()].filter((m) => (m.schema ?? 'homer5') === 'homer5' && dbUrlKind(m.db_url) === 'postgres').map((m) => m.db_url));
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
            if (g === null) this.groups.set(k, (g = new Group(dbUrl, table, kind, encode, this.sizeHint)));
            this.last = g;
          }
          const current = this.current;
          g.add(row, current);
          if (current !== null) current.key = -1;
        },
      };
      this.sinks.set(dbUrl, sink);
    }
    return sink;
  }

  /** Everything collected since the last call; the collector starts empty again. */
  take(transfer: ArrayBuffer[]): RowGroup[] {
    const out: RowGroup[] = [];
    for (const g of this.groups.values()) out.push(g.finish(transfer));
    this.groups = new Map();
    this.last = null;
    return out;
  }
}
