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

test('SQLite: a query over its time is cancelled (its thread ended) and the next query works', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sipcapture-runner-'));
  const file = path.join(dir, 'x.sqlite');
  const db = new Database(file);
  db.exec('CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (7)');
  db.close();
  const runner = await openSqlRunner(`sqlite://${file}`, { timeoutMs: 200 });
  try {
    const started = Date.now();
    await assert.rejects(runner.query('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c', []), /cancelled after 200 ms/);
    assert.ok(Date.now() - started < 2000);
    assert.deepEqual(await runner.query('SELECT a FROM t WHERE a = ?', [7]), [{ a: 7 }]);
    assert.deepEqual(await runner.tables(), ['t']);
  } finally {
    await runner.close();
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
