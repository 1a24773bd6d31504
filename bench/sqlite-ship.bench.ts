/**
 * Micro-benchmark: what shipping a batch to the SQLite worker costs the main thread —
 * encodeBatch() (text rules, columnar packing) plus postMessage() with the transfer list — and
 * what decoding it costs the worker (BatchReader.fill for every row), per row: the current
 * encodeBatch (values read by name, capture/rows.ts columnValuesFiller) against the previous
 * one (a keyed read `row[column]` per value, bench/sqlite-ship-old.ts), alternately in one
 * process. Both must give the same values. Rows: the load
 * generator's mixed traffic through the daemon's decode → parse → row code, batches of 1000.
 *
 *   node dist/bench/sqlite-ship.bench.js        (or node --import tsx bench/sqlite-ship.bench.ts)
 *
 * Main-thread time is the wall time of the synchronous encode + postMessage (median of rounds);
 * the worker's is measured inside it.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { DEFAULT_LIMITS } from '../src/store/columns.js';
import { newCounters } from '../src/store/values.js';
import { BatchReader, encodeBatch, transferListOf } from '../src/store/sqlite/protocol.js';
import type { RowBatch } from '../src/store/store.js';
import { OldBatchReader, oldEncodeBatch, oldTransferListOf } from './sqlite-ship-old.js';
import { generateRows } from './throughput/rows.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 20_000);
const BATCH = 1000;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 9);
const underTsx = import.meta.url.endsWith('.ts');

const worker = underTsx
  ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(new URL('./sqlite-ship-worker.ts', import.meta.url).href)}); })`, { eval: true })
  : new Worker(new URL('./sqlite-ship-worker.js', import.meta.url));

const rows = generateRows(ROWS, 'mixed');
const batches: RowBatch[] = [];
for (let i = 0; i < rows.length; i += BATCH) batches.push({ table: 'sip_capture', kind: 'sip', rows: rows.slice(i, i + BATCH) });

// Same values from both encodings, batch by batch.
for (const b of batches) {
  const oc = newCounters();
  const nc = newCounters();
  const o = new OldBatchReader(oldEncodeBatch(b, { limits: DEFAULT_LIMITS, counters: oc }));
  const n = new BatchReader(encodeBatch(b, { limits: DEFAULT_LIMITS, counters: nc }));
  const po: unknown[] = [];
  const pn: unknown[] = [];
  for (let i = 0; i < o.rows; i++) {
    o.fill(i, po, 0);
    n.fill(i, pn, 0);
    for (let k = 0; k < po.length; k++) {
      const x = po[k];
      const y = pn[k];
      if (Buffer.isBuffer(x) ? !x.equals(y as Buffer) : x !== y) throw new Error(`row ${i} column ${k}: ${String(x)} ≠ ${String(y)}`);
    }
  }
  if (JSON.stringify(oc) !== JSON.stringify(nc)) throw new Error(`counters differ: ${JSON.stringify(oc)} ≠ ${JSON.stringify(nc)}`);
}

async function round(old: boolean): Promise<{ main: number; worker: number }> {
  let mainNs = 0;
  let workerNs = 0;
  const c = newCounters();
  for (const b of batches) {
    const t0 = process.hrtime.bigint();
    if (old) {
      const enc = oldEncodeBatch(b, { limits: DEFAULT_LIMITS, counters: c });
      worker.postMessage({ old, batch: enc }, oldTransferListOf(enc));
    } else {
      const enc = encodeBatch(b, { limits: DEFAULT_LIMITS, counters: c });
      worker.postMessage({ old, batch: enc }, transferListOf(enc));
    }
    mainNs += Number(process.hrtime.bigint() - t0);
    const [ns] = (await once(worker, 'message')) as [number];
    workerNs += ns;
  }
  return { main: mainNs / 1000 / rows.length, worker: workerNs / 1000 / rows.length };
}

for (let r = 0; r < 3; r++) {
  await round(true);
  await round(false);
}
const res = { old: { main: [] as number[], work: [] as number[] }, neu: { main: [] as number[], work: [] as number[] } };
for (let r = 0; r < ROUNDS; r++) {
  for (const old of r % 2 === 0 ? [true, false] : [false, true]) {
    const x = await round(old);
    const into = old ? res.old : res.neu;
    into.main.push(x.main);
    into.work.push(x.worker);
  }
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(`SQLite batch shipping, ${ROWS.toLocaleString('en-US')} rows (mixed traffic), batches of ${BATCH}, median of ${ROUNDS} alternating rounds, µs/row:`);
console.log(`                                         main thread (encode + postMessage)   worker (decode, fill)`);
console.log(`  before (keyed reads row[column])       ${median(res.old.main).toFixed(2).padStart(6)}                               ${median(res.old.work).toFixed(2).padStart(6)}`);
console.log(`  after  (named reads, values filler)    ${median(res.neu.main).toFixed(2).padStart(6)}                               ${median(res.neu.work).toFixed(2).padStart(6)}`);
console.log(`  main thread after / before = ${(median(res.neu.main) / median(res.old.main)).toFixed(2)}  (same values for every row)`);
await worker.terminate();
