/**
 * The HOMER 7 store on the real PostgreSQL, each test in a schema of its own (search_path in
 * the URL): the parents and partitions heplify-server creates, several stores creating the same
 * partitions at once, rows outside every partition (on demand, or the DEFAULT partition,
 * counted), a partition step that overlaps older partitions, values jsonb would refuse, and a
 * partition dropped while the store runs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { makeTmpDir } from '../../helpers/daemon.js';
import { runCli } from '../../helpers/cli.js';
import { createHomer7Store, type Homer7Store, type Homer7StoreOptions } from '../../../src/store/homer7/index.js';
import { HOMER7_PARENTS } from '../../../src/store/homer7/row.js';
import { PG_URL, RUN, makeEdgeRows, makeReportRows, makeSipRows, skipReason } from '../postgres/helpers.js';

const pgSkip = await skipReason('postgres');
const DAY_MS = 86_400_000;

describe('HOMER 7 store', { skip: pgSkip }, () => {
  let admin: pg.Client;
  const schemas: string[] = [];
  let n = 0;

  before(async () => {
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
  });
  after(async () => {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  });

  /** A fresh schema and a URL whose connections use it. */
  async function freshSchema(): Promise<{ schema: string; url: string }> {
    const schema = `h7store_${RUN}_${n++}`;
    schemas.push(schema);
    await admin.query(`CREATE SCHEMA ${schema}`);
    return { schema, url: `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}` };
  }

  async function open(url: string, opts: Homer7StoreOptions = {}): Promise<Homer7Store> {
    return createHomer7Store(url, { aheadIntervalMs: 0, ...opts });
  }

  async function tables(schema: string): Promise<string[]> {
    const r = await admin.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, [schema]);
    return r.rows.map((x) => x.t);
  }

  test('four stores creating the same parents and partitions at once all succeed; indexes as heplify-server makes them', async () => {
    const { schema, url } = await freshSchema();
    const now = Date.UTC(2026, 11, 6, 10, 0);
    const stores = await Promise.all([1, 2, 3, 4].map(() => open(url, { nowMs: () => now, partitionMinutes: 120 })));
    try {
      const results = await Promise.all(stores.map((s) => s.ensureAhead()));
      for (const r of results) assert.equal(r.length, 6 * 24);
      const names = (await tables(schema)).filter((t) => /_\d{8}_\d{4}$/.test(t));
      assert.equal(names.length, 6 * 24);
      assert.ok(names.includes('hep_proto_1_call_20261206_0000') && names.includes('hep_proto_100_default_20261207_2200'));
      assert.equal(stores.reduce((s, x) => s + x.homer7Counters.partitionsCreated, 0), 6 * 24);
      const idx = await admin.query<{ t: string; n: number }>(
        `SELECT tablename AS t, count(*)::int AS n FROM pg_indexes WHERE schemaname = $1 AND tablename IN ('hep_proto_1_call_20261206_0000', 'hep_proto_5_default_20261206_0000') GROUP BY 1 ORDER BY 1`,
        [schema],
      );
      assert.deepEqual(idx.rows, [
        { t: 'hep_proto_1_call_20261206_0000', n: 13 },
        { t: 'hep_proto_5_default_20261206_0000', n: 5 },
      ]);
      const parents = await admin.query<{ c: string; k: string }>(
        `SELECT c.relname AS c, pg_get_partkeydef(c.oid) AS k FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = $1 AND c.relkind = 'p' ORDER BY 1`,
        [schema],
      );
      assert.deepEqual(parents.rows.map((r) => r.c).sort(), [...HOMER7_PARENTS].sort());
      for (const r of parents.rows) assert.equal(r.k, 'RANGE (create_date)');
      const cols = await admin.query<{ a: string; t: string }>(
        `SELECT column_name AS a, data_type AS t FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'hep_proto_1_call' ORDER BY ordinal_position`,
        [schema],
      );
      assert.deepEqual(cols.rows, [
        { a: 'id', t: 'bigint' },
        { a: 'sid', t: 'character varying' },
        { a: 'create_date', t: 'timestamp with time zone' },
        { a: 'protocol_header', t: 'jsonb' },
        { a: 'data_header', t: 'jsonb' },
        { a: 'raw', t: 'character varying' },
      ]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('sipcapture db init creates the HOMER 7 schema (through the CLI)', async () => {
    const { schema, url } = await freshSchema();
    const dir = makeTmpDir('sipcapture-h7-init-');
    const file = path.join(dir, 'c.json5');
    writeFileSync(file, JSON.stringify({ db_url: url, schema: 'homer7', homer7_partition_minutes: 360 }));
    const r = await runCli(['db', 'init', '-c', file], 120_000);
    const check = await runCli(['check-config', '-c', file]);
    rmSync(dir, { recursive: true, force: true });
    const shown = JSON.parse(check.stdout) as { parameters: { schema: string }; derived: { captureModes: { schema?: string }[] } };
    assert.equal(shown.parameters.schema, 'homer7');
    assert.equal(shown.derived.captureModes[0]!.schema, 'homer7');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /HOMER 7 schema ready: hep_proto_1_call, .*; 48 partitions of 360 min/);
    const names = await tables(schema);
    assert.equal(names.filter((t) => /_\d{8}_\d{4}$/.test(t)).length, 48);
  });

  test('rows: by parent, microsecond create_date, into partitions created on demand; report rows too', async () => {
    const { schema, url } = await freshSchema();
    const rows = makeSipRows(200, 7);
    const nowMs = rows[0]!.micro_ts / 1000 + 3 * DAY_MS; // the rows are three days old: not ahead
    const s = await open(url, { nowMs: () => nowMs });
    try {
      await s.insert({ table: 'ignored', kind: 'sip', rows });
      await s.insert({ table: 'rtcp_capture', kind: 'rtcp', rows: makeReportRows(10) });
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const total = await c.query(`SELECT (SELECT count(*) FROM hep_proto_1_call) + (SELECT count(*) FROM hep_proto_1_registration) + (SELECT count(*) FROM hep_proto_1_default) AS n`);
        assert.equal(Number(total.rows[0].n), 200);
        const r = await c.query<{ us: string }>(`SELECT (extract(epoch FROM create_date) * 1000000)::bigint::text AS us FROM hep_proto_1_call WHERE sid = $1`, [
          rows.find((x) => /INVITE|ACK|BYE|CANCEL|NOTIFY/.test(x.cseq))!.callid,
        ]);
        assert.equal(Number(r.rows[0]!.us), rows.find((x) => /INVITE|ACK|BYE|CANCEL|NOTIFY/.test(x.cseq))!.micro_ts);
        const rtcp = await c.query(`SELECT count(*)::int AS n FROM hep_proto_5_default`);
        assert.equal(rtcp.rows[0].n, 10);
      } finally {
        await c.end();
      }
      assert.ok(s.homer7Counters.partitionsCreated > 0);
      assert.equal(s.homer7Counters.fallbackRows, 0);
      assert.ok((await tables(schema)).some((t) => /^hep_proto_1_call_2023\d{4}_\d{4}$/.test(t)));
    } finally {
      await s.close();
    }
  });

  test('a row older than onDemandPastDays goes to the DEFAULT partition, counted, never lost', async () => {
    const { schema, url } = await freshSchema();
    const rows = makeSipRows(5, 3);
    const s = await open(url, { nowMs: () => rows[0]!.micro_ts / 1000 + 400 * DAY_MS, onDemandPastDays: 30 });
    try {
      await s.insert({ table: 'x', kind: 'sip', rows });
      assert.equal(s.homer7Counters.fallbackRows, 5);
      const names = await tables(schema);
      assert.ok(names.some((t) => t.endsWith('_default_default') || t === 'hep_proto_1_call_default' || t === 'hep_proto_1_registration_default'));
      assert.ok(!names.some((t) => /_2023\d{4}_\d{4}$/.test(t)), 'no partition years away');
      const c = await admin.query(`SELECT count(*)::int AS n FROM ${schema}.hep_proto_1_call_default`).catch(() => ({ rows: [{ n: 0 }] }));
      const d = await admin.query(`SELECT count(*)::int AS n FROM ${schema}.hep_proto_1_default_default`).catch(() => ({ rows: [{ n: 0 }] }));
      const g = await admin.query(`SELECT count(*)::int AS n FROM ${schema}.hep_proto_1_registration_default`).catch(() => ({ rows: [{ n: 0 }] }));
      assert.equal(c.rows[0].n + d.rows[0].n + g.rows[0].n, 5);
    } finally {
      await s.close();
    }
  });

  test('a partition that would overlap one of another step: its rows still land (overlapping or DEFAULT partition), counted', async () => {
    const { schema, url } = await freshSchema();
    const rows = makeSipRows(1, 5).map((r) => ({ ...r, cseq: '1 INVITE' }));
    const now = () => rows[0]!.micro_ts / 1000;
    const a = await open(url, { nowMs: now, partitionMinutes: 120 });
    await a.ensureAhead();
    await a.close();
    const b = await open(url, { nowMs: now, partitionMinutes: 180 });
    const midnight = Math.floor(rows[0]!.micro_ts / 86_400_000_000) * 86_400_000_000;
    try {
      // 04:30: its 3-hour partition (03:00–06:00) would overlap the 2-hour ones 02:00 and 04:00.
      await b.insert({ table: 'x', kind: 'sip', rows: rows.map((r) => ({ ...r, micro_ts: midnight + 4.5 * 3_600_000_000 })) });
      assert.equal(b.homer7Counters.fallbackRows, 1);
      // PostgreSQL puts it in the overlapping 2-hour partition (the DEFAULT one would take it otherwise).
      const stored = await admin.query(`SELECT tableoid::regclass::text AS t FROM ${schema}.hep_proto_1_call`);
      assert.deepEqual(stored.rows.map((r: { t: string }) => r.t.replace(`${schema}.`, '')), ['hep_proto_1_call_20231114_0400']);
      // Three days earlier nothing overlaps: the 3-hour partition is created.
      await b.insert({ table: 'x', kind: 'sip', rows: rows.map((r) => ({ ...r, micro_ts: midnight - 3 * 86_400_000_000 + 4.5 * 3_600_000_000 })) });
      assert.equal(b.homer7Counters.fallbackRows, 1);
      assert.ok((await tables(schema)).some((t) => t.endsWith('_0300')));
    } finally {
      await b.close();
    }
  });

  test('values jsonb and varchar would refuse (NUL, invalid UTF-8, lone surrogates) are stored cleaned, not rejected', async () => {
    const { url } = await freshSchema();
    const rows = makeEdgeRows();
    const s = await open(url, { nowMs: () => rows[0]!.micro_ts / 1000 });
    try {
      await s.insert({ table: 'x', kind: 'sip', rows });
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      const r = await c.query(`SELECT count(*)::int AS n FROM (SELECT 1 FROM hep_proto_1_call UNION ALL SELECT 1 FROM hep_proto_1_registration UNION ALL SELECT 1 FROM hep_proto_1_default) x`);
      await c.end();
      assert.equal(r.rows[0].n, rows.length);
    } finally {
      await s.close();
    }
  });

  test('a partition dropped while running (retention) is created again on the next insert', async () => {
    const { schema, url } = await freshSchema();
    const rows = makeSipRows(20, 11).map((r) => ({ ...r, cseq: '1 INVITE' }));
    const s = await open(url, { nowMs: () => rows[0]!.micro_ts / 1000 });
    try {
      await s.insert({ table: 'x', kind: 'sip', rows: rows.slice(0, 10) });
      const part = (await tables(schema)).filter((t) => t.startsWith('hep_proto_1_call_2'));
      for (const t of part) await admin.query(`DROP TABLE ${schema}.${t}`);
      const err = await s.insert({ table: 'x', kind: 'sip', rows: rows.slice(10) }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err !== null);
      // Not the rows' fault: the writer retries the batch instead of isolating and dropping rows.
      assert.equal(s.isRowError!(err), false);
      await s.insert({ table: 'x', kind: 'sip', rows: rows.slice(10) }); // the writer's retry
      const r = await admin.query(`SELECT count(*)::int AS n FROM ${schema}.hep_proto_1_call`);
      assert.equal(r.rows[0].n, 10);
    } finally {
      await s.close();
    }
  });
});
