/**
 * Micro-benchmark: PostgreSQL COPY BINARY encoding of a batch on the main thread — the one-pass
 * encoder of src/store/postgres/copy-binary.ts against the previous two-pass one (prepareRow()
 * into a value array, then one Buffer per row and a concat; kept here only as the baseline).
 * Both run alternately in one process on the same rows (the load generator's mixed traffic
 * through the daemon's decode → parse → row code), and must produce identical bytes.
 *
 *   node dist/bench/copy-encode.bench.js        (or node --import tsx bench/copy-encode.bench.ts)
 *
 * µs/row is CPU time (process.cpuUsage, user + system) per row, GC included.
 */
import { columnValuesFiller, type SipCaptureRow } from '../src/capture/rows.js';
import { BinaryCopyBatch, BufferPool, copyPlan, pgTimestampMicros } from '../src/store/postgres/copy-binary.js';
import { DEFAULT_LIMITS, SIP_LAYOUT, type TableLayout } from '../src/store/columns.js';
import { newCounters, prepareRow, type ValueCounters } from '../src/store/values.js';
import { generateRows } from './throughput/rows.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 20_000);
const BATCH = 1000;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);

// ---- the previous encoder (before the one-pass rewrite), for the A/B only ----
const BINARY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
const BINARY_TRAILER = Buffer.from([0xff, 0xff]);

class OldBinaryEncoder {
  private readonly kinds: Uint8Array;
  constructor(layout: TableLayout) {
    this.kinds = new Uint8Array(layout.columns.length);
    layout.columns.forEach((c, i) => {
      this.kinds[i] = c === 'date' ? 3 : c === 'msg' ? 4 : c === 'micro_ts' ? 2 : layout.ints.has(c) ? 1 : 0;
    });
  }
  encode(values: readonly (string | number | Buffer)[]): Buffer {
    const n = values.length;
    let size = 2;
    const lens = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const k = this.kinds[i]!;
      const v = values[i]!;
      const len = k === 1 ? 4 : k === 2 || k === 3 ? 8 : k === 4 ? (v as Buffer).length : Buffer.byteLength(v as string);
      lens[i] = len;
      size += 4 + len;
    }
    const buf = Buffer.allocUnsafe(size);
    buf.writeInt16BE(n, 0);
    let off = 2;
    for (let i = 0; i < n; i++) {
      const k = this.kinds[i]!;
      const v = values[i]!;
      const len = lens[i]!;
      buf.writeInt32BE(len, off);
      off += 4;
      switch (k) {
        case 1:
          buf.writeInt32BE(v as number, off);
          break;
        case 2:
          buf.writeBigInt64BE(BigInt(v as number), off);
          break;
        case 3:
          buf.writeBigInt64BE(pgTimestampMicros(v as string), off);
          break;
        case 4:
          (v as Buffer).copy(buf, off);
          break;
        default:
          buf.write(v as string, off, len, 'utf8');
      }
      off += len;
    }
    return buf;
  }
}

const CHUNK_BYTES = 256 * 1024;
const oldEncoder = new OldBinaryEncoder(SIP_LAYOUT);

/** The old copyBatch loop: prepareRow → encode → collect parts → concat per 256 KiB. */
function encodeOld(rows: readonly SipCaptureRow[], c: ValueCounters): Buffer[] {
  const out: Buffer[] = [];
  const parts: Buffer[] = [BINARY_HEADER];
  let size = BINARY_HEADER.length;
  for (const row of rows) {
    const b = oldEncoder.encode(prepareRow(row, SIP_LAYOUT, DEFAULT_LIMITS, c));
    parts.push(b);
    size += b.length;
    if (size >= CHUNK_BYTES) {
      out.push(Buffer.concat(parts, size));
      parts.length = 0;
      size = 0;
    }
  }
  parts.push(BINARY_TRAILER);
  out.push(Buffer.concat(parts, size + BINARY_TRAILER.length));
  return out;
}

const plan = copyPlan(SIP_LAYOUT, DEFAULT_LIMITS, columnValuesFiller('sip'));
const pool = new BufferPool();

function encodeNew(rows: readonly SipCaptureRow[], c: ValueCounters): Buffer {
  const b = new BinaryCopyBatch(plan, pool.take());
  for (const row of rows) b.add(row, c);
  const bytes = b.end();
  pool.give(b.buffer);
  return bytes;
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

const rows = generateRows(ROWS, 'mixed');
// Identical bytes, batch by batch.
for (let i = 0; i < rows.length; i += BATCH) {
  const batch = rows.slice(i, i + BATCH);
  const a = Buffer.concat(encodeOld(batch, newCounters()));
  const b = Buffer.from(encodeNew(batch, newCounters()));
  if (!a.equals(b)) throw new Error(`batch at ${i}: the encoders differ`);
}

let sink = 0;
function run(which: 'old' | 'new'): number {
  const c = newCounters();
  const t0 = cpuUs();
  for (let i = 0; i < rows.length; i += BATCH) {
    const batch = rows.slice(i, i + BATCH);
    if (which === 'old') sink += encodeOld(batch, c).length;
    else sink += encodeNew(batch, c).length;
  }
  return (cpuUs() - t0) / rows.length;
}

for (let r = 0; r < 2; r++) {
  run('old');
  run('new');
}
const old: number[] = [];
const neu: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  if (r % 2 === 0) {
    old.push(run('old'));
    neu.push(run('new'));
  } else {
    neu.push(run('new'));
    old.push(run('old'));
  }
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const mo = median(old);
const mn = median(neu);
console.log(`COPY BINARY encode, ${ROWS.toLocaleString('en-US')} rows (mixed traffic), batches of ${BATCH}, median of ${ROUNDS} alternating rounds, CPU µs/row:`);
console.log(`  before (prepareRow + per-row Buffer + concat)   ${mo.toFixed(2).padStart(6)} µs/row  ${Math.round(1e6 / mo).toLocaleString('en-US').padStart(10)} rows/s`);
console.log(`  after  (one pass into one reused buffer)        ${mn.toFixed(2).padStart(6)} µs/row  ${Math.round(1e6 / mn).toLocaleString('en-US').padStart(10)} rows/s`);
console.log(`  after / before = ${(mn / mo).toFixed(2)}  (bytes identical for every batch)`);
if (sink === 0) console.log('(sink)');
