/**
 * The throughput benchmark's HOMER 7 side (bench/harness/backends.ts postgresHomer7Backend,
 * latency.ts SampledLatencyPoller) on the real PostgreSQL: the step's schema, the row count
 * across the hep_proto_* parents, the create_date slices the latency poller reads (one on each
 * side of a partition boundary), and the poller's sample and its late rows.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { postgresHomer7Backend, urlInSchema, type Homer7Backend } from '../../bench/harness/backends.js';
import { SampledLatencyPoller } from '../../bench/harness/latency.js';
import { generateRows } from '../../bench/harness/rows.js';
import type { SipCaptureRow } from '../../src/capture/rows.js';
import { createHomer7Store } from '../../src/store/homer7/index.js';
import { partitionStartUs } from '../../src/store/homer7/schema.js';
import { PG_URL, RUN, skipReason } from '../store/postgres/helpers.js';

const pgSkip = await skipReason('postgres');

test('urlInSchema adds the search_path to the options the URL has', () => {
  const plain = new URL(urlInSchema('postgres://u@h:5432/db', 's1'));
  assert.equal(plain.searchParams.get('options'), '-c search_path=s1');
  const withOptions = new URL(urlInSchema('postgres://u@h/db?options=-c%20work_mem%3D8MB&sslmode=disable', 's2'));
  assert.equal(withOptions.searchParams.get('options'), '-c work_mem=8MB -c search_path=s2');
  assert.equal(withOptions.searchParams.get('sslmode'), 'disable');
});

test('SampledLatencyPoller slices: one per period, at a phase that moves, the fresh ones or all', async () => {
  const p = new SampledLatencyPoller(() => Promise.resolve([]), () => Promise.resolve(0), { intervalMs: 60_000, everyMs: 50, widthUs: 500, freshMs: 1000 });
  assert.deepEqual(p.slicesAt(Date.now(), true), [], 'none before start()');
  p.start();
  await p.stop();
  const t = Date.now() + 10_000;
  const all = p.slicesAt(t, true);
  assert.ok(all.length >= 199 && all.length <= 201, `${all.length} slices in 10 s`);
  for (let i = 1; i < all.length; i++) assert.ok(all[i]! > all[i - 1]! && all[i]! - all[i - 1]! < 100_000, 'ascending, one per 50 ms period');
  assert.ok(all.every((us) => us <= t * 1000));
  const phases = all.map((us, j) => us - all[0]! - j * 50_000);
  assert.ok(new Set(phases.map((x) => Math.floor(x / 5000))).size >= 8, 'the phase visits the whole period');
  const fresh = p.slicesAt(t, false);
  assert.ok(fresh.length >= 19 && fresh.length <= 21, `${fresh.length} slices in the last second`);
  assert.deepEqual(fresh, all.filter((us) => us >= (t - 1000) * 1000));
});

describe('benchmark HOMER 7 backend', { skip: pgSkip }, () => {
  let backend: Homer7Backend;
  let admin: pg.Client;
  const schemas: string[] = [];
  let n = 0;

  before(async () => {
    backend = await postgresHomer7Backend(PG_URL);
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
  });
  after(async () => {
    for (const s of schemas) await backend.dropTable(s);
    await backend.close();
    await admin.end();
  });

  async function freshSchema(): Promise<string> {
    const schema = `bench_h7test_${RUN}_${n++}`;
    schemas.push(schema);
    await backend.prepare(schema);
    return schema;
  }

  /** Writes the rows the way the daemon does (the HOMER 7 store, into the step's schema). */
  async function write(schema: string, rows: readonly SipCaptureRow[]): Promise<void> {
    const store = await createHomer7Store(backend.dbUrl(schema), { aheadIntervalMs: 0 });
    try {
      for (let i = 0; i < rows.length; i += 1000) await store.insert({ table: 'sip_capture', kind: 'sip', rows: rows.slice(i, i + 1000) });
    } finally {
      await store.close();
    }
  }

  test('prepare makes the parents and partitions; count adds up the parents; slices read the rows by create_date across a partition boundary', async () => {
    const schema = await freshSchema();
    const parts = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM pg_tables WHERE schemaname = $1 AND tablename ~ '_[0-9]{8}_[0-9]{4}$'`, [schema]);
    assert.equal(Number(parts.rows[0]!.n), 6 * 24, "today's and tomorrow's 2-hour partitions of the six parents");
    assert.equal(await backend.count(schema), 0);

    // The load generator's mixed traffic, stamped 20 µs apart across the next partition boundary.
    const boundaryUs = partitionStartUs(Date.now() * 1000, 120) + 120 * 60_000_000;
    const rows = generateRows(3000, 'mixed').map((r, i) => ({ ...r, micro_ts: boundaryUs - 1500 * 20 + i * 20 }));
    await write(schema, rows);

    assert.equal(await backend.count(schema), 3000);
    const per = await admin.query<{ p: string; n: string }>(
      `SELECT 'call' AS p, count(*) AS n FROM ${schema}.hep_proto_1_call UNION ALL SELECT 'registration', count(*) FROM ${schema}.hep_proto_1_registration UNION ALL SELECT 'default', count(*) FROM ${schema}.hep_proto_1_default`,
    );
    for (const r of per.rows) assert.ok(Number(r.n) > 100, `hep_proto_1_${r.p} has ${r.n} rows: the mixed traffic fills all three SIP parents`);

    // One slice well before the boundary, one across it, one after it, one past the last row.
    const width = 500;
    const starts = [boundaryUs - 10_000, boundaryUs - 250, boundaryUs + 5_000, boundaryUs + 40_000];
    const expected = rows.filter((r) => starts.some((s) => r.micro_ts >= s && r.micro_ts < s + width)).map((r) => r.micro_ts);
    assert.equal(expected.length, 3 * 25);
    const got = await backend.fetchSlices(schema, starts, width);
    assert.deepEqual(
      got.map(([, us]) => us).sort((a, b) => a - b),
      expected.sort((a, b) => a - b),
    );
    assert.equal(new Set(got.map(([key]) => key)).size, got.length, 'one key per row');
    const leaves = new Set(got.map(([key]) => key.split(':')[0]!.replace(/^hep_proto_1_[a-z]+_/, '')));
    assert.equal(leaves.size, 2, `rows from the partitions on both sides of the boundary: ${[...leaves].join(', ')}`);

    await backend.dropTable(schema);
    assert.equal(await backend.count(schema), 0, 'the schema is gone');
    assert.deepEqual(await backend.fetchSlices(schema, starts, width), []);
  });

  test('SampledLatencyPoller: every row of its slices, late ones in the last poll; progress from the count', async () => {
    const schema = await freshSchema();
    const opts = { intervalMs: 50, everyMs: 10, widthUs: 2000 };
    // A connection per poller, as in a step.
    const other = await postgresHomer7Backend(PG_URL);
    const count = (): Promise<number> => backend.count(schema);
    // Slices polled for 200 ms only (then every 1000th poll), and for 5 s.
    const short = new SampledLatencyPoller((starts, widthUs) => backend.fetchSlices(schema, starts, widthUs), count, { ...opts, freshMs: 200, lateEvery: 1000 });
    const long = new SampledLatencyPoller((starts, widthUs) => other.fetchSlices(schema, starts, widthUs), count, { ...opts, freshMs: 5000 });
    short.start();
    long.start();
    const t0 = Date.now();
    // 1,500 rows stamped over the next 300 ms, committed 700 ms from now.
    const rows = generateRows(1500, 'mixed').map((r, i) => ({ ...r, micro_ts: t0 * 1000 + i * 200 }));
    await sleep(700);
    await write(schema, rows);
    const inSlices = (p: SampledLatencyPoller): number => {
      const starts = p.slicesAt(Date.now(), true);
      return rows.filter((r) => starts.some((s) => r.micro_ts >= s && r.micro_ts < s + opts.widthUs)).length;
    };
    const until = Date.now() + 10_000;
    while (long.sampled < inSlices(long) && Date.now() < until) await sleep(20);
    assert.ok(inSlices(long) >= 200, `${inSlices(long)} rows in the slices (~20 % of them)`);
    assert.equal(long.sampled, inSlices(long), 'slices still fresh: every row in them seen by a regular poll');
    assert.equal(short.sampled, 0, 'slices older than freshMs are not read by a regular poll');
    const progress = await short.progress();
    assert.equal(progress.seen, 1500);

    await short.stop();
    await long.stop();
    await other.close();
    await short.pollOnce();
    assert.equal(short.sampled, inSlices(short), 'the last poll reads every slice');
    const [min, max] = short.percentiles([0, 100]);
    // Stamped at most 300 ms after t0, visible no earlier than 700 ms after it.
    assert.ok(min! >= 390, `lowest latency ${min} ms`);
    assert.ok(max! < 60_000, `highest latency ${max} ms`);
  });
});
