/** Every viewer query is bounded in time: a query that runs over is cancelled, and the next one works. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { requireOrSkip } from '../helpers/env.js';
import { MYSQL_URL, PG_URL, reachable } from '../store/_e2e.js';
import { openSqlRunner, readOnlyPgUrl } from '../../src/viewer/sql-runner.js';
import { Homer5Reader } from '../../src/viewer/homer5-reader.js';
import { loadSchemaTemplate, renderTableStatements } from '../../src/store/schema-template.js';

test('SQLite: a query over its time is stopped by its guard, and the next query works', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sipcapture-runner-'));
  const file = path.join(dir, 'x.sqlite');
  const db = new Database(file);
  db.exec('CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (7)');
  db.close();
  const runner = await openSqlRunner(`sqlite://${file}`, { timeoutMs: 200 });
  try {
    assert.notEqual(runner.guard, null);
    const started = Date.now();
    // Bounded, so a guard that never fired would end the test in seconds instead of never.
    const slow = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000 AND ${runner.guard!}) SELECT count(*) AS n FROM c`;
    await assert.rejects(runner.query(slow, []), /ran past its time limit/);
    assert.ok(Date.now() - started < 1500, `stopped after ${Date.now() - started} ms`);
    assert.deepEqual(await runner.query(`SELECT a FROM t WHERE a = ? AND ${runner.guard!}`, [7]), [{ a: 7 }]);
    assert.deepEqual(await runner.tables(), ['t']);
  } finally {
    await runner.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SQLite: a reader search over many rows is cut at the time limit (the guard is in its WHERE)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sipcapture-runner-'));
  const file = path.join(dir, 'x.sqlite');
  const db = new Database(file);
  for (const sql of renderTableStatements(await loadSchemaTemplate('sqlite'), 'sip', { table: 'sip_capture' })) db.exec(sql);
  const t0 = Date.UTC(2026, 11, 6) * 1000;
  db.exec(`WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < 400000)
    INSERT INTO sip_capture (date, micro_ts, method, from_user) SELECT '2026-12-06 00:00:00', ${t0} + x, 'INVITE', 'u' || x FROM c`);
  db.close();
  const fast = new Homer5Reader({ runner: await openSqlRunner(`sqlite://${file}`, { timeoutMs: 30_000 }), sipTemplates: ['sip_capture'], sideTables: false, dateTimeZone: 'UTC', tableDateWindowDays: 0 });
  const cut = new Homer5Reader({ runner: await openSqlRunner(`sqlite://${file}`, { timeoutMs: 20 }), sipTemplates: ['sip_capture'], sideTables: false, dateTimeZone: 'UTC', tableDateWindowDays: 0 });
  try {
    // No row matches: the whole hour is visited.
    const q = { fromUs: t0, toUs: t0 + 1_000_000, limit: 10, userAgent: 'nobody' };
    const started = Date.now();
    assert.deepEqual((await fast.search(q)).messages, []);
    const fullMs = Date.now() - started;
    assert.ok(fullMs > 60, `the full scan takes ${fullMs} ms, long enough to cut`);
    await assert.rejects(cut.search(q), /ran past its time limit/);
  } finally {
    await fast.close();
    await cut.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SQLite: a database file that does not exist yet reads as empty', async () => {
  const runner = await openSqlRunner('sqlite:///nonexistent/dir/x.sqlite', { timeoutMs: 1000 });
  try {
    assert.deepEqual(await runner.tables(), []);
  } finally {
    await runner.close();
  }
});

test('PostgreSQL: statement_timeout cancels a slow query', { skip: requireOrSkip(await reachable(PG_URL, 5432), `PostgreSQL at ${PG_URL}`) }, async () => {
  const runner = await openSqlRunner(PG_URL, { timeoutMs: 200 });
  try {
    await assert.rejects(runner.query('SELECT pg_sleep(3)', []), /statement timeout/);
    assert.deepEqual(await runner.query('SELECT ?::int AS a', [5]), [{ a: 5 }]);
  } finally {
    await runner.close();
  }
  // The URL's own options (a search_path) survive the read-only option.
  assert.equal(new URL(readOnlyPgUrl('postgres://u@h/db?options=-c%20search_path%3Dx')).searchParams.get('options'), '-c search_path=x -c default_transaction_read_only=on');
});

test('MySQL: a slow query times out', { skip: requireOrSkip(await reachable(MYSQL_URL, 3306), `MariaDB at ${MYSQL_URL}`) }, async () => {
  const runner = await openSqlRunner(MYSQL_URL, { timeoutMs: 200 });
  try {
    await assert.rejects(runner.query('SELECT SLEEP(3)', []), /timeout/i);
    assert.deepEqual(await runner.query('SELECT ? + 1 AS a', [4]), [{ a: 5 }]);
  } finally {
    await runner.close();
  }
});
