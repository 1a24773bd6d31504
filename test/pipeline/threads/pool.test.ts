/**
 * The pipeline threads against the main-thread pipeline: the same packets give the same rows
 * (byte for byte as the PostgreSQL store encodes them), in the same order, and the same drops;
 * every packet is a row or a counted drop also when a thread dies or the bound is reached;
 * switches and reloads reach the threads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SipCaptureRow, TableKind } from '../../../src/capture/rows.js';
import { rowOptionsFrom } from '../../../src/capture/sip-row.js';
import { validateConfig } from '../../../src/config/load.js';
import type { SipcaptureConfig } from '../../../src/config/types.js';
import { encodeHepV3 } from '../../../src/hep/encode.js';
import { PacketFactory } from '../../../src/loadgen/packets.js';
import { CaptureState } from '../../../src/pipeline/capture-state.js';
import { dedupFrom } from '../../../src/pipeline/dedup.js';
import { HepIngest } from '../../../src/pipeline/hep-ingest.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { PipelinePool, pipelineThreadsOf } from '../../../src/pipeline/threads/pool.js';
import { routerFrom } from '../../../src/route/router.js';
import { defaultCopyPlan, EncodedRow, rowOf, type StoreRow } from '../../../src/store/encoded-row.js';
import { BinaryCopyBatch } from '../../../src/store/postgres/copy-binary.js';
import { newCounters } from '../../../src/store/values.js';
import { Stats } from '../../../src/telemetry/stats.js';
import { goldenCorpus } from '../../helpers/kamailio-corpus.js';

const PG = 'postgres://t@127.0.0.1/t';
const SQLITE = 'sqlite:///tmp/pool-test.sqlite';

function config(extra: Record<string, unknown> = {}): SipcaptureConfig {
  return validateConfig({ db_url: PG, capture_on: 1, hep_capture_on: 1, listen: 'udp:127.0.0.1:9060', ...extra }, '/tmp/pool-test.json5');
}

interface Stored {
  db: string;
  table: string;
  kind: TableKind;
  row: StoreRow;
}

/** A writer stand-in per database that keeps what it is given, in order. */
function collect(): { stored: Stored[]; writerFor: (db: string) => { enqueue(table: string, kind: TableKind, row: StoreRow): void } } {
  const stored: Stored[] = [];
  return { stored, writerFor: (db) => ({ enqueue: (table, kind, row) => stored.push({ db, table, kind, row }) }) };
}

/** Packets without a capture time (HEPv1, HEP3 with tv_sec 0) take the receive time: not comparable. */
const STARTED_US = Date.now() * 1000;
function timeless(s: Stored): Record<string, unknown> {
  const row = { ...(rowOf(s.row, s.kind) as unknown as Record<string, unknown>) };
  if ((row['micro_ts'] as number) >= STARTED_US) {
    delete row['micro_ts'];
    delete row['date'];
  }
  return row;
}

/** The bytes the PostgreSQL store would send for a row (a tuple as it is, an object encoded). */
function tupleOf(s: Stored): Buffer {
  if (s.row instanceof EncodedRow) return Buffer.from(s.row.tuple);
  const b = new BinaryCopyBatch(defaultCopyPlan(s.kind), Buffer.alloc(1 << 16));
  const start = b.length;
  b.add(s.row, newCounters());
  return Buffer.from(b.buffer.subarray(start, b.length));
}

/** Rows per database and table, in the order each table got them (the order that is kept). */
function byTable(stored: readonly Stored[]): Stored[] {
  const tables = new Map<string, Stored[]>();
  for (const s of stored) {
    const k = `${s.db} ${s.table} ${s.kind}`;
    let list = tables.get(k);
    if (list === undefined) tables.set(k, (list = []));
    list.push(s);
  }
  return [...tables.keys()].sort().flatMap((k) => tables.get(k)!);
}

function batchOf(packets: readonly Buffer[]): { buf: ArrayBuffer; ends: Uint32Array } {
  const all = Buffer.concat(packets);
  let end = 0;
  return { buf: Uint8Array.from(all).buffer, ends: Uint32Array.from(packets, (p) => (end += p.length)) };
}

