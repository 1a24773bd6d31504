/**
 * The last duplicate window of the spool: the daemon dies after a replayed record's COMMIT and
 * before the spool's read position reaches the disk. Simulated deterministically on the real
 * servers: the replay handler commits the record through the writer (marker row included) and
 * then fails, exactly like a crash at that point — the record stays first in the spool. A new
 * spool, store and writer on the same directory (as after a restart) must find the marker, skip
 * the record as already committed, replay the rest, and leave every row in the table once.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { SipCaptureRow } from '../../../src/capture/rows.js';
import { DropReason } from '../../../src/telemetry/drop-reasons.js';
import { Stats } from '../../../src/telemetry/stats.js';
import { createStore } from '../../../src/store/factory.js';
import { rowBatchCodec } from '../../../src/store/spool/record-codec.js';
import { Spool } from '../../../src/store/spool/segment-log.js';
import { SpoolReplayer } from '../../../src/store/spool/replayer.js';
import { SPOOL_DONE_TABLE, type RowBatch } from '../../../src/store/store.js';
import { StoreWriter } from '../../../src/store/writer/writer.js';
import { requireOrSkip } from '../../helpers/env.js';
import { waitFor } from '../../helpers/net.js';
import { MYSQL_URL, PG_URL, RUN, mysqlNamespace, pgNamespace, reachable, sqliteNamespace, type Namespace } from '../_e2e.js';
import { sipRow } from '../_rows.js';

/** Rows of the marker table, read by a separate connection. */
async function markers(backend: string, url: string): Promise<{ spool_id: string; record: string; piece: string }[]> {
  const sql = `SELECT spool_id, record, piece FROM ${SPOOL_DONE_TABLE} ORDER BY record, piece`;
  if (backend === 'sqlite') {
    const db = new Database(url.replace(/^sqlite:\/\//, ''), { readonly: true });
    try {
      return db.prepare(sql).all() as { spool_id: string; record: string; piece: string }[];
    } finally {
      db.close();
    }
  }
  if (backend === 'postgres') {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query<{ spool_id: string; record: string; piece: string }>(sql)).rows;
    } finally {
      await c.end();
    }
  }
  const c = await mysql.createConnection({ uri: url });
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>(sql);
    return rows.map((r) => ({ spool_id: String(r['spool_id']), record: String(r['record']), piece: String(r['piece']) }));
  } finally {
    await c.end();
  }
}

function newWriter(store: Awaited<ReturnType<typeof createStore>>, stats: Stats): StoreWriter {
  return new StoreWriter(store, { stats, batchSize: 100, batchTimeoutMs: 10, queueMaxRows: 10_000, insertRetries: 0, insertRetryTimeoutS: 0 });
}

