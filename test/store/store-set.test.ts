/**
 * StoreSet wiring with an in-memory store that can go down: rows the database cannot take go
 * to the on-disk spool and come back exactly once and in order; poisoned rows cost only
 * themselves (counted), also during replay; a full spool drops and counts; a spool left by an
 * earlier run is replayed at start; a lost COMMIT answer never duplicates a batch;
 * db_insert_mode 2 keeps several batches in flight; close() never hangs on a dead database.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { validateConfig } from '../../src/config/load.js';
import type { SipcaptureConfig } from '../../src/config/types.js';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { Stats } from '../../src/telemetry/stats.js';
import { rowBatchCodec } from '../../src/store/spool/record-codec.js';
import { Spool } from '../../src/store/spool/segment-log.js';
import { legacySpoolDirFor, spoolDirFor } from '../../src/store/spool-dirs.js';
import { StoreSet, type StoreSetOptions } from '../../src/store/store-set.js';
import type { StoreWriter } from '../../src/store/writer/writer.js';
import { FakeStore } from './_fake-store.js';
import { sipRow } from './_rows.js';

const URL = 'postgres://u@db.invalid/capture';
let root = '';
let seq = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'sipcapture-storeset-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function config(over: Record<string, unknown> = {}, dir = join(root, `c${++seq}`)): SipcaptureConfig {
  return validateConfig(
    { db_url: URL, routes: 'default', table_name: 'sip_capture', batch_size: 10, batch_timeout_ms: 5, spool_dir: join(dir, 'spool'), ...over },
    join(dir, 'sipcapture.json5'),
  );
}

interface Opened {
  set: StoreSet;
  stats: Stats;
  writer: StoreWriter;
}

async function open(store: FakeStore, cfg: SipcaptureConfig, extra: StoreSetOptions = {}): Promise<Opened> {
  const stats = new Stats(null);
  const set = await StoreSet.open(cfg, stats, null, {
    storeFactory: () => Promise.resolve(store),
    replayer: { probeBaseMs: 20, probeMaxMs: 100, maxYieldMs: 50 },
    writer: { retryBaseDelayMs: 5, outageProbeIntervalMs: 50 },
    aheadIntervalMs: 0,
    drainTimeoutMs: 300,
    ...extra,
  });
  return { set, stats, writer: set.writerFor(cfg.db_url) };
}

const cid = (i: number, tag = 'r'): string => `${tag}-${i}`;

async function enqueue(writer: StoreWriter, from: number, to: number, poisoned: readonly number[] = [], tag = 'r'): Promise<void> {
  for (let i = from; i < to; i++) {
    writer.enqueue('sip_capture', 'sip', sipRow(i, { callid: poisoned.includes(i) ? `poison-${i}` : cid(i, tag) }));
    if (i % 10 === 9) await sleep(1);
  }
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function assertExactlyOnce(got: readonly string[], want: readonly string[]): void {
  const counts = new Map<string, number>();
  for (const c of got) counts.set(c, (counts.get(c) ?? 0) + 1);
  const dups = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(dups, [], 'no duplicates');
  assert.deepEqual([...got].sort(), [...want].sort(), 'every row, once');
}

describe('StoreSet: spool and replay', () => {
  test('outage: rows go to the spool and come back exactly once, in order', async () => {
    const store = new FakeStore();
    const cfg = config();
    const { set, stats, writer } = await open(store, cfg);
    store.down = true;
    await enqueue(writer, 0, 200);
    await writer.flush();
    const [s] = set.storageStats();
    assert.equal(s!.spool!.appendedRows, 200, 'all 200 rows spooled');
    assert.ok(s!.outage);
    assert.equal(store.all().length, 0);
    store.down = false;
    await waitFor(() => store.all().length >= 200, 'replay');
    assert.deepEqual(store.all(), Array.from({ length: 200 }, (_, i) => cid(i)), 'in order, once');
    await waitFor(() => set.storageStats()[0]!.spool!.pendingBytes === 0, 'spool empty');
    assert.deepEqual(stats.snapshot().dropped, {});
    assert.equal(stats.snapshot().stored['sip_capture'], 200);
    await set.close();
    assert.equal(existsSync(spoolDirFor(cfg.spool_dir, URL)), false, 'an empty spool leaves no directory');
  });

  test('live traffic during the replay: nothing lost, nothing twice', async () => {
    const store = new FakeStore();
    const { set, stats, writer } = await open(store, config());
    store.down = true;
    await enqueue(writer, 0, 300);
    await writer.flush();
    store.down = false;
    await enqueue(writer, 300, 600);
    await waitFor(() => store.all().length >= 600, 'all rows');
    await set.close();
    assertExactlyOnce(store.all(), Array.from({ length: 600 }, (_, i) => cid(i)));
    assert.deepEqual(stats.snapshot().dropped, {});
  });

  test('a poisoned row loses only itself (counted db_error), and is never spooled', async () => {
    const store = new FakeStore();
    const { set, stats, writer } = await open(store, config());
    await enqueue(writer, 0, 50, [17]);
    await writer.flush();
    assert.equal(stats.droppedCount(DropReason.DB_ERROR), 1);
    assert.equal(set.storageStats()[0]!.spool!.appendedRows, 0);
    await set.close();
    assertExactlyOnce(store.all(), Array.from({ length: 50 }, (_, i) => i).filter((i) => i !== 17).map((i) => cid(i)));
  });

  test('poisoned rows found during replay are isolated and counted; the replay goes on', async () => {
    const store = new FakeStore();
    const { set, stats, writer } = await open(store, config());
    store.down = true;
    await enqueue(writer, 0, 50, [17, 33]);
    await writer.flush();
    assert.equal(set.storageStats()[0]!.spool!.appendedRows, 50);
    store.down = false;
    await enqueue(writer, 50, 60);
    await waitFor(() => store.all().length >= 58, 'replay');
    await waitFor(() => set.storageStats()[0]!.spool!.pendingBytes === 0, 'spool empty');
    assert.equal(stats.droppedCount(DropReason.DB_ERROR), 2);
    await set.close();
    assertExactlyOnce(store.all(), Array.from({ length: 60 }, (_, i) => i).filter((i) => i !== 17 && i !== 33).map((i) => cid(i)));
  });

  test('full spool: the rows it cannot hold are dropped and counted spool_full, every row accounted for', async () => {
    const store = new FakeStore();
    const { set, stats, writer } = await open(store, config({ spool_max_bytes: 1_048_576 }));
    store.down = true;
    const n = 3000;
    await enqueue(writer, 0, n);
    await writer.flush();
    const spooled = set.storageStats()[0]!.spool!.appendedRows;
    const full = stats.droppedCount(DropReason.SPOOL_FULL);
    assert.ok(full > 0 && spooled > 0, `spooled ${spooled}, spool_full ${full}`);
    assert.equal(spooled + full, n, 'every row spooled or counted');
    store.down = false;
    await waitFor(() => store.all().length >= spooled, 'replay');
    await set.close();
    assert.equal(store.all().length, spooled);
    assert.equal(new Set(store.all()).size, spooled);
  });

  test('a spool left by an earlier run is replayed at start', async () => {
    const store = new FakeStore();
    const cfg = config();
    const first = await open(store, cfg);
    store.down = true;
    await enqueue(first.writer, 0, 30);
    await first.set.close();
    const dir = spoolDirFor(cfg.spool_dir, URL);
    assert.ok(readdirSync(dir).some((f) => f.endsWith('.spool')), 'spool kept on disk');
    store.down = false;
    const second = await open(store, cfg);
    await waitFor(() => store.all().length >= 30, 'replay after restart');
    await second.set.close();
    assertExactlyOnce(store.all(), Array.from({ length: 30 }, (_, i) => cid(i)));
  });

  test('a password rotation and postgres:// → postgresql:// keep the spool: rows spooled under the old URL are replayed', async () => {
    const store = new FakeStore();
    const dir = join(root, `c${++seq}`);
    const before = config({ db_url: 'postgres://u:old-secret@db.invalid/capture' }, dir);
    const first = await open(store, before);
    store.down = true;
    await enqueue(first.writer, 0, 30);
    await first.set.close();
    store.down = false;
    const after = config({ db_url: 'postgresql://u:new-secret@DB.invalid:5432/capture' }, dir);
    assert.equal(spoolDirFor(after.spool_dir, after.db_url), spoolDirFor(before.spool_dir, before.db_url));
    const second = await open(store, after);
    await waitFor(() => store.all().length >= 30, 'replay under the new URL');
    await second.set.close();
    assertExactlyOnce(store.all(), Array.from({ length: 30 }, (_, i) => cid(i)));
    assert.deepEqual(readdirSync(after.spool_dir), [], 'the replayed spool leaves no directory');
  });

  test('spools of an earlier version (named from the whole URL) are replayed after an upgrade, also after a password change', async () => {
    const store = new FakeStore();
    const dir = join(root, `c${++seq}`);
    const cfg = config({ db_url: 'postgres://u:now@db.invalid/capture' }, dir);
    // One left under the URL as it is now, one under the URL before a password change.
    for (const [url, tag] of [
      [cfg.db_url, 'same'],
      ['postgres://u:before@db.invalid/capture', 'older'],
    ] as const) {
      const old = await Spool.open({ codec: rowBatchCodec, dir: legacySpoolDirFor(cfg.spool_dir, url) });
      await old.append({ table: 'sip_capture', kind: 'sip', rows: Array.from({ length: 10 }, (_, i) => sipRow(i, { callid: cid(i, tag) })) });
      await old.close();
    }
    const { set } = await open(store, cfg);
    await waitFor(() => store.all().length >= 20, 'replay of both');
    await set.close();
    assertExactlyOnce(store.all(), [...Array.from({ length: 10 }, (_, i) => cid(i, 'same')), ...Array.from({ length: 10 }, (_, i) => cid(i, 'older'))]);
    assert.deepEqual(readdirSync(cfg.spool_dir), [], 'nothing left behind');
  });

  test('with several databases, a spool of a URL no longer configured is reported with its size, not replayed, and kept', async () => {
    const store = new FakeStore();
    const dir = join(root, `c${++seq}`);
    const gone = 'postgres://u@gone.invalid/capture';
    const cfg = config({ capture_mode: ['other=>db_url=postgres://u@other.invalid/db;table_name=o;mt_mode=rand'], routes: [{ method: ['INVITE'], capture_mode: 'other' }, {}] }, dir);
    const first = await open(store, config({ db_url: gone }, dir));
    store.down = true;
    await enqueue(first.writer, 0, 10);
    await first.set.close();
    store.down = false;
    const { set } = await open(store, cfg);
    assert.equal(set.unclaimedSpools.length, 1);
    assert.equal(set.unclaimedSpools[0]!.destination, 'postgres://u@gone.invalid:5432/capture');
    assert.ok(set.unclaimedSpools[0]!.pendingBytes > 0);
    await sleep(100);
    await set.close();
    assert.equal(store.all().length, 0);
    assert.ok(existsSync(spoolDirFor(cfg.spool_dir, gone)), 'kept for when its URL comes back');
  });

  test('close() with a dead database and long retries: the queue goes to the spool, promptly', async () => {
    const store = new FakeStore();
    const cfg = config({ insert_retries: 500, insert_retry_timeout: 300 });
    const { set, writer } = await open(store, cfg, { writer: { retryBaseDelayMs: 50, outageProbeIntervalMs: 50 } });
    store.down = true;
    await enqueue(writer, 0, 40);
    const t0 = Date.now();
    await set.close();
    assert.ok(Date.now() - t0 < 3000, `close took ${Date.now() - t0} ms`);
    store.down = false;
    const again = await open(store, cfg);
    await waitFor(() => store.all().length >= 40, 'replay');
    await again.set.close();
    assertExactlyOnce(store.all(), Array.from({ length: 40 }, (_, i) => cid(i)));
  });
});

describe('StoreSet: lost COMMIT answers', () => {
  for (const committed of [true, false]) {
    test(`a batch whose COMMIT answer was lost is settled, never written twice (it had ${committed ? '' : 'not '}committed)`, async () => {
      const store = new FakeStore();
      store.loseCommitAnswers = 1;
      store.commitBeforeLoss = committed;
      const { set, stats, writer } = await open(store, config());
      await enqueue(writer, 0, 10);
      await writer.flush();
      await waitFor(() => store.all().length >= 10, 'settled');
      await waitFor(() => set.storageStats()[0]!.spool!.pendingBytes === 0, 'spool empty');
      await enqueue(writer, 10, 20);
      await writer.flush();
      await set.close();
      assertExactlyOnce(store.all(), Array.from({ length: 20 }, (_, i) => cid(i)));
      assert.equal(stats.snapshot().stored['sip_capture'], 20);
    });
  }

  test('the commit token survives the spool while the database is down', async () => {
    const store = new FakeStore();
    store.loseCommitAnswers = 1;
    const { set, writer } = await open(store, config());
    await enqueue(writer, 0, 10);
    await writer.flush();
    store.down = true;
    await enqueue(writer, 10, 30);
    await writer.flush();
    await sleep(150); // replay probes fail meanwhile
    store.down = false;
    await waitFor(() => store.all().length >= 30, 'replay');
    await set.close();
    assertExactlyOnce(store.all(), Array.from({ length: 30 }, (_, i) => cid(i)));
  });
});

describe('StoreSet: db_insert_mode and tables ahead', () => {
  test('db_insert_mode 2: several batches in flight, every row once', async () => {
    const store = new FakeStore();
    store.delayMs = 20;
    // spool_after_batches 0: batches wait for a slot instead of spilling (what is measured here).
    const { set, writer } = await open(store, config({ db_insert_mode: 2, spool_after_batches: 0 }));
    await enqueue(writer, 0, 300);
    await writer.flush();
    await set.close();
    assert.ok(store.maxInFlight > 1 && store.maxInFlight <= 4, `max in flight ${store.maxInFlight}`);
    assertExactlyOnce(store.all(), Array.from({ length: 300 }, (_, i) => cid(i)));
  });

  test('db_insert_mode 0 with spilling: PostgreSQL writes up to 4 batches at once, MySQL 2', async () => {
    for (const [url, most] of [
      ['postgres://u@127.0.0.1:1/db', 4],
      ['mysql://u@127.0.0.1:1/db', 2],
    ] as const) {
      const store = new FakeStore();
      store.delayMs = 20;
      // batch_merge 1: every batch is its own insert; spilling on but far away (no replay
      // writes besides): the slots are what is measured.
      const { set, writer } = await open(store, config({ db_url: url, batch_merge: 1, spool_after_batches: 1000 }));
      await enqueue(writer, 0, 300);
      await writer.flush();
      await set.close();
      assert.ok(store.maxInFlight > 1 && store.maxInFlight <= most, `${url}: max in flight ${store.maxInFlight}`);
      assertExactlyOnce(store.all(), Array.from({ length: 300 }, (_, i) => cid(i)));
    }
  });

  test('db_insert_mode 0: one batch at a time, commit order = arrival order', async () => {
    const store = new FakeStore();
    store.delayMs = 5;
    // Spilling to the spool gives up the order; this test is about the order without it.
    const { set, writer } = await open(store, config({ spool_after_batches: 0 }));
    await enqueue(writer, 0, 100);
    await set.close();
    assert.equal(store.maxInFlight, 1);
    assert.deepEqual(store.all(), Array.from({ length: 100 }, (_, i) => cid(i)));
  });

  test('today\'s and tomorrow\'s daily tables (UTC) exist before the first row', async () => {
    const store = new FakeStore();
    const { set } = await open(store, config({ routes: 'homer5' }));
    await set.ensureTablesAhead(Date.UTC(2025, 0, 31, 23, 30) / 1000);
    await set.close();
    for (const base of ['sip_capture_call', 'sip_capture_registration', 'sip_capture_rest']) {
      assert.ok(store.tables.has(`${base}_20250131`), `${base} today`);
      assert.ok(store.tables.has(`${base}_20250201`), `${base} tomorrow`);
    }
  });

  test('a reload\'s routes: their tables are created ahead at once and on later rounds', async () => {
    const store = new FakeStore();
    const { set } = await open(store, config());
    set.useRouting(config({ routes: 'homer5' }));
    await waitFor(() => [...store.tables].some((t) => t.startsWith('sip_capture_call_')), 'the new routes\' tables');
    await set.ensureTablesAhead(Date.UTC(2025, 0, 31, 23, 30) / 1000);
    await set.close();
    assert.ok(store.tables.has('sip_capture_rest_20250201'));
  });

  test('storageStats: queue, spool and flags per database', async () => {
    const store = new FakeStore();
    const cfg = config();
    const { set } = await open(store, cfg);
    const [s] = set.storageStats();
    assert.equal(s!.db, 'fake://db');
    assert.equal(s!.queueDepth, 0);
    assert.equal(s!.spool!.dir, spoolDirFor(cfg.spool_dir, URL));
    assert.equal(s!.spool!.maxBytes, 1024 ** 3);
    assert.equal(s!.values, null);
    await set.close();
  });

  test('spool_max_bytes 0: no spool; unwritable rows are counted db_error', async () => {
    const store = new FakeStore();
    const cfg = config({ spool_max_bytes: 0 });
    const { set, stats, writer } = await open(store, cfg);
    assert.equal(set.storageStats()[0]!.spool, null);
    store.down = true;
    await enqueue(writer, 0, 20);
    await set.close();
    assert.equal(stats.droppedCount(DropReason.DB_ERROR), 20);
    assert.equal(existsSync(cfg.spool_dir), false);
  });
});
