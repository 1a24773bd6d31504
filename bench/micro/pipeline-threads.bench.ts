/**
 * Capacity of the pipeline threads (`pipeline_threads`): how many HEP packets per second the
 * daemon can turn into rows ready for PostgreSQL, with 0 (all on the main thread), 1, 2, …
 * threads, and the CPU each message costs. Packets come from memory (the load generator's
 * `mixed` traffic, HEP3, in batches of 256 as a UDP receive thread hands them over); rows go
 * to a sink that only counts, so no database, socket or sender shares the cores. What is
 * measured is the daemon's own code: the pool posting batches, the threads decoding, parsing,
 * building, routing and COPY-encoding rows, the main thread applying the answers (dedup off,
 * counters, one EncodedRow per row). With 0 threads the main thread does all of it, including
 * the COPY encoding the PostgreSQL store would do there.
 *
 *   npm run build && npm run bench:threads -- [--threads 0,1,2] [--messages 400000] [--rounds 3]
 *
 * On a bigger server pass the thread counts to compare, e.g. `--threads 0,1,2,4,8,16`: the
 * ratio to one thread is what scales; the main thread's busy share (main %) says when the
 * main thread becomes the limit.
 */
import { performance } from 'node:perf_hooks';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { ReportRow, SipCaptureRow, TableKind } from '../../src/capture/rows.js';
import { rowOptionsFrom } from '../../src/capture/sip-row.js';
import { validateConfig } from '../../src/config/load.js';
import { PacketFactory } from '../../src/loadgen/packets.js';
import { CaptureState } from '../../src/pipeline/capture-state.js';
import { HepIngest } from '../../src/pipeline/hep-ingest.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { PipelinePool } from '../../src/pipeline/threads/pool.js';
import { routerFrom } from '../../src/route/router.js';
import { defaultCopyPlan, type StoreRow } from '../../src/store/encoded-row.js';
import { BinaryCopyBatch } from '../../src/store/postgres/copy-binary.js';
import { newCounters } from '../../src/store/values.js';
import { Stats } from '../../src/telemetry/stats.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '0,1,2' },
    messages: { type: 'string', default: '400000' },
    rounds: { type: 'string', default: '3' },
  },
});
const THREADS = args.threads.split(',').map(Number);
const N = Number(args.messages);
const ROUNDS = Number(args.rounds);
const BATCH = 256;

const cfg = validateConfig(
  { db_url: 'postgres://bench@127.0.0.1/bench', capture_on: 1, hep_capture_on: 1, routes: 'homer5', listen: 'udp:127.0.0.1:9060' },
  '/tmp/pipeline-threads.bench.json5',
);
const LISTENER = cfg.listenAddresses[0]!.spec;

/** Distinct batches made; the run posts them over and over (a copy each time) up to --messages. */
const TEMPLATES = 256;
const EMPTY = new ArrayBuffer(0);

/** The traffic, packed as a receive thread packs it: one buffer and the packet ends per batch. */
function makeBatches(): { bufs: Uint8Array[]; ends: Uint32Array[]; bytes: number } {
  const factory = new PacketFactory({ mix: 'mixed', versions: [3] });
  const ts0 = Math.round(Date.now() * 1000);
  const bufs: Uint8Array[] = [];
  const ends: Uint32Array[] = [];
  let bytes = 0;
  for (let i = 0; i < TEMPLATES * BATCH; i += BATCH) {
    const packets: Buffer[] = [];
    for (let k = i; k < Math.min(N, i + BATCH); k++) packets.push(factory.next(3, ts0 + k));
    const buf = Buffer.concat(packets);
    let end = 0;
    ends.push(Uint32Array.from(packets, (p) => (end += p.length)));
    bufs.push(new Uint8Array(buf));
    bytes += buf.length;
  }
  return { bufs, ends, bytes };
}

interface Result {
  threads: number;
  perSecond: number;
  cpuUsPerMsg: number;
  /** Of it, in the kernel (system calls, page faults). */
  sysUsPerMsg: number;
  mainBusy: number;
  rows: number;
}

/** All on the main thread: HepIngest → Pipeline → a sink that COPY-encodes (the store's work there). */
async function inline(batches: ReturnType<typeof makeBatches>, messages = N): Promise<Result> {
  const stats = new Stats(null);
  const state = new CaptureState(cfg);
  let rows = 0;
  const plan = defaultCopyPlan('sip');
  const counters = newCounters();
  let enc = new BinaryCopyBatch(plan, Buffer.allocUnsafe(1 << 20));
  const sink = {
    enqueue(_t: string, kind: TableKind, row: SipCaptureRow | ReportRow): void {
      rows++;
      if (kind !== 'sip') return;
      enc.add(row, counters);
      if (rows % 1000 === 0) enc = new BinaryCopyBatch(plan, enc.buffer);
    },
  };
  const pipeline = new Pipeline({ stats, state, router: routerFrom(cfg), rowOptions: rowOptionsFrom(cfg), writerFor: () => sink, defaultDbUrl: cfg.db_url });
  const ingest = new HepIngest(pipeline, stats, state);
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let b = 0; b < messages / BATCH; b++) {
    const buf = batches.bufs[b % batches.bufs.length]!;
    const ends = batches.ends[b % batches.bufs.length]!;
    let start = 0;
    for (const end of ends) {
      ingest.handle(Buffer.from(buf.buffer, buf.byteOffset + start, end - start), LISTENER);
      start = end;
    }
    if (b % 16 === 15) await new Promise((r) => setImmediate(r));
  }
  const ms = performance.now() - t0;
  return finish(0, ms, cpu0, elu0, rows);
}

