/**
 * Micro-benchmark of the daemon's whole in-process receive path for one HEP packet — decode,
 * CapturedMessage, SIP parse, row build, route, writer enqueue and batching — with a Store that
 * discards batches, so no database time is included. Traffic: the load generator's mixed flows.
 * Also the load generator's own cost per packet.
 *
 *   node dist/bench/micro/ingest.bench.js          (or node --import tsx bench/micro/ingest.bench.ts)
 *
 * "µs/msg" is main-thread time per message: at N msg/s the daemon spends N × that per second
 * before any database work, which bounds the rate one core can take.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as tick } from 'node:timers/promises';
import { CaptureState } from '../../src/pipeline/capture-state.js';
import { validateConfig } from '../../src/config/load.js';
import { Stats } from '../../src/telemetry/stats.js';
import { rowOptionsFrom } from '../../src/capture/sip-row.js';
import { PacketFactory } from '../../src/loadgen/packets.js';
import { HepIngest } from '../../src/pipeline/hep-ingest.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { Router } from '../../src/route/router.js';
import type { RowBatch, Store } from '../../src/store/store.js';
import { StoreWriter } from '../../src/store/writer/writer.js';

const N = Number(process.env['BENCH_MESSAGES'] ?? 200_000);

let rowsWritten = 0;
const nullStore: Store = {
  backend: 'sqlite',
  displayUrl: 'null://',
  ensureTable: () => Promise.resolve(),
  insert: (b: RowBatch) => {
    rowsWritten += b.rows.length;
    return Promise.resolve();
  },
  close: () => Promise.resolve(),
};

function line(name: string, ops: number, ms: number): void {
  const us = (ms * 1000) / ops;
  console.log(`${name.padEnd(58)} ${Math.round(ops / (ms / 1000)).toLocaleString('en-US').padStart(10)} ops/s  ${us.toFixed(2).padStart(6)} µs/op`);
}

async function main(): Promise<void> {
  // Load generator: one packet (copy of a template + token + timestamp).
  const factory = new PacketFactory({ mix: 'mixed', versions: [3] });
  const ts0 = Math.round(Date.now() * 1000);
  const packets: Buffer[] = [];
  for (let i = 0; i < 20_000; i++) factory.next(3, ts0); // warm-up
  let t = performance.now();
  for (let i = 0; i < N; i++) packets.push(factory.next(3, ts0 + i));
  line('loadgen PacketFactory.next (HEP3, mixed, ~640 B)', N, performance.now() - t);

  const cfg = validateConfig({ db_url: 'sqlite://unused.sqlite', capture_on: 1, hep_capture_on: 1, routes: 'homer5' }, '/tmp/bench-ingest.json5');
  const stats = new Stats(null);
  const state = new CaptureState(cfg);
  const writer = new StoreWriter(nullStore, {
    stats,
    batchSize: cfg.batch_size,
    batchTimeoutMs: cfg.batch_timeout_ms,
    queueMaxRows: Number.MAX_SAFE_INTEGER,
    insertRetries: 0,
    insertRetryTimeoutS: 0,
  });
  const pipeline = new Pipeline({
    stats,
    state,
    router: new Router(cfg.routeRules, cfg.captureModes),
    rowOptions: rowOptionsFrom(cfg),
    writerFor: () => writer,
    defaultDbUrl: null,
  });
  const ingest = new HepIngest(pipeline, stats, state);
  // Warm-up on the first packets, then the measured run in bursts like a receive loop.
  for (let i = 0; i < 20_000; i++) ingest.handle(packets[i]!, 'bench');
  await writer.flush();
  rowsWritten = 0;
  const elu0 = performance.eventLoopUtilization();
  t = performance.now();
  for (let i = 0; i < N; i += 1000) {
    const end = Math.min(N, i + 1000);
    for (let k = i; k < end; k++) ingest.handle(packets[k]!, 'bench');
    await tick();
  }
  await writer.close();
  const ms = performance.now() - t;
  const elu = performance.eventLoopUtilization(elu0);
  line('HEP3 → decode → parse → row → route → writer (homer5, null store)', N, elu.active);
  console.log(`  (${N.toLocaleString('en-US')} messages in ${ms.toFixed(0)} ms wall, ${rowsWritten.toLocaleString('en-US')} rows handed to the store, dropped ${JSON.stringify(stats.snapshot().dropped)})`);
}

await main();