/** Makes the database reject rows whose method is POISON (a row error, for the isolation path). */
async function poison(backend: string, ns: Namespace, url: string): Promise<void> {
  if (backend === 'sqlite') {
    const db = new Database(url.replace(/^sqlite:\/\//, ''));
    try {
      db.exec(`CREATE TRIGGER no_poison BEFORE INSERT ON sip_capture WHEN NEW.method = 'POISON' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END`);
    } finally {
      db.close();
    }
    return;
  }
  await ns.exec(`ALTER TABLE sip_capture ADD CONSTRAINT no_poison CHECK (method <> 'POISON')`);
}

const batch = (from: number, n: number, tag: string): RowBatch => ({
  table: 'sip_capture',
  kind: 'sip',
  rows: Array.from({ length: n }, (_, k) => sipRow(from + k, { callid: `${tag}-${RUN}-${from + k}` })),
});

for (const [backend, make, ok] of [
  ['postgres', () => pgNamespace('replaymark'), await reachable(PG_URL, 5432)],
  ['mysql', () => mysqlNamespace('replaymark'), await reachable(MYSQL_URL, 3306)],
  ['sqlite', () => Promise.resolve(sqliteNamespace()), true],
] as const) {
  describe(`${backend}: a crash between a replayed record's COMMIT and the spool's read position`, { skip: requireOrSkip(ok, `${backend} server`) }, () => {
    test('after restart the record is not written again; every row once; spool empty; markers pruned', { timeout: 60_000 }, async () => {
      const ns = await make();
      const dir = mkdtempSync(join(tmpdir(), 'sipcapture-replay-marker-'));
      const url = ns.url();
      // Closed in the finally too, so a failed assertion does not leave the test process hanging.
      const open: { close(): Promise<void> }[] = [];
      const track = <T extends { close(): Promise<void> }>(x: T): T => (open.push(x), x);
      try {
        // Run 1: the database was down, three batches went to the spool.
        const spool1 = track(await Spool.open({ codec: rowBatchCodec, dir, sync: true }));
        const a = batch(0, 30, 'a');
        const b = batch(100, 20, 'b');
        const c = batch(200, 10, 'c');
        for (const x of [a, b, c]) assert.equal(await spool1.append(x), true);
        // Then the database is back: record a commits, and the process "dies" before the
        // spool's read position moves (the handler fails after the commit).
        const store1 = track(await createStore(url));
        const stats1 = new Stats(null);
        const writer1 = track(newWriter(store1, stats1));
        let calls = 0;
        await assert.rejects(
          spool1.replay(async (rec) => {
            calls++;
            await writer1.replay(rec);
            throw new Error('simulated kill -9 after COMMIT');
          }),
          /simulated kill/,
        );
        assert.equal(calls, 1);
        assert.equal(stats1.snapshot().stored['sip_capture'], 30, 'record a committed in run 1');
        const m1 = await markers(backend, url);
        assert.equal(m1.length, 1, 'one marker, committed with the rows');
        assert.equal(m1[0]!.spool_id, spool1.id);
        assert.equal(m1[0]!.piece, '');
        await writer1.close();
        await store1.close();
        await spool1.close(); // keeps the files, like a dead process
        assert.equal(spool1.isEmpty, false);

        // Run 2 on the same spool directory: replayed by the daemon's replayer.
        const spool2 = track(await Spool.open({ codec: rowBatchCodec, dir, sync: true }));
        assert.equal(spool2.id, spool1.id, 'the spool keeps its id across restarts');
        const store2 = track(await createStore(url));
        const stats2 = new Stats(null);
        const writer2 = track(newWriter(store2, stats2));
        const replayer = new SpoolReplayer(writer2, spool2, { probeBaseMs: 20, probeMaxMs: 100 });
        replayer.start();
        try {
          assert.ok(await waitFor(() => spool2.isEmpty, 20_000), 'the spool replayed');
        } finally {
          await replayer.stop();
        }
        assert.deepEqual(writer2.replayedAlreadyCommitted, { batches: 1, rows: 30 }, 'record a recognised as committed');
        assert.equal(stats2.snapshot().stored['sip_capture'], 30, 'only b and c written in run 2');
        assert.equal(stats2.droppedCount(DropReason.DB_ERROR), 0);
        const ids = await ns.callids();
        const expected = [...a.rows, ...b.rows, ...c.rows].map((r) => (r as SipCaptureRow).callid);
        assert.equal(ids.length, expected.length, 'no row twice');
        assert.deepEqual([...ids].sort(), [...expected].sort(), 'every row exactly once');
        // Only the last replayed record's marker is left.
        const m2 = await markers(backend, url);
        assert.equal(m2.length, 1, `markers left: ${JSON.stringify(m2)}`);
        assert.notEqual(m2[0]!.record, m1[0]!.record);
        await writer2.close();
        await store2.close();
        await spool2.close({ removeIfEmpty: true });
      } finally {
        for (const x of open.reverse()) await x.close().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
        await ns.drop();
      }
    });

    test('a crash while a poisoned row is isolated: committed pieces are not written again', { timeout: 60_000 }, async () => {
      const ns = await make();
      const dir = mkdtempSync(join(tmpdir(), 'sipcapture-replay-marker-'));
      const url = ns.url();
      // Closed in the finally too, so a failed assertion does not leave the test process hanging.
      const open: { close(): Promise<void> }[] = [];
      const track = <T extends { close(): Promise<void> }>(x: T): T => (open.push(x), x);
      try {
        const spool1 = track(await Spool.open({ codec: rowBatchCodec, dir, sync: true }));
        const rec = batch(0, 40, 'p');
        (rec.rows[33] as SipCaptureRow).method = 'POISON';
        assert.equal(await spool1.append(rec), true);
        const store1 = track(await createStore(url));
        await store1.ensureTable('sip_capture', 'sip');
        await poison(backend, ns, url);
        const stats1 = new Stats(null);
        const writer1 = track(newWriter(store1, stats1));
        // Run 1 isolates the poisoned row (39 rows written in pieces) and dies before the
        // spool's read position moves.
        await assert.rejects(
          spool1.replay(async (r) => {
            await writer1.replay(r);
            throw new Error('simulated kill -9 after the isolation');
          }),
          /simulated kill/,
        );
        assert.equal(stats1.snapshot().stored['sip_capture'], 39);
        assert.equal(stats1.droppedCount(DropReason.DB_ERROR), 1);
        assert.ok((await markers(backend, url)).every((m) => m.piece !== ''), 'pieces are marked, not the whole record');
        await writer1.close();
        await store1.close();
        await spool1.close();

        const spool2 = track(await Spool.open({ codec: rowBatchCodec, dir, sync: true }));
        const store2 = track(await createStore(url));
        const stats2 = new Stats(null);
        const writer2 = track(newWriter(store2, stats2));
        const res = await spool2.replay((r) => writer2.replay(r));
        assert.equal(res.batches, 1);
        assert.equal(spool2.isEmpty, true);
        assert.equal(writer2.replayedAlreadyCommitted.rows, 39, 'every committed piece recognised');
        assert.equal(stats2.snapshot().stored['sip_capture'] ?? 0, 0, 'nothing written again');
        // The poisoned row is rejected again by the new process (its first count died with run 1).
        assert.equal(stats2.droppedCount(DropReason.DB_ERROR), 1);
        const ids = await ns.callids();
        const expected = rec.rows.filter((_, i) => i !== 33).map((r) => (r as SipCaptureRow).callid);
        assert.equal(ids.length, 39, 'no row twice');
        assert.deepEqual([...ids].sort(), [...expected].sort());
        await writer2.close();
        await store2.close();
        await spool2.close({ removeIfEmpty: true });
      } finally {
        for (const x of open.reverse()) await x.close().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
        await ns.drop();
      }
    });
  });
}
