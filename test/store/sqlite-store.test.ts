import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { REPORT_COLUMNS, SIP_CAPTURE_COLUMNS, type ReportRow, type SipCaptureRow } from '../../src/capture/rows.js';
import { createStore } from '../../src/store/factory.js';
import { parseSqliteUrl, SqliteStore, SqliteStoreError } from '../../src/store/sqlite/index.js';
import { loadSchemaTemplate, parseSchemaTemplate, renderTableStatements } from '../../src/store/schema-template.js';
import { reportRow, sipRow } from './_rows.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sipcapture-sqlite-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function readAll(path: string, table: string): Record<string, unknown>[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(`SELECT * FROM "${table}" ORDER BY id`).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

function objectsOf(path: string, type: 'table' | 'index', table: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT name FROM sqlite_master WHERE type = ? AND tbl_name = ? ORDER BY name').all(type, table) as { name: string }[]).map((r) => r.name);
  } finally {
    db.close();
  }
}

/** A store whose sip_capture table refuses (RAISE ABORT 'poisoned row') a row with callid 'poison'. */
async function storeWithPoisonTrigger(path: string): Promise<SqliteStore> {
  const store = await SqliteStore.open(`sqlite://${path}`);
  await store.ensureTable('sip_capture', 'sip');
  const side = new Database(path);
  side.exec(`CREATE TRIGGER poison BEFORE INSERT ON sip_capture WHEN NEW.callid = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END`);
  side.close();
  return store;
}

function assertRowEqual(got: Record<string, unknown> | undefined, want: SipCaptureRow | ReportRow, columns: readonly string[]): void {
  assert.ok(got !== undefined);
  const w = want as unknown as Record<string, unknown>;
  for (const c of columns) {
    if (c === 'msg') {
      assert.ok(Buffer.isBuffer(got['msg']), 'msg is a BLOB');
      assert.ok(got['msg'].equals(w['msg'] as Buffer), `msg differs (${(w['msg'] as Buffer).length} bytes)`);
    } else {
      assert.equal(got[c], w[c], c);
    }
  }
}

describe('sqlite URL', () => {
  test('forms', () => {
    assert.equal(parseSqliteUrl('sqlite:///abs/path/x.sqlite'), '/abs/path/x.sqlite');
    assert.equal(parseSqliteUrl('sqlite://rel/x.sqlite'), resolve('rel/x.sqlite'));
    assert.equal(parseSqliteUrl('sqlite://:memory:'), ':memory:');
    assert.equal(parseSqliteUrl('SQLITE://:memory:'), ':memory:');
    assert.throws(() => parseSqliteUrl('sqlite://'), /no file path/);
    assert.throws(() => parseSqliteUrl('postgres://x'), /not a sqlite URL/);
  });
});

