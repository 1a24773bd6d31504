/**
 * A/B of SqliteStore options on the daemon's own rows, interleaved: one store (file, worker
 * thread, checkpointer thread) per variant, fed the same rows in turns of CHUNK rows (batches of
 * 1000, 2 in flight as the daemon's writer sends them), so a noisy machine slows every variant
 * alike and every table has grown equally by the time it is measured. During a turn only that
 * variant's store works, so the whole process's CPU in that turn (from /proc/self/task) is its
 * cost; the split by thread shows the writer and the checkpointer.
 *
 *   node dist/bench/micro/sqlite-worker.bench.js                       (the variants below)
 *   BENCH_VARIANTS='[{}, {"groupMaxRows":0}]' node dist/bench/micro/sqlite-worker.bench.js
 *   env: BENCH_ROWS (200000) BENCH_CHUNK (20000) BENCH_INFLIGHT (2) BENCH_DIR (os.tmpdir())
 *
 * Columns: rows/s = rows / time of that variant's turns; CPU µs/row = all threads of the
 * process during its turns (main thread: encoding and posting the batches; writer; checkpointer;
 * V8 helpers); batch ms = insert() call to answer, 2 in flight; WAL = the -wal file's largest
 * size seen.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SipCaptureRow } from '../../src/capture/rows.js';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/index.js';
import { generateRows } from '../harness/rows.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 200_000);
const CHUNK = Number(process.env['BENCH_CHUNK'] ?? 20_000);
const IN_FLIGHT = Number(process.env['BENCH_INFLIGHT'] ?? 2);
const BATCH = 1000;
const TABLE = 'sip_capture';
const OLD: SqliteStoreOptions = { checkpointThread: false, walMaxBytes: 1000 * 4096, groupMaxRows: 0 };
const VARIANTS = JSON.parse(process.env['BENCH_VARIANTS'] ?? JSON.stringify([OLD, {}])) as SqliteStoreOptions[];
const TICK_US = 1e6 / 100; // USER_HZ

/** CPU ticks (user + system) of every thread of this process. */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      out.set(tid, Number(rest[11]) + Number(rest[12]));
    } catch {
      // the thread ended
    }
  }
  return out;
}

interface Variant {
  opts: SqliteStoreOptions;
  store: SqliteStore;
  file: string;
  /** Threads started by this store (writer, checkpointer). */
  threads: Set<string>;
  ms: number;
  rows: number;
  ticks: number;
  threadTicks: Map<string, number>;
  batchMs: number[];
  walMax: number;
}

async function insertChunk(v: Variant, rows: readonly SipCaptureRow[]): Promise<void> {
  const pending = new Set<Promise<void>>();
  for (let i = 0; i < rows.length || pending.size > 0; ) {
    while (pending.size < IN_FLIGHT && i < rows.length) {
      const t = performance.now();
      const p: Promise<void> = v.store.insert({ table: TABLE, kind: 'sip', rows: rows.slice(i, i + BATCH) }).then(() => {
        pending.delete(p);
        v.batchMs.push(performance.now() - t);
      });
      pending.add(p);
      i += BATCH;
    }
    await Promise.race(pending);
  }
}

function walSize(file: string): number {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(process.env['BENCH_DIR'] ?? tmpdir(), 'sipcapture-sqlite-ab-'));
  const rows = generateRows(ROWS, 'mixed');
  const variants: Variant[] = [];
  try {
    for (const [k, opts] of VARIANTS.entries()) {
      const before = new Set(threadTicks().keys());
      const file = join(dir, `v${k}.sqlite`);
      const store = await SqliteStore.open(`sqlite://${file}`, opts);
      await store.ensureTable(TABLE, 'sip');
      await sleep(300); // the checkpointer thread starts asynchronously
      const threads = new Set([...threadTicks().keys()].filter((t) => !before.has(t)));
      variants.push({ opts, store, file, threads, ms: 0, rows: 0, ticks: 0, threadTicks: new Map(), batchMs: [], walMax: 0 });
    }
    const timer = setInterval(() => {
      for (const v of variants) v.walMax = Math.max(v.walMax, walSize(v.file));
    }, 25);
    for (let c = 0, turn = 0; c < rows.length; c += CHUNK, turn++) {
      const chunk = rows.slice(c, c + CHUNK);
      const order = turn % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        const t0 = threadTicks();
        const start = performance.now();
        await insertChunk(v, chunk);
        v.ms += performance.now() - start;
        const t1 = threadTicks();
        v.rows += chunk.length;
        for (const [tid, ticks] of t1) {
          const d = ticks - (t0.get(tid) ?? 0);
          v.ticks += d;
          const key = v.threads.has(tid) ? tid : tid === String(process.pid) ? 'main' : 'other';
          v.threadTicks.set(key, (v.threadTicks.get(key) ?? 0) + d);
        }
      }
    }
    clearInterval(timer);
    console.log(`# ${ROWS} rows (load generator, mixed) per variant, turns of ${CHUNK}, batches of ${BATCH}, ${IN_FLIGHT} in flight, 9 indexes`);
    for (const v of variants) {
      const perRow = (t: number): string => ((t * TICK_US) / v.rows).toFixed(1);
      const byThread = [...v.threadTicks.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([k, t]) => `${v.threads.has(k) ? 'worker' : k} ${perRow(t)}`)
        .join(', ');
      const sorted = [...v.batchMs].sort((a, b) => a - b);
      const p = (q: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(0);
      console.log(
        `${JSON.stringify(v.opts).padEnd(70)} ${Math.round(v.rows / (v.ms / 1000))
          .toString()
          .padStart(7)} rows/s  CPU ${perRow(v.ticks).padStart(5)} µs/row (${byThread})  batch ms p50 ${p(0.5)} max ${p(1)}  WAL max ${(v.walMax / 2 ** 20).toFixed(0)} MiB`,
      );
    }
  } finally {
    for (const v of variants) await v.store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
