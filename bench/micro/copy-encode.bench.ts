/**
 * Micro-benchmark: PostgreSQL COPY BINARY encoding of a batch on the main thread (the one-pass
 * encoder of src/store/postgres/copy-binary.ts), on the load generator's mixed traffic through
 * the daemon's decode → parse → row code. To compare with another version of the encoder, run
 * this in both trees, alternately (bench/micro/ab-path.ts shows how to build one).
 *
 *   node dist/bench/micro/copy-encode.bench.js        (or node --import tsx bench/micro/copy-encode.bench.ts)
 *
 * µs/row is CPU time (process.cpuUsage, user + system) per row, GC included.
 */
import { columnValuesFiller, type SipCaptureRow } from '../../src/capture/rows.js';
import { BinaryCopyBatch, BufferPool, copyPlan } from '../../src/store/postgres/copy-binary.js';
import { DEFAULT_LIMITS, SIP_LAYOUT } from '../../src/store/columns.js';
import { newCounters, type ValueCounters } from '../../src/store/values.js';
import { generateRows } from '../harness/rows.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 20_000);
const BATCH = 1000;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);

const plan = copyPlan(SIP_LAYOUT, DEFAULT_LIMITS, columnValuesFiller('sip'));
const pool = new BufferPool();

function encode(rows: readonly SipCaptureRow[], c: ValueCounters): Buffer {
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
let sink = 0;
function run(): number {
  const c = newCounters();
  const t0 = cpuUs();
  for (let i = 0; i < rows.length; i += BATCH) sink += encode(rows.slice(i, i + BATCH), c).length;
  return (cpuUs() - t0) / rows.length;
}

for (let r = 0; r < 2; r++) run();
const times: number[] = [];
for (let r = 0; r < ROUNDS; r++) times.push(run());
const median = [...times].sort((x, y) => x - y)[Math.floor(times.length / 2)]!;
console.log(`COPY BINARY encode, ${ROWS.toLocaleString('en-US')} rows (mixed traffic), batches of ${BATCH}, median of ${ROUNDS} rounds, CPU µs/row:`);
console.log(`  one pass into one reused buffer   ${median.toFixed(2).padStart(6)} µs/row  ${Math.round(1e6 / median).toLocaleString('en-US').padStart(10)} rows/s`);
if (sink === 0) console.log('(sink)');