describe('schema template', () => {
  test('every kind has a section; the name is substituted and validated', async () => {
    const tpl = await loadSchemaTemplate('sqlite');
    const sip = renderTableStatements(tpl, 'sip', { table: 'sip_capture_call_20261122' });
    assert.equal(sip.length, 10); // table + 9 indexes
    assert.match(sip[0] ?? '', /^CREATE TABLE IF NOT EXISTS "sip_capture_call_20261122" \(/);
    assert.ok(sip.every((s) => !s.includes('{{table}}')));
    for (const kind of ['rtcp', 'report', 'logs'] as const) assert.equal(renderTableStatements(tpl, kind, { table: 'x' }).length, 3);
    assert.throws(() => renderTableStatements(tpl, 'sip', { table: 'x"; DROP TABLE y; --' }));
    assert.throws(() => parseSchemaTemplate('-- @kind sip\nx;'), /no "-- @kind rtcp"/);
    assert.throws(() => parseSchemaTemplate('-- @kind sip rtp\n'), /unknown table kind "rtp"/);
  });
});

describe('SqliteStore', () => {
  test('refuses a missing parent directory instead of creating it; ensureTable is idempotent (also across connections)', async () => {
    const path = join(dir, 'a', 'b', 'c', 'capture.sqlite');
    await assert.rejects(SqliteStore.open(`sqlite://${path}`), /the directory .*\/a\/b\/c of the SQLite file does not exist/);
    assert.equal(existsSync(join(dir, 'a')), false);
    mkdirSync(join(dir, 'a', 'b', 'c'), { recursive: true });
    const store = await SqliteStore.open(`sqlite://${path}`);
    assert.equal(store.backend, 'sqlite');
    assert.equal(store.path, path);
    await store.ensureTable('sip_capture', 'sip');
    await store.ensureTable('sip_capture', 'sip');
    await store.close();
    await store.close(); // idempotent
    assert.ok(existsSync(path));
    const again = await SqliteStore.open(`sqlite://${path}`);
    await again.ensureTable('sip_capture', 'sip');
    await again.close();
    assert.deepEqual(objectsOf(path, 'table', 'sip_capture'), ['sip_capture']);
    assert.deepEqual(objectsOf(path, 'index', 'sip_capture'), [
      'sip_capture_auth_user',
      'sip_capture_callid',
      'sip_capture_callid_aleg',
      'sip_capture_correlation_id',
      'sip_capture_date',
      'sip_capture_from_user',
      'sip_capture_pid_user',
      'sip_capture_ruri_user',
      'sip_capture_to_user',
    ]);
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const cols = db.prepare('SELECT name, "notnull" AS nn, type FROM pragma_table_info(?)').all('sip_capture') as { name: string; nn: number; type: string }[];
    db.close();
    assert.equal(cols.length, 45);
    assert.deepEqual(cols.map((c) => c.name).filter((n) => n !== 'id').sort(), [...SIP_CAPTURE_COLUMNS].sort());
    assert.ok(cols.filter((c) => c.name !== 'id').every((c) => c.nn === 1), 'all columns NOT NULL');
    assert.equal(cols.find((c) => c.name === 'msg')?.type, 'BLOB');
  });

  test('daily tables and the 12-column report tables', async () => {
    const path = join(dir, 'daily.sqlite');
    const store = await createStore(`sqlite://${path}`);
    for (const t of ['sip_capture_call_20261122', 'sip_capture_call_20261123', 'sip_capture_rest_20261122']) await store.ensureTable(t, 'sip');
    await store.ensureTable('rtcp_capture', 'rtcp');
    await store.ensureTable('report_capture', 'report');
    await store.ensureTable('logs_capture', 'logs');
    const rows = [reportRow(1), reportRow(2, { msg: Buffer.alloc(0), correlation_id: '' })];
    await store.insert({ table: 'report_capture', kind: 'report', rows });
    await store.insert({ table: 'sip_capture_call_20261123', kind: 'sip', rows: [sipRow(1)] });
    await store.close();
    for (const t of ['sip_capture_call_20261122', 'sip_capture_call_20261123', 'sip_capture_rest_20261122', 'rtcp_capture', 'report_capture', 'logs_capture']) {
      assert.deepEqual(objectsOf(path, 'table', t), [t]);
    }
    assert.deepEqual(objectsOf(path, 'index', 'logs_capture'), ['logs_capture_correlation_id', 'logs_capture_date']);
    const got = readAll(path, 'report_capture');
    assert.equal(got.length, 2);
    rows.forEach((r, i) => assertRowEqual(got[i], r, REPORT_COLUMNS));
    assert.equal(readAll(path, 'sip_capture_call_20261123').length, 1);
  });

  test('10k rows (NUL/0xff bytes, a 64 KiB msg, awkward text) read back equal', async () => {
    const path = join(dir, 'bulk.sqlite');
    // 16 rows per INSERT: the batch sizes below also exercise the single-row remainder.
    const store = await SqliteStore.open(`sqlite://${path}`, { rowsPerStatement: 16 });
    await store.ensureTable('sip_capture', 'sip');
    const rows = Array.from({ length: 10_000 }, (_, i) => sipRow(i));
    const big = Buffer.alloc(64 * 1024);
    for (let k = 0; k < big.length; k++) big[k] = (k * 13) & 0xff;
    rows[4321] = sipRow(4321, { msg: big });
    rows[4322] = sipRow(4322, { msg: Buffer.alloc(0) });
    rows[4323] = sipRow(4323, { msg: Buffer.from([0, 0, 0]) });
    // A msg that is a view into a larger buffer must store only its own bytes.
    const pool = Buffer.alloc(8192, 0xaa);
    pool.write('INVITE sip:x SIP/2.0\r\n\r\n', 1000);
    rows[4324] = sipRow(4324, { msg: pool.subarray(1000, 1024) });
    // Batches of odd sizes exercise the multi-row statement remainder.
    let i = 0;
    for (const size of [1, 15, 16, 17, 777, 1000, 2174]) {
      await store.insert({ table: 'sip_capture', kind: 'sip', rows: rows.slice(i, i + size) });
      i += size;
    }
    const chunks: Promise<void>[] = [];
    for (; i < rows.length; i += 1000) chunks.push(store.insert({ table: 'sip_capture', kind: 'sip', rows: rows.slice(i, i + 1000) }));
    await Promise.all(chunks); // several requests outstanding at once: answered in order
    await store.close();
    const got = readAll(path, 'sip_capture');
    assert.equal(got.length, rows.length);
    rows.forEach((r, k) => assertRowEqual(got[k], r, SIP_CAPTURE_COLUMNS));
    assert.equal((got[4321]?.['msg'] as Buffer).length, 65536);
    assert.equal((got[4324]?.['msg'] as Buffer).toString('latin1'), 'INVITE sip:x SIP/2.0\r\n\r\n');
  });

  test('a batch is all or nothing; the error carries the SQLite code', async () => {
    const path = join(dir, 'atomic.sqlite');
    const store = await storeWithPoisonTrigger(path);
    const rows = Array.from({ length: 40 }, (_, i) => sipRow(i, i === 33 ? { callid: 'poison' } : {}));
    await assert.rejects(store.insert({ table: 'sip_capture', kind: 'sip', rows }), (err: unknown) => {
      assert.ok(err instanceof SqliteStoreError);
      assert.match(err.message, /poisoned row/);
      assert.equal(err.code, 'SQLITE_CONSTRAINT_TRIGGER');
      return true;
    });
    await store.insert({ table: 'sip_capture', kind: 'sip', rows: rows.slice(0, 33) });
    await store.close();
    assert.equal(readAll(path, 'sip_capture').length, 33);
  });

  test('rejects unsafe table names before any SQL', async () => {
    const store = await SqliteStore.open('sqlite://:memory:');
    await assert.rejects(store.ensureTable('x; DROP TABLE y', 'sip'), /characters other than/);
    await assert.rejects(store.insert({ table: 'a"b', kind: 'sip', rows: [sipRow(1)] }), /characters other than/);
    await store.close();
    await assert.rejects(store.insert({ table: 'ok', kind: 'sip', rows: [sipRow(1)] }), /closed/);
  });

  test('a table dropped behind our back is recreated on the next attempt', async () => {
    const path = join(dir, 'dropped.sqlite');
    const store = await SqliteStore.open(`sqlite://${path}`);
    await store.ensureTable('t1', 'sip');
    await store.insert({ table: 't1', kind: 'sip', rows: [sipRow(1)] });
    const side = new Database(path);
    side.exec('DROP TABLE t1');
    side.close();
    await assert.rejects(store.insert({ table: 't1', kind: 'sip', rows: [sipRow(2)] }), (err: unknown) => err instanceof SqliteStoreError && err.noSuchTable);
    await store.ensureTable('t1', 'sip'); // no longer cached: really runs CREATE again
    await store.insert({ table: 't1', kind: 'sip', rows: [sipRow(3)] });
    await store.close();
    assert.deepEqual(readAll(path, 't1').map((r) => r['callid']), [sipRow(3).callid]);
  });

  test('a dead worker fails its pending requests; the next request starts a new one', async () => {
    const path = join(dir, 'respawn.sqlite');
    const store = await SqliteStore.open(`sqlite://${path}`);
    await store.ensureTable('t', 'sip');
    const worker = (store as unknown as { worker: { terminate(): Promise<number> } | null }).worker;
    assert.ok(worker !== null);
    const pending = store.insert({ table: 't', kind: 'sip', rows: [sipRow(1)] });
    await worker.terminate();
    await pending.then(
      () => undefined, // it may have been written before the worker died
      (err: unknown) => assert.match((err as Error).message, /exited/),
    );
    await store.ensureTable('t', 'sip');
    await store.insert({ table: 't', kind: 'sip', rows: [sipRow(2)] });
    await store.close();
    assert.ok(readAll(path, 't').some((r) => r['callid'] === sipRow(2).callid));
  });

  test('an unopenable database fails open() with the path in the message', async () => {
    const blocker = join(dir, 'file-not-dir');
    new Database(blocker).close();
    await assert.rejects(SqliteStore.open(`sqlite://${blocker}/sub/x.sqlite`), /file-not-dir/);
  });

  test('batches waiting in the worker commit together, in order; a failing one fails alone with its code', async () => {
    const path = join(dir, 'group.sqlite');
    const store = await storeWithPoisonTrigger(path);
    // Posted at once: the worker finds the later ones waiting while it writes the first.
    const batches = Array.from({ length: 6 }, (_, b) => Array.from({ length: 300 }, (_, i) => sipRow(b * 1000 + i, b === 2 && i === 150 ? { callid: 'poison' } : {})));
    const results = await Promise.allSettled(batches.map((rows) => store.insert({ table: 'sip_capture', kind: 'sip', rows })));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled'],
    );
    const err = (results[2] as PromiseRejectedResult).reason as unknown;
    assert.ok(err instanceof SqliteStoreError);
    assert.equal(err.code, 'SQLITE_CONSTRAINT_TRIGGER');
    assert.ok(store.isRowError(err));
    await store.close();
    const got = readAll(path, 'sip_capture');
    const want = [0, 1, 3, 4, 5].flatMap((b) => batches[b] ?? []);
    assert.equal(got.length, want.length);
    // Arrival order: ids follow the batches' order.
    assert.deepEqual(
      got.map((r) => r['callid']),
      want.map((r) => r.callid),
    );
  });

  test('the checkpointer thread copies the WAL into the database file; COMMIT does not', async () => {
    const rows = Array.from({ length: 500 }, (_, i) => sipRow(i));
    const mainFileAfter = async (name: string, opts: { checkpointThread: boolean }): Promise<number> => {
      const path = join(dir, name);
      const store = await SqliteStore.open(`sqlite://${path}`, { ...opts, checkpointIntervalMs: 0 });
      await store.ensureTable('sip_capture', 'sip');
      for (let b = 0; b < 4; b++) await store.insert({ table: 'sip_capture', kind: 'sip', rows });
      // Until a checkpoint, every page is in the -wal file and the database file stays as created.
      let size = 0;
      for (let t = 0; t < 40 && size < 1 << 20; t++) {
        await sleep(50);
        size = statSync(path).size;
      }
      await store.close();
      assert.equal(existsSync(`${path}-wal`), false, 'the last connection to close removes the WAL');
      assert.equal(readAll(path, 'sip_capture').length, 2000);
      return size;
    };
    assert.ok((await mainFileAfter('ckpt-thread.sqlite', { checkpointThread: true })) > 1 << 20);
    // Without the thread nothing copies before the WAL reaches walMaxBytes (64 MiB).
    assert.ok((await mainFileAfter('ckpt-none.sqlite', { checkpointThread: false })) < 1 << 20);
  });

  test('the WAL stays near walMaxBytes even when the checkpointer thread lags', async () => {
    const path = join(dir, 'wal-bound.sqlite');
    const walMaxBytes = 1 << 20;
    // The thread checkpoints once, then not for a minute: the writer has to bound the WAL.
    const store = await SqliteStore.open(`sqlite://${path}`, { walMaxBytes, checkpointIntervalMs: 60_000 });
    await store.ensureTable('sip_capture', 'sip');
    const rows = Array.from({ length: 200 }, (_, i) => sipRow(i));
    let largest = 0;
    for (let b = 0; b < 40; b++) {
      await store.insert({ table: 'sip_capture', kind: 'sip', rows });
      largest = Math.max(largest, statSync(`${path}-wal`).size);
    }
    // 40 batches write ~20 MiB of WAL; bounded, it is 1 MiB plus about one batch.
    assert.ok(largest < 3 * walMaxBytes, `WAL reached ${largest} bytes`);
    await store.close();
    assert.equal(readAll(path, 'sip_capture').length, 8000);
  });

  test(':memory: works (tables live in the worker)', async () => {
    const store = await SqliteStore.open('sqlite://:memory:');
    await store.ensureTable('m', 'logs');
    await store.insert({ table: 'm', kind: 'logs', rows: [reportRow(1), reportRow(2)] });
    await store.close();
  });
});