function inline(cfg: SipcaptureConfig, packets: readonly Buffer[], listener: string): { stored: Stored[]; stats: Stats } {
  const stats = new Stats(null);
  const state = new CaptureState(cfg);
  const { stored, writerFor } = collect();
  const pipeline = new Pipeline({ stats, state, router: routerFrom(cfg), rowOptions: rowOptionsFrom(cfg), writerFor, defaultDbUrl: cfg.captureModes.get('default')?.db_url ?? null, dedup: dedupFrom(cfg) });
  const ingest = new HepIngest(pipeline, stats, state);
  for (const p of packets) ingest.handle(p, listener);
  return { stored, stats };
}

async function pooled(cfg: SipcaptureConfig, threads: number, batches: readonly (readonly Buffer[])[], listener: string, opts: { maxQueuedBytes?: number } = {}) {
  const stats = new Stats(null);
  const state = new CaptureState(cfg);
  const { stored, writerFor } = collect();
  const dedup = dedupFrom(cfg);
  const pool = new PipelinePool({ threads, cfg, state, stats, logger: null, writerFor, dedup: () => dedup, heplify: null, guard: null, ...opts });
  await pool.start();
  return { pool, stats, state, stored, post: () => batches.forEach((b) => { const { buf, ends } = batchOf(b); pool.postBatch(listener, buf, ends); }) };
}

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

const golden = goldenCorpus<{ hep_hex: string }>().map((l) => Buffer.from(l.hep_hex, 'hex'));

test('the golden corpus through 3 threads: the same rows in each table in the same order, and the same drops, as on the main thread', async () => {
  const cfg = config({ routes: 'homer5' });
  const listener = cfg.listenAddresses[0]!.spec;
  const want = inline(cfg, golden, listener);
  // Small batches so that all three threads work and answers come back out of order.
  const got = await pooled(cfg, 3, chunks(golden, 7), listener);
  got.post();
  await got.pool.idle();
  await got.pool.close();
  assert.ok(want.stored.length > 300, `the corpus stores rows (${want.stored.length})`);
  assert.equal(got.stored.length, want.stored.length);
  const [wants, gots] = [byTable(want.stored), byTable(got.stored)];
  let tuples = 0;
  for (let i = 0; i < wants.length; i++) {
    const w = wants[i]!;
    const g = gots[i]!;
    assert.equal(`${g.db} ${g.table} ${g.kind}`, `${w.db} ${w.table} ${w.kind}`, `row ${i}: destination`);
    if ((rowOf(w.row, w.kind) as { micro_ts: number }).micro_ts < STARTED_US) assert.ok(tupleOf(g).equals(tupleOf(w)), `row ${i}: the bytes PostgreSQL gets`);
    else assert.deepEqual(timeless(g), timeless(w), `row ${i}: the values (but the receive time)`);
    if (g.row instanceof EncodedRow) tuples++;
  }
  assert.ok(tuples > 300, `rows travel encoded (${tuples})`);
  const snap = (s: Stats): unknown => ({ received: s.snapshot().received, dropped: s.snapshot().dropped });
  assert.deepEqual(snap(got.stats), snap(want.stats));
});

test('each table\'s encoded rows hold a buffer of their own, sized to them: a row waiting for a quiet table never keeps another table\'s bytes', async () => {
  const cfg = config({ routes: 'homer5' });
  const listener = cfg.listenAddresses[0]!.spec;
  const factory = new PacketFactory({ mix: 'mixed', versions: [3] });
  // Batches of 256 mixed packets: calls, registrations and OPTIONS share each batch (3 tables).
  const batches = Array.from({ length: 8 }, (_, b) => Array.from({ length: 256 }, (_, i) => factory.next(3, STARTED_US - 1e6 + b * 256 + i)));
  const got = await pooled(cfg, 2, batches, listener);
  got.post();
  await got.pool.idle();
  await got.pool.close();
  assert.equal(got.stored.length, 8 * 256);
  const tablesOf = new Map<ArrayBufferLike, Set<string>>();
  const bytesIn = new Map<ArrayBufferLike, number>();
  for (const s of got.stored) {
    assert.ok(s.row instanceof EncodedRow, `${s.table}: travels encoded`);
    const buf = s.row.bytes.buffer;
    let tables = tablesOf.get(buf);
    if (tables === undefined) tablesOf.set(buf, (tables = new Set()));
    tables.add(s.table);
    bytesIn.set(buf, (bytesIn.get(buf) ?? 0) + s.row.byteLength);
  }
  assert.ok(new Set(got.stored.map((s) => s.table)).size >= 3, 'the traffic reaches 3 tables');
  for (const [buf, tables] of tablesOf) {
    assert.equal(tables.size, 1, `one buffer, one table (${[...tables].join(', ')})`);
    assert.ok(bytesIn.get(buf)! * 2 >= buf.byteLength, `a buffer of ${buf.byteLength} bytes holds ${bytesIn.get(buf)} of its table's tuples`);
  }
});