function finish(threads: number, ms: number, cpu0: NodeJS.CpuUsage, elu0: ReturnType<typeof performance.eventLoopUtilization>, rows: number): Result {
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  return { threads, perSecond: (N / ms) * 1000, cpuUsPerMsg: (cpu.user + cpu.system) / N, sysUsPerMsg: cpu.system / N, mainBusy: elu.utilization, rows };
}

/** Through the pool: batches posted as fast as its bound allows, answers applied to a counting sink. */
async function pooled(threads: number, batches: ReturnType<typeof makeBatches>): Promise<Result> {
  const stats = new Stats(null);
  const state = new CaptureState(cfg);
  let rows = 0;
  const sink = {
    enqueue(_t: string, _k: TableKind, _row: StoreRow): void {
      rows++;
    },
  };
  const pool = new PipelinePool({ threads, cfg, state, stats, logger: null, writerFor: () => sink, dedup: () => null, heplify: null, guard: null });
  await pool.start();
  // Warm the threads' JIT on a slice of the traffic, not counted.
  for (let b = 0; b < Math.min(64, batches.bufs.length); b++) pool.postBatch(LISTENER, batches.bufs[b]!.slice().buffer, batches.ends[b]!.slice());
  await pool.idle();
  rows = 0;
  // One copy per batch to post (the pool takes each buffer over), made before the clock starts:
  // filling batches is the receive threads' work, not the pipeline's.
  const copies = Array.from({ length: Math.ceil(N / BATCH) }, (_, b) => batches.bufs[b % batches.bufs.length]!.slice().buffer);
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let b = 0; b < copies.length; b++) {
    // A timer, not setImmediate: waiting must not count as the main thread's work.
    while (pool.queuedBytes > pool.maxQueuedBytes * 0.75) await new Promise((r) => setTimeout(r, 1));
    pool.postBatch(LISTENER, copies[b]!, batches.ends[b % batches.bufs.length]!);
    copies[b] = EMPTY;
  }
  await pool.idle();
  const ms = performance.now() - t0;
  const result = finish(threads, ms, cpu0, elu0, rows);
  await pool.close();
  const dropped = stats.snapshot().dropped;
  if (Object.keys(dropped).length > 0) console.log(`  threads ${threads}: dropped ${JSON.stringify(dropped)}`);
  return result;
}

async function main(): Promise<void> {
  const batches = makeBatches();
  console.log(
    `${N.toLocaleString('en-US')} HEP3 packets per case (${TEMPLATES} distinct batches of ${BATCH}, mixed traffic, ${Math.round(batches.bytes / (TEMPLATES * BATCH))} B average); ${availableParallelism()} cores; best of ${ROUNDS} rounds, cases alternating`,
  );
  // Warm the main thread's inline path once.
  await inline(batches, 50_000);
  const best = new Map<number, Result>();
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? THREADS : [...THREADS].reverse();
    for (const t of order) {
      const res = t === 0 ? await inline(batches) : await pooled(t, batches);
      const prev = best.get(t);
      if (prev === undefined || res.perSecond > prev.perSecond) best.set(t, res);
      console.log(`  round ${r + 1} threads ${t}: ${Math.round(res.perSecond).toLocaleString('en-US')} msg/s, ${res.cpuUsPerMsg.toFixed(2)} µs CPU/msg (${res.sysUsPerMsg.toFixed(2)} kernel), main ${Math.round(res.mainBusy * 100)} %, rows ${res.rows}`);
    }
  }
  const one = best.get(1)?.perSecond;
  console.log('');
  console.log('| pipeline_threads | msg/s | vs 1 thread | CPU µs/msg (all threads) | of it kernel | main thread busy |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const t of THREADS) {
    const r = best.get(t)!;
    console.log(`| ${t === 0 ? '0 (main thread)' : t} | ${Math.round(r.perSecond).toLocaleString('en-US')} | ${one === undefined ? '' : `${(r.perSecond / one).toFixed(2)}×`} | ${r.cpuUsPerMsg.toFixed(2)} | ${r.sysUsPerMsg.toFixed(2)} | ${Math.round(r.mainBusy * 100)} % |`);
  }
}

await main();
