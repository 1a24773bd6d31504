/**
 * Micro-benchmark: what shipping a batch to the SQLite worker costs the main thread —
 * encodeBatch() (text rules, columnar packing) plus postMessage() with the transfer list — and
 * what decoding it costs the worker (BatchReader.fill for every row), per row. Rows: the load
 * generator's mixed traffic through the daemon's decode → parse → row code, batches of 1000.
 * To compare with another version of the code, run it in both trees, alternately
 * (bench/micro/ab-path.ts shows how to build one).
 *
 *   node dist/bench/micro/sqlite-ship.bench.js        (or node --import tsx bench/micro/sqlite-ship.bench.ts)
 *
 * Main-thread time is the wall time of the synchronous encode + postMessage (median of rounds);
 * the worker's is measured inside it.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { DEFAULT_LIMITS } from '../../src/store/columns.js';
import { newCounters } from '../../src/store/values.js';
import { encodeBatch, transferListOf } from '../../src/store/sqlite/protocol.js';
import type { RowBatch } from '../../src/store/store.js';
import { generateRows } from '../harness/rows.js';

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

async function round(): Promise<{ main: number; worker: number }> {
  let mainNs = 0;
  let workerNs = 0;
  const c = newCounters();
  for (const b of batches) {
    const t0 = process.hrtime.bigint();
    const enc = encodeBatch(b, { limits: DEFAULT_LIMITS, counters: c });
    worker.postMessage(enc, transferListOf(enc));
    mainNs += Number(process.hrtime.bigint() - t0);
    const [ns] = (await once(worker, 'message')) as [number];
    workerNs += ns;
  }
  return { main: mainNs / 1000 / rows.length, worker: workerNs / 1000 / rows.length };
}

for (let r = 0; r < 3; r++) await round();
const main: number[] = [];
const work: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const x = await round();
  main.push(x.main);
  work.push(x.worker);
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(`SQLite batch shipping, ${ROWS.toLocaleString('en-US')} rows (mixed traffic), batches of ${BATCH}, median of ${ROUNDS} rounds, µs/row:`);
console.log(`  main thread (encode + postMessage)  ${median(main).toFixed(2).padStart(6)}`);
console.log(`  worker (decode, fill)               ${median(work).toFixed(2).padStart(6)}`);
await worker.terminate();
