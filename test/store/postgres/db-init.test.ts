// initDatabase() on each backend, each in a private namespace (a PostgreSQL schema, a MySQL
// database, a temp SQLite file) so the real fixed names can be used without touching others.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { dailyTableNames, initDatabase } from '../../../src/store/db-init.js';
import { createStore } from '../../../src/store/factory.js';
import { MYSQL_URL, PG_URL, RUN, makeSipRows, skipReason } from './helpers.js';

const EXPECTED = [
  'logs_capture',
  'report_capture',
  'rtcp_capture',
  'sip_capture',
  'sip_capture_call_20250131',
  'sip_capture_call_20250201',
  'sip_capture_registration_20250131',
  'sip_capture_registration_20250201',
  'sip_capture_rest_20250131',
  'sip_capture_rest_20250201',
];
// 23:30 UTC on Jan 31st: "today" is the UTC date whatever the local zone says.
const NOW = new Date(Date.UTC(2025, 0, 31, 23, 30));

test('daily table names use UTC dates', () => {
  assert.deepEqual(dailyTableNames(NOW, 2, ['a']), ['a_20250131', 'a_20250201']);
  assert.deepEqual(dailyTableNames(new Date(Date.UTC(2024, 1, 28, 12)), 2, ['b']), ['b_20240228', 'b_20240229']);
});

const pgSkip = await skipReason('postgres');
const mySkip = await skipReason('mysql');

describe('initDatabase', () => {
  test('postgres: creates every table, twice without error', { skip: pgSkip }, async () => {
    const schema = `dbinit_${RUN}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA "${schema}"`);
    try {
      const url = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      const res = await initDatabase(url, { now: NOW });
      assert.equal(res.backend, 'postgres');
      await initDatabase(url, { now: NOW });
      const t = await admin.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
        [schema],
      );
      assert.deepEqual(t.rows.map((r) => r.table_name), EXPECTED);
      const store = await createStore(url);
      await store.insert({ table: 'sip_capture_call_20250131', kind: 'sip', rows: makeSipRows(5) });
      await store.close();
    } finally {
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      await admin.end();
    }
  });

  test('mysql: creates every table, twice without error', { skip: mySkip }, async () => {
    const db = `dbinit_${RUN}`;
    const admin = await mysql.createConnection({ uri: MYSQL_URL });
    await admin.query(`CREATE DATABASE \`${db}\``);
    try {
      const u = new URL(MYSQL_URL);
      u.pathname = `/${db}`;
      const res = await initDatabase(u.toString(), { now: NOW });
      assert.equal(res.backend, 'mysql');
      await initDatabase(u.toString(), { now: NOW });
      const [rows] = await admin.query<mysql.RowDataPacket[]>(
        `SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`,
        [db],
      );
      assert.deepEqual(rows.map((r) => r['t'] as string), EXPECTED);
    } finally {
      await admin.query(`DROP DATABASE \`${db}\``);
      await admin.end();
    }
  });

  test('sqlite: creates every table through the SQLite store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sipcapture-dbinit-'));
    try {
      const url = `sqlite://${join(dir, 'capture.sqlite')}`;
      const res = await initDatabase(url, { now: NOW });
      assert.equal(res.backend, 'sqlite');
      assert.deepEqual(res.tables.map((t) => t.name).sort(), EXPECTED);
      await initDatabase(url, { now: NOW });
      const store = await createStore(url);
      await store.insert({ table: 'sip_capture_rest_20250201', kind: 'sip', rows: makeSipRows(3) });
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