test('rows for SQLite travel as objects, equal to the main thread\'s', async () => {
  const cfg = config({ db_url: SQLITE, routes: 'homer5' });
  const listener = cfg.listenAddresses[0]!.spec;
  const packets = golden.slice(0, 120);
  const want = inline(cfg, packets, listener);
  const got = await pooled(cfg, 2, chunks(packets, 16), listener);
  got.post();
  await got.pool.idle();
  await got.pool.close();
  assert.equal(got.stored.length, want.stored.length);
  const [wants, gots] = [byTable(want.stored), byTable(got.stored)];
  for (let i = 0; i < wants.length; i++) {
    assert.ok(!(gots[i]!.row instanceof EncodedRow));
    assert.deepEqual(timeless(gots[i]!), timeless(wants[i]!), `row ${i}`);
    assert.ok(Buffer.isBuffer((gots[i]!.row as SipCaptureRow).msg), 'msg is a Buffer again');
  }
});

test('an encoded row decodes to the row, its text cleaned as every store cleans it', async () => {
  const cfg = config({ routes: 'homer5' });
  const listener = cfg.listenAddresses[0]!.spec;
  const want = inline(cfg, golden, listener);
  const got = await pooled(cfg, 1, [golden], listener);
  got.post();
  await got.pool.idle();
  await got.pool.close();
  const [wants, gots] = [byTable(want.stored), byTable(got.stored)];
  for (let i = 0; i < wants.length; i++) {
    const g = gots[i]!;
    if (!(g.row instanceof EncodedRow)) continue;
    const back = timeless(g);
    const w = timeless(wants[i]!);
    for (const [k, v] of Object.entries(back)) {
      if (Buffer.isBuffer(v)) assert.ok(v.equals(w[k] as Buffer), `row ${i} ${k}`);
      else assert.equal(v, typeof w[k] === 'string' ? (w[k]).replace(/\0/g, '') : w[k], `row ${i} ${k}`);
    }
  }
});

test('dedup across threads: one table in the main thread keeps the first copy, drops the rest', async () => {
  const cfg = config({ routes: 'homer5', dedup: 'all', dedup_window_ms: 60_000 });
  const listener = cfg.listenAddresses[0]!.spec;
  const f = new PacketFactory({ mix: 'mixed', versions: [3] });
  const once = Array.from({ length: 200 }, (_, i) => f.next(3, 1_700_000_000_000_000 + i));
  // The same packets three times, in batches that land on different threads.
  const got = await pooled(cfg, 2, chunks([...once, ...once, ...once], 50), listener);
  got.post();
  await got.pool.idle();
  await got.pool.close();
  assert.equal(got.stored.length, 200);
  assert.equal(got.stats.droppedCount('duplicate'), 400);
});

test('dedup: a dropped SIP copy lends its key to no other row (RTCP after it is stored, not a duplicate)', async () => {
  const cfg = config({ routes: 'homer5', dedup: 'all', dedup_window_ms: 60_000 });
  const listener = cfg.listenAddresses[0]!.spec;
  const addr = { srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 5060, dstPort: 5060, tsSec: 1_700_000_000, tsUsec: 0 };
  // Parses as nothing (no SIP first line): dropped after its dedup key was made.
  const junk = encodeHepV3({ ...addr, payload: 'not a SIP message\r\n\r\n' });
  const rtcp = (n: number): Buffer => encodeHepV3({ ...addr, protoType: 5, correlationId: `call-${n}`, payload: `{"report":${n}}` });
  const got = await pooled(cfg, 2, [[junk, rtcp(1)], [junk, rtcp(2)], [junk, rtcp(3)]], listener);
  got.post();
  await got.pool.idle();
  await got.pool.close();
  // A thread cannot tell a copy (the table is in the main thread): the junk is counted as what it is.
  assert.equal(got.stats.droppedCount('sip_malformed'), 3);
  assert.equal(got.stats.droppedCount('duplicate'), 0);
  assert.equal(got.stored.filter((s) => s.kind === 'rtcp').length, 3, 'every RTCP row is stored');
});

