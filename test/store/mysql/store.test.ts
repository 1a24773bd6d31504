import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import { REPORT_COLUMNS, SIP_CAPTURE_COLUMNS } from '../../../src/capture/rows.js';
import { COLUMN_WIDTHS, DEFAULT_LIMITS } from '../../../src/store/columns.js';
import type { MysqlInsertMethod, MysqlStore } from '../../../src/store/mysql/index.js';
import { createMysqlStore, preparedShape } from '../../../src/store/mysql/index.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  MYSQL_URL,
  RUN,
  assertRowEqual,
  expectedRow,
  makeEdgeRows,
  makeReportRows,
  makeSipRows,
  mysqlAdminPool,
  readMysql,
  skipReason,
} from '../postgres/helpers.js';

const skip = await skipReason('mysql');

describe('mysql store', { skip }, () => {
  let admin: mysql.Pool;
  let store: MysqlStore;
  const tables: string[] = [];
  const t = (base: string): string => {
    const name = `${base}_${RUN}`;
    tables.push(name);
    return name;
  };

  before(async () => {
    admin = mysqlAdminPool();
    store = await createMysqlStore(MYSQL_URL);
  });

  after(async () => {
    for (const name of tables) await admin.query(`DROP TABLE IF EXISTS \`${name}\``);
    await store.close();
    await admin.end();
  });

  test('ensureTable creates the Homer 5 layout with widths and keys, idempotent', async () => {
    const name = t('sip_capture');
    await store.ensureTable(name, 'sip');
    await store.ensureTable(name, 'sip');
    const other = await createMysqlStore(MYSQL_URL);
    await other.ensureTable(name, 'sip');
    await other.close();
    const [cols] = await admin.query<mysql.RowDataPacket[]>(
      `SELECT COLUMN_NAME AS n, DATA_TYPE AS t, CHARACTER_MAXIMUM_LENGTH AS w FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`,
      [name],
    );
    assert.equal(cols.length, 45);
    assert.deepEqual(new Set(cols.map((r) => r['n'] as string)), new Set(['id', ...SIP_CAPTURE_COLUMNS]));
    for (const r of cols) {
      const w = COLUMN_WIDTHS[r['n'] as string];
      if (w !== undefined) assert.equal(Number(r['w']), w, `width of ${r['n']} (schema.sql vs columns.ts)`);
    }
    const types = Object.fromEntries(cols.map((r) => [r['n'], r['t']]));
    assert.equal(types['msg'], 'mediumblob');
    assert.equal(types['date'], 'datetime');
    const [idx] = await admin.query<mysql.RowDataPacket[]>(
      `SELECT DISTINCT INDEX_NAME AS i FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`,
      [name],
    );
    assert.deepEqual(
      idx.map((r) => r['i'] as string).sort(),
      ['PRIMARY', 'auth_user', 'callid', 'callid_aleg', 'correlation_id', 'date', 'from_user', 'pid_user', 'ruri_user', 'to_user'],
    );
  });

  test('daily names and the report layout', async () => {
    for (const base of ['sip_capture_call_20250101', 'sip_capture_registration_20250101', 'sip_capture_rest_20250101']) {
      await store.ensureTable(t(base), 'sip');
    }
    for (const kind of ['rtcp', 'report', 'logs'] as const) {
      const name = t(`${kind}_capture`);
      await store.ensureTable(name, kind);
      const rows = makeReportRows(40);
      await store.insert({ table: name, kind, rows });
      const back = await readMysql(admin, name, kind);
      back.forEach((r, i) => assertRowEqual(r, expectedRow(rows[i]!), REPORT_COLUMNS, `${kind} row ${i}`, assert.deepEqual));
    }
  });

  test('table names: injection attempts and invalid names are rejected', async () => {
    for (const name of ['x`; DROP TABLE sip_capture; --', 'a b', '1abc', '', 'a'.repeat(64), 'db.tbl', 'sip_%Y']) {
      await assert.rejects(store.ensureTable(name, 'sip'), TypeError);
      await assert.rejects(store.insert({ table: name, kind: 'sip', rows: makeSipRows(1) }), TypeError);
    }
  });

  for (const method of ['load-data', 'execute', 'query'] as MysqlInsertMethod[]) {
    test(`${method}: 10k generated rows and edge rows read back column by column`, async () => {
      const s = await createMysqlStore(MYSQL_URL, { method });
      const name = t(`sip_capture_rt_${method.replace('-', '_')}`);
      await s.ensureTable(name, 'sip');
      const rows = makeSipRows(10_000, 7);
      for (let i = 0; i < rows.length; i += 2500) await s.insert({ table: name, kind: 'sip', rows: rows.slice(i, i + 2500) });
      const edges = makeEdgeRows();
      await s.insert({ table: name, kind: 'sip', rows: edges });
      assert.equal(s.method, method);
      const back = await readMysql(admin, name, 'sip');
      assert.equal(back.length, rows.length + edges.length);
      const all = [...rows, ...edges];
      back.forEach((r, i) => assertRowEqual(r, expectedRow(all[i]!), SIP_CAPTURE_COLUMNS, `row ${i}`, assert.deepEqual));
      const byTag = new Map(back.slice(rows.length).map((r) => [r['custom_field1'], r]));
      assert.equal(byTag.get('nul')!['callid'], 'abcdef');
      assert.equal(byTag.get('invalid-utf8')!['user_agent'], 'bad \ufffd mid \ufffd end \ufffd');
      assert.equal(byTag.get('big')!['user_agent'], 'é'.repeat(512));
      assert.equal(byTag.get('astral')!['cseq'], '😀'.repeat(64));
      // invalidReplaced: the user agent's lone surrogates and the reply reason decoded with U+FFFD
      assert.deepEqual({ ...s.valueCounters }, { truncatedValues: 6, truncatedRows: 2, nulStripped: 2, invalidReplaced: 2 });
      await s.close();
    });
  }

  test('execute: batches of 60 different sizes keep a few statement shapes, not one per size (client memory stays flat)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const s = await createMysqlStore(MYSQL_URL, { method: 'execute', poolSize: 1 });
    try {
      const name = t('sip_capture_shapes');
      await s.ensureTable(name, 'sip');
      const rows = makeSipRows(260, 9);
      await s.insert({ table: name, kind: 'sip', rows: rows.slice(0, 1) });
      gc();
      const before = process.memoryUsage().heapUsed;
      for (let n = 200; n < 260; n++) await s.insert({ table: name, kind: 'sip', rows: rows.slice(0, n) });
      gc();
      const grownMiB = (process.memoryUsage().heapUsed - before) / 1048576;
      const [c] = await admin.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${name}\``);
      assert.equal(Number(c[0]!['n']), 1 + (200 + 259) * 30);
      // One statement per size kept ~2 MiB each (65 MiB measured with 32 cached); powers of two keep ≤ 9.
      assert.ok(grownMiB < 16, `heap grew ${grownMiB.toFixed(1)} MiB`);
    } finally {
      await s.close();
    }
  });

  test('preparedShape: the largest power of two within both bounds', () => {
    assert.deepEqual([1, 2, 3, 255, 256, 1000].map((n) => preparedShape(n, 500)), [1, 2, 2, 128, 256, 256]);
    assert.equal(preparedShape(1000, 100), 64);
  });

  for (const method of ['load-data', 'execute'] as MysqlInsertMethod[]) {
    test(`${method}: all or nothing with a poisoned row; the store stays usable`, async () => {
      const s = await createMysqlStore(MYSQL_URL, { method, rowsPerStatement: 100 });
      const name = t(`sip_capture_poison_${method.replace('-', '_')}`);
      await s.ensureTable(name, 'sip');
      await admin.query(`ALTER TABLE \`${name}\` ADD CONSTRAINT no_poison CHECK (method <> 'POISON')`);
      const rows = makeSipRows(500, 3);
      // Row 321 sits in the 6th INSERT statement (shapes of 64 rows and less): the first five must be rolled back too.
      rows[321] = { ...rows[321]!, method: 'POISON' };
      await assert.rejects(s.insert({ table: name, kind: 'sip', rows }));
      const [n0] = await admin.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${name}\``);
      assert.equal(Number(n0[0]!['n']), 0);
      for (let i = 0; i < 3; i++) await s.insert({ table: name, kind: 'sip', rows: makeSipRows(10, 4 + i) });
      const [n1] = await admin.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${name}\``);
      assert.equal(Number(n1[0]!['n']), 30);
      // LOAD DATA LOCAL turns data errors into warnings and stores a zero date: the store must
      // notice, roll back and let INSERT's strict-mode error decide.
      for (const date of ['not a date', '2025-02-30 00:00:00']) {
        const bad = makeSipRows(5, 5);
        bad[2] = { ...bad[2]!, date };
        await assert.rejects(s.insert({ table: name, kind: 'sip', rows: bad }), /Incorrect datetime value/);
      }
      const [n2] = await admin.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${name}\``);
      assert.equal(Number(n2[0]!['n']), 30);
      await s.close();
    });
  }

  test('db_insert_mode=1: INSERT DELAYED on MyISAM/Aria only, plain INSERT on InnoDB', async () => {
    const s = await createMysqlStore(MYSQL_URL, { dbInsertMode: 1 });
    const inno = t('sip_capture_delayed_innodb');
    const aria = t('sip_capture_delayed_aria');
    await s.ensureTable(inno, 'sip');
    await admin.query(`CREATE TABLE \`${aria}\` LIKE \`${inno}\``);
    await admin.query(`ALTER TABLE \`${aria}\` ENGINE=MyISAM`);
    await s.ensureTable(aria, 'sip');
    const rows = makeSipRows(20, 11);
    await s.insert({ table: inno, kind: 'sip', rows });
    await s.insert({ table: aria, kind: 'sip', rows });
    const innoBack = await readMysql(admin, inno, 'sip');
    assert.equal(innoBack.length, 20);
    // DELAYED rows are queued by the server; wait until its handler thread wrote them.
    let ariaBack: Record<string, unknown>[] = [];
    for (let i = 0; i < 50 && ariaBack.length < 20; i++) {
      await new Promise((r) => setTimeout(r, 50));
      ariaBack = await readMysql(admin, aria, 'sip');
    }
    assert.equal(ariaBack.length, 20);
    ariaBack.forEach((r, i) => assertRowEqual(r, expectedRow(rows[i]!), SIP_CAPTURE_COLUMNS, `row ${i}`, assert.deepEqual));
    const [st] = await admin.query<mysql.RowDataPacket[]>(`SHOW GLOBAL STATUS LIKE 'Delayed_writes'`);
    assert.ok(Number(st[0]!['Value']) >= 20, 'the MyISAM rows went through INSERT DELAYED');
    await s.close();
  });

  test('an existing Homer-style table: real widths are read and values cut to them', async () => {
    const name = t('sip_capture_homer');
    await store.ensureTable(name, 'sip');
    await admin.query(`ALTER TABLE \`${name}\` MODIFY callid varchar(120) NOT NULL DEFAULT '', MODIFY user_agent text NOT NULL`);
    const s = await createMysqlStore(MYSQL_URL);
    await s.ensureTable(name, 'sip');
    const rows = makeSipRows(3, 8);
    rows[1] = { ...rows[1]!, callid: 'k'.repeat(300), user_agent: '€'.repeat(20_000) };
    await s.insert({ table: name, kind: 'sip', rows });
    const back = await readMysql(admin, name, 'sip');
    const limits = new Map(DEFAULT_LIMITS);
    limits.set('callid', 120);
    limits.set('user_agent', 16_383);
    back.forEach((r, i) => assertRowEqual(r, expectedRow(rows[i]!, limits), SIP_CAPTURE_COLUMNS, `row ${i}`, assert.deepEqual));
    await s.close();
  });

  test('a table lacking columns is reported clearly', async () => {
    const name = t('sip_capture_old');
    await admin.query(`CREATE TABLE \`${name}\` (id int primary key, callid varchar(100))`);
    await assert.rejects(store.ensureTable(name, 'sip'), /lacks column\(s\) date, micro_ts/);
  });

  test('a table dropped behind the store is recreated by the next ensureTable', async () => {
    const name = t('sip_capture_dropped');
    await store.ensureTable(name, 'sip');
    await store.insert({ table: name, kind: 'sip', rows: makeSipRows(2) });
    await admin.query(`DROP TABLE \`${name}\``);
    await assert.rejects(store.insert({ table: name, kind: 'sip', rows: makeSipRows(2) }), { code: 'ER_NO_SUCH_TABLE' });
    await store.ensureTable(name, 'sip');
    await store.insert({ table: name, kind: 'sip', rows: makeSipRows(2) });
    const [n] = await admin.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${name}\``);
    assert.equal(Number(n[0]!['n']), 2);
  });

  test('an insert blocked by a lock times out, and the store recovers', async () => {
    const name = t('sip_capture_locked');
    const s = await createMysqlStore(MYSQL_URL, { insertTimeoutMs: 300 });
    await s.ensureTable(name, 'sip');
    const locker = await admin.getConnection();
    await locker.query(`LOCK TABLES \`${name}\` WRITE`);
    const t0 = Date.now();
    await assert.rejects(s.insert({ table: name, kind: 'sip', rows: makeSipRows(100) }), /timed out/);
    assert.ok(Date.now() - t0 < 3000);
    await locker.query('UNLOCK TABLES');
    locker.release();
    await s.insert({ table: name, kind: 'sip', rows: makeSipRows(10) });
    const [n] = await admin.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${name}\``);
    assert.equal(Number(n[0]!['n']), 10);
    await s.close();
  });

  test('an unreachable server rejects promptly instead of hanging', async () => {
    const s = await createMysqlStore('mysql://root:secret@127.0.0.1:1/test', { connectTimeoutMs: 1000 });
    assert.equal(s.displayUrl, 'mysql://root:***@127.0.0.1:1/test');
    const t0 = Date.now();
    await assert.rejects(s.insert({ table: 'sip_capture', kind: 'sip', rows: makeSipRows(1) }));
    await assert.rejects(s.ensureTable('sip_capture', 'sip'));
    assert.ok(Date.now() - t0 < 5000);
    await s.close();
  });
});
