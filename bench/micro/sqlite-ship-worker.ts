/**
 * Worker of bench/micro/sqlite-ship.bench.ts: decodes each batch into a reused parameter array row by
 * row (what sqlite-worker.ts does before binding) and reports its time in ns.
 */
import { parentPort } from 'node:worker_threads';
import { BatchReader, type EncodedBatch } from '../../src/store/sqlite/protocol.js';

const port = parentPort!;
const params = new Array<unknown>(64);
port.on('message', (batch: EncodedBatch) => {
  const t0 = process.hrtime.bigint();
  const r = new BatchReader(batch);
  for (let i = 0; i < r.rows; i++) r.fill(i, params, 0);
  port.postMessage(Number(process.hrtime.bigint() - t0));
});
