import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { REPORT_COLUMNS, SIP_CAPTURE_COLUMNS } from '../../../src/capture/rows.js';
import { COLUMN_WIDTHS, DEFAULT_LIMITS } from '../../../src/store/columns.js';
import type { PostgresStore } from '../../../src/store/postgres/index.js';
import { copyTextEscape, createPostgresStore, pgIndexPrefix, pgTimestampMicros } from '../../../src/store/postgres/index.js';
import {
  PG_URL,
  RUN,
  assertRowEqual,
  expectedRow,
  makeEdgeRows,
  makeReportRows,
  makeSipRows,
  readPg,
  skipReason,
} from './helpers.js';

const skip = await skipReason('postgres');

describe('postgres store', { skip }, () => {
  let admin: pg.Pool;
  let store: PostgresStore;
  const tables: string[] = [];
  const t = (base: string): string => {
    const name = `${base}_${RUN}`.toLowerCase();
    tables.push(name);
    return name;
  };

  before(async () => {
    admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
    store = await createPostgresStore(PG_URL);
  });

  after(async () => {
    for (const name of tables) await admin.query(`DROP TABLE IF EXISTS "${name}"`);
    await store.close();
    await admin.end();
  });

  test('pure helpers: COPY text escaping, timestamps, index prefixes', () => {
    assert.equal(copyTextEscape('a\\b\tc\nd\re'), 'a\\\\b\\tc\\nd\\re');
    assert.equal(copyTextEscape('plain'), 'plain');
    assert.equal(pgTimestampMicros('2000-01-01 00:00:00'), 0n);
    assert.equal(pgTimestampMicros('2000-01-01 00:00:01.5'), 1_500_000n);
    assert.throws(() => pgTimestampMicros('yesterday'), RangeError);
    assert.equal(pgIndexPrefix('sip_capture_call_20250101'), 'sip_capture_call_20250101');
    const long = 'a'.repeat(63);
    assert.ok(pgIndexPrefix(long).length + '_correlation_id_idx'.length <= 63);
    assert.notEqual(pgIndexPrefix(long), pgIndexPrefix('a'.repeat(62) + 'b'));
  });

  test('ensureTable creates the Homer 5 layout with widths, indexes and is idempotent', async () => {
    const name = t('sip_capture');
    await store.ensureTable(name, 'sip');
    await store.ensureTable(name, 'sip');
    // A second store has no cache: CREATE … IF NOT EXISTS must be a no-op.
    const other = await createPostgresStore(PG_URL);
    await other.ensureTable(name, 'sip');
    await other.close();
    const cols = await admin.query<{ column_name: string; data_type: string; character_maximum_length: number | null }>(
      `SELECT column_name, data_type, character_maximum_length FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
      [name],
    );
    assert.equal(cols.rows.length, 45);
    assert.deepEqual(new Set(cols.rows.map((r) => r.column_name)), new Set(['id', ...SIP_CAPTURE_COLUMNS]));
    for (const r of cols.rows) {
      const w = COLUMN_WIDTHS[r.column_name];
      if (w !== undefined) assert.equal(r.character_maximum_length, w, `width of ${r.column_name} (schema.sql vs columns.ts)`);
    }
    const types = Object.fromEntries(cols.rows.map((r) => [r.column_name, r.data_type]));
    assert.equal(types['msg'], 'bytea');
    assert.equal(types['date'], 'timestamp without time zone');
    assert.equal(types['micro_ts'], 'bigint');
    const idx = await admin.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE tablename = $1`, [name]);
    const indexed = idx.rows.map((r) => /\((.*)\)$/.exec(r.indexdef)![1]).sort();
    assert.deepEqual(indexed, [
      'auth_user', 'callid', 'callid_aleg', 'correlation_id', 'date', 'from_user', 'id, date', 'pid_user', 'ruri_user', 'to_user',
    ]);
  });

  test('daily names, report kinds and mixed-case names (folded like unquoted PostgreSQL names)', async () => {
    for (const base of ['sip_capture_call_20250101', 'sip_capture_registration_20250101', 'sip_capture_rest_20250101']) {
      await store.ensureTable(t(base), 'sip');
    }
    const rtcp = t('rtcp_capture');
    await store.ensureTable(rtcp, 'rtcp');
    const cols = await admin.query(`SELECT 1 FROM information_schema.columns WHERE table_name = $1`, [rtcp]);
    assert.equal(cols.rowCount, 13);
    const rows = makeReportRows(50);
    await store.insert({ table: rtcp, kind: 'rtcp', rows });
    const back = await readPg(admin, rtcp, 'rtcp');
    assert.equal(back.length, 50);
    back.forEach((r, i) => assertRowEqual(r, expectedRow(rows[i]!), REPORT_COLUMNS, `rtcp row ${i}`, assert.deepEqual));

    const mixed = `Mixed_Case_${RUN}`;
    tables.push(mixed.toLowerCase());
    await store.ensureTable(mixed, 'sip');
    await store.insert({ table: mixed, kind: 'sip', rows: makeSipRows(3) });
    const n = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM "${mixed.toLowerCase()}"`);
    assert.equal(n.rows[0]!.n, '3');
  });

  test('concurrent ensureTable from two stores (advisory lock)', async () => {
    const name = t('sip_capture_race');
    const a = await createPostgresStore(PG_URL);
    const b = await createPostgresStore(PG_URL);
    await Promise.all([a.ensureTable(name, 'sip'), b.ensureTable(name, 'sip'), a.ensureTable(`${name}`, 'sip')]);
    await Promise.all([a.close(), b.close()]);
  });

  test('table names: injection attempts and invalid names are rejected', async () => {
    const bad = [
      `x"; DROP TABLE sip_capture; --`,
      'a b',
      '1abc',
      '',
      'a'.repeat(64),
      'sip_capture_%Y%m%d',
      'schema.table',
      'tbl\0',
      'ünïcode',
    ];
    for (const name of bad) {
      await assert.rejects(store.ensureTable(name, 'sip'), TypeError, `ensureTable(${JSON.stringify(name)})`);
      await assert.rejects(store.insert({ table: name, kind: 'sip', rows: makeSipRows(1) }), TypeError);
    }
  });

  for (const copyFormat of ['binary', 'text'] as const) {
    test(`${copyFormat} COPY: 10k generated rows and edge rows read back column by column`, async () => {
      const s = await createPostgresStore(PG_URL, { copyFormat });
      const name = t(`sip_capture_rt_${copyFormat}`);
      await s.ensureTable(name, 'sip');
      const rows = makeSipRows(10_000, 7);
      for (let i = 0; i < rows.length; i += 2500) await s.insert({ table: name, kind: 'sip', rows: rows.slice(i, i + 2500) });
      const edges = makeEdgeRows();
      await s.insert({ table: name, kind: 'sip', rows: edges });
      const back = await readPg(admin, name, 'sip');
      assert.equal(back.length, rows.length + edges.length);
      const all = [...rows, ...edges];
      back.forEach((r, i) => assertRowEqual(r, expectedRow(all[i]!), SIP_CAPTURE_COLUMNS, `row ${i}`, assert.deepEqual));
      // Spot checks of the rules themselves, independent of expectedRow().
      const byTag = new Map(back.slice(rows.length).map((r) => [r['custom_field1'], r]));
      assert.equal(byTag.get('nul')!['callid'], 'abcdef');
      assert.equal(byTag.get('nul')!['cseq'], '');
      assert.equal(byTag.get('invalid-utf8')!['user_agent'], 'bad \ufffd mid \ufffd end \ufffd');
      assert.equal(byTag.get('big')!['callid'], 'c'.repeat(256));
      assert.equal(byTag.get('big')!['user_agent'], 'é'.repeat(512));
      assert.equal((byTag.get('big')!['msg'] as Buffer).length, 65_536);
      assert.equal(byTag.get('astral')!['cseq'], '😀'.repeat(64));
      assert.equal(byTag.get('astral')!['method'], 'M'.repeat(63) + '😀');
      assert.equal(byTag.get('limits')!['micro_ts'], Number.MAX_SAFE_INTEGER);
      assert.equal(byTag.get('limits')!['date'], '2037-12-31 23:59:59');
      const c = s.valueCounters;
      assert.equal(c.nulStripped, 2);
      // the user agent's lone surrogates and the reply reason decoded with U+FFFD
      assert.equal(c.invalidReplaced, 2);
      assert.equal(c.truncatedRows, 2);
      assert.equal(c.truncatedValues, 6);
      await s.close();
    });
  }

  test('all or nothing: a poisoned row fails the whole batch; the store stays usable', async () => {
    const name = t('sip_capture_poison');
    await store.ensureTable(name, 'sip');
    await admin.query(`ALTER TABLE "${name}" ADD CONSTRAINT no_poison CHECK (method <> 'POISON')`);
    const before = { ...store.valueCounters };
    const rows = makeSipRows(500, 3);
    rows[321] = { ...rows[321]!, method: 'POISON', callid: 'x'.repeat(1000) };
    await assert.rejects(store.insert({ table: name, kind: 'sip', rows }), (err: Error & { code?: string }) => {
      assert.equal(err.code, '23514');
      return true;
    });
    assert.equal((await admin.query(`SELECT 1 FROM "${name}"`)).rowCount, 0);
    // A failed batch does not count its truncations (it will be retried or split).
    assert.deepEqual({ ...store.valueCounters }, before);
    // Same store, same pooled connections: a clean batch goes through.
    for (let i = 0; i < 3; i++) await store.insert({ table: name, kind: 'sip', rows: makeSipRows(10, 4 + i) });
    assert.equal((await admin.query(`SELECT 1 FROM "${name}"`)).rowCount, 30);
    // A bad date is the other kind of poison: rejected by the encoder (binary) or the server (text).
    const bad = makeSipRows(5, 5);
    bad[2] = { ...bad[2]!, date: 'not a date' };
    await assert.rejects(store.insert({ table: name, kind: 'sip', rows: bad }));
    assert.equal((await admin.query(`SELECT 1 FROM "${name}"`)).rowCount, 30);
  });

  test('an existing Homer-style table: real widths are read and values cut to them', async () => {
    const name = t('sip_capture_homer');
    await store.ensureTable(name, 'sip');
    await admin.query(`ALTER TABLE "${name}" ALTER COLUMN callid TYPE varchar(120), ALTER COLUMN source_port TYPE smallint`);
    const s = await createPostgresStore(PG_URL);
    await s.ensureTable(name, 'sip');
    const rows = makeSipRows(3, 8);
    rows[1] = { ...rows[1]!, callid: 'k'.repeat(300) };
    await s.insert({ table: name, kind: 'sip', rows });
    const back = await readPg(admin, name, 'sip');
    const limits = new Map(DEFAULT_LIMITS);
    limits.set('callid', 120);
    back.forEach((r, i) => assertRowEqual(r, expectedRow(rows[i]!, limits), SIP_CAPTURE_COLUMNS, `row ${i}`, assert.deepEqual));
    assert.equal(s.valueCounters.truncatedValues, 1);
    await s.close();
  });

  test('a table lacking columns (the old Homer-3 PostgreSQL schema) is reported clearly', async () => {
    const name = t('sip_capture_old');
    await admin.query(`CREATE TABLE "${name}" (id serial, date timestamp, micro_ts bigint, callid varchar(100))`);
    await assert.rejects(store.ensureTable(name, 'sip'), /lacks column\(s\) method, reply_reason/);
  });

  test('a table dropped behind the store is recreated by the next ensureTable', async () => {
    const name = t('sip_capture_dropped');
    await store.ensureTable(name, 'sip');
    await store.insert({ table: name, kind: 'sip', rows: makeSipRows(2) });
    await admin.query(`DROP TABLE "${name}"`);
    await assert.rejects(store.insert({ table: name, kind: 'sip', rows: makeSipRows(2) }), { code: '42P01' });
    await store.ensureTable(name, 'sip');
    await store.insert({ table: name, kind: 'sip', rows: makeSipRows(2) });
    assert.equal((await admin.query(`SELECT 1 FROM "${name}"`)).rowCount, 2);
  });

  test('a COPY blocked by a lock times out, and the store recovers', async () => {
    const name = t('sip_capture_locked');
    const s = await createPostgresStore(PG_URL, { insertTimeoutMs: 300 });
    await s.ensureTable(name, 'sip');
    const locker = await admin.connect();
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${name}" IN ACCESS EXCLUSIVE MODE`);
    const t0 = Date.now();
    await assert.rejects(s.insert({ table: name, kind: 'sip', rows: makeSipRows(100) }), /timed out/);
    assert.ok(Date.now() - t0 < 3000);
    await locker.query('ROLLBACK');
    locker.release();
    await s.insert({ table: name, kind: 'sip', rows: makeSipRows(10) });
    assert.equal((await admin.query(`SELECT 1 FROM "${name}"`)).rowCount, 10);
    await s.close();
  });

  test('an unreachable server rejects promptly instead of hanging', async () => {
    const s = await createPostgresStore('postgres://postgres@127.0.0.1:1/test', { connectTimeoutMs: 1000 });
    const t0 = Date.now();
    await assert.rejects(s.insert({ table: 'sip_capture', kind: 'sip', rows: makeSipRows(1) }));
    await assert.rejects(s.ensureTable('sip_capture', 'sip'));
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(s.displayUrl, 'postgres://postgres@127.0.0.1:1/test');
    await s.close();
    const masked = await createPostgresStore('postgres://u:secret@127.0.0.1:1/test');
    assert.equal(masked.displayUrl, 'postgres://u:***@127.0.0.1:1/test');
    await masked.close();
  });
});