test('a thread that dies: what it held is counted pipeline_thread_failed, a new one takes over', async () => {
  const cfg = config({ routes: 'homer5' });
  const listener = cfg.listenAddresses[0]!.spec;
  const f = new PacketFactory({ mix: 'mixed', versions: [3] });
  const packets = Array.from({ length: 20_000 }, (_, i) => f.next(3, 1_700_000_000_000_000 + i));
  const got = await pooled(cfg, 2, chunks(packets, 100), listener);
  got.post();
  // Whatever thread 0 holds now is lost with it.
  await got.pool.killThread(0);
  await got.pool.idle();
  const failed = got.stats.droppedCount('pipeline_thread_failed');
  assert.equal(got.stored.length + failed, packets.length, `rows ${got.stored.length} + failed ${failed}`);
  assert.ok(await waitUntil(() => got.pool.restarts === 1), 'the thread is replaced');
  // The replacement works.
  const before = got.stored.length;
  const more = batchOf(packets.slice(0, 100));
  got.pool.postBatch(listener, more.buf, more.ends);
  got.pool.postBatch(listener, batchOf(packets.slice(100, 200)).buf, batchOf(packets.slice(100, 200)).ends);
  await got.pool.idle();
  assert.equal(got.stored.length - before, 200);
  await got.pool.close();
});

test('past the bound a batch is counted queue_full, never queued without limit', async () => {
  const cfg = config({ routes: 'homer5' });
  const listener = cfg.listenAddresses[0]!.spec;
  const f = new PacketFactory({ mix: 'mixed', versions: [3] });
  const packets = Array.from({ length: 20_000 }, (_, i) => f.next(3, 1_700_000_000_000_000 + i));
  const got = await pooled(cfg, 1, chunks(packets, 250), listener, { maxQueuedBytes: 512 * 1024 });
  let peak = 0;
  for (const b of chunks(packets, 250)) {
    const { buf, ends } = batchOf(b);
    got.pool.postBatch(listener, buf, ends);
    peak = Math.max(peak, got.pool.queuedBytes);
  }
  await got.pool.idle();
  await got.pool.close();
  const full = got.stats.droppedCount('queue_full');
  assert.ok(full > 0, 'some batches did not fit');
  assert.ok(peak <= 512 * 1024, `queued at most the bound (${peak})`);
  assert.equal(got.stored.length + full, packets.length);
  assert.equal(got.stats.snapshot().received[`${listener}|hep3`], packets.length, 'all counted as received');
});

test('capture switches in shared memory and a reload reach every thread', async () => {
  const cfg = config({ routes: 'default', table_name: 'sip_capture' });
  const listener = cfg.listenAddresses[0]!.spec;
  const packets = golden.slice(0, 40);
  const got = await pooled(cfg, 2, chunks(packets, 10), listener);
  got.state.captureOn = false;
  got.post();
  await got.pool.idle();
  assert.equal(got.stored.length, 0);
  assert.equal(got.stats.droppedCount('capture_off') + got.stats.droppedCount('unsupported_proto_type') + got.stats.droppedCount('hep_malformed'), 40);
  got.state.captureOn = true;
  got.state.hepCaptureOn = false;
  got.post();
  await got.pool.idle();
  assert.equal(got.stats.droppedCount('hep_capture_off'), 40);
  got.state.hepCaptureOn = true;
  got.pool.reconfigure(config({ routes: 'default', table_name: 'reloaded_capture' }));
  got.post();
  await got.pool.idle();
  await got.pool.close();
  assert.ok(got.stored.length > 0);
  assert.deepEqual(new Set(got.stored.filter((s) => s.kind === 'sip').map((s) => s.table)), new Set(['reloaded_capture']));
});

test('pipeline_threads: -1 is the cores but one, forward keeps the main thread', () => {
  assert.equal(pipelineThreadsOf({ pipeline_threads: -1, forward: [] }, 1), 0);
  assert.equal(pipelineThreadsOf({ pipeline_threads: -1, forward: [] }, 2), 1);
  assert.equal(pipelineThreadsOf({ pipeline_threads: -1, forward: [] }, 4), 3);
  assert.equal(pipelineThreadsOf({ pipeline_threads: -1, forward: [] }, 64), 8);
  assert.equal(pipelineThreadsOf({ pipeline_threads: 3, forward: [] }, 2), 3);
  assert.equal(pipelineThreadsOf({ pipeline_threads: 3, forward: [{} as SipcaptureConfig['forward'][number]] }, 2), 0);
});

async function waitUntil(probe: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (probe()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return probe();
}

