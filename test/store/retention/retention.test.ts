/**
 * Retention with an injected clock on SQLite, PostgreSQL and MariaDB/MySQL (each in a namespace
 * of its own): Homer 5 daily tables dropped by the date in their name and their kind's days,
 * look-alike tables surviving, two pruners at once, the size guard (oldest first, never today's
 * table), `--dry-run`, and HOMER 7 partitions by their range; plus the daemon's schedule with its
 * metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { validateConfig } from '../../../src/config/load.js';
import type { SipcaptureConfig } from '../../../src/config/types.js';
import { createStore } from '../../../src/store/factory.js';
import { createHomer7Store } from '../../../src/store/homer7/index.js';
import { pruneAll } from '../../../src/store/retention/run.js';
import { pruneCommand } from '../../../src/commands/prune.js';
import { DatedTemplate } from '../../../src/store/retention/policy.js';
import { openRetentionDb } from '../../../src/store/retention/databases.js';
import { makeTmpDir, startTestDaemon } from '../../helpers/daemon.js';
import { runCli } from '../../helpers/cli.js';
import { MYSQL_URL, PG_URL, RUN, makeSipRows, skipReason } from '../postgres/helpers.js';

const NOW = Date.UTC(2026, 10, 20, 10, 30); // 2026-11-20 10:30 UTC
const DAY = 86_400_000;

function ymd(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');
}

/** Daily tables of the homer5 preset from 14 days ago to tomorrow, and look-alikes that must survive. */
function homer5Tables(): { daily: string[]; lookAlikes: string[] } {
  const daily: string[] = [];
  for (let d = -14; d <= 1; d++) for (const b of ['sip_capture_call', 'sip_capture_registration', 'sip_capture_rest']) daily.push(`${b}_${ymd(NOW + d * DAY)}`);
  const old = ymd(NOW - 30 * DAY);
  const lookAlikes = [
    `sip_capture_call_${old}_backup`,
    `my_sip_capture_call_${old}`,
    `sip_capture_calls_${old}`,
    `sip_capture_call_${old.slice(0, 7)}`,
    'sip_capture_call_20261399',
    'sip_capture_call_20260230',
    `sip_capture_call_x${old}`,
    'sip_capture',
    'rtcp_capture',
  ];
  return { daily, lookAlikes };
}

/** Which daily tables must go at NOW with retention_days 7, registration 2. */
function expectedAgeDrops(daily: readonly string[]): string[] {
  return daily
    .filter((t) => {
      const day = Date.UTC(+t.slice(-8, -4), +t.slice(-4, -2) - 1, +t.slice(-2));
      const keep = t.includes('registration') ? 2 : 7;
      return day + DAY <= NOW - keep * DAY;
    })
    .sort();
}

function configFor(url: string, extra: Record<string, unknown> = {}): SipcaptureConfig {
  return validateConfig({ db_url: url, routes: 'homer5', retention_days: 7, retention_days_registration: 2, ...extra }, '/tmp/retention.json5');
}

async function createTables(url: string, names: readonly string[]): Promise<void> {
  const store = await createStore(url);
  try {
    for (const n of names) await store.ensureTable(n, n === 'rtcp_capture' ? 'rtcp' : 'sip');
  } finally {
    await store.close();
  }
}

async function listTables(url: string): Promise<string[]> {
  const db = await openRetentionDb(url);
  try {
    return (await db.listTables()).map((t) => t.name).sort();
  } finally {
    await db.close();
  }
}

test('dated templates: only names the template produces, with real dates', () => {
  const t = DatedTemplate.of('sip_capture_call_%Y%m%d', 'call')!;
  assert.deepEqual(t.match('sip_capture_call_20261101'), { name: 'sip_capture_call_20261101', kind: 'call', startMs: Date.UTC(2026, 10, 1), endMs: Date.UTC(2026, 10, 2) });
  for (const n of ['sip_capture_call_20261131', 'sip_capture_call_2026110', 'sip_capture_call_20261101_x', 'xsip_capture_call_20261101']) assert.equal(t.match(n), null, n);
  const hourly = DatedTemplate.of('h_%Y%m%d_%H', 'default')!;
  assert.equal(hourly.match('h_20261101_23')!.endMs - hourly.match('h_20261101_23')!.startMs, 3_600_000);
  assert.equal(DatedTemplate.of('sip_capture', 'call'), null);
  assert.equal(DatedTemplate.of('weekly_%Y_%W', 'call'), null);
});

interface Backend {
  name: string;
  skip: string | undefined;
  setup(): Promise<string>;
}

const pgSkip = await skipReason('postgres');
const mySkip = await skipReason('mysql');
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

let seq = 0;
const BACKENDS: Backend[] = [
  {
    name: 'sqlite',
    skip: undefined,
    setup() {
      const dir = makeTmpDir('sipcapture-retention-');
      cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
      return Promise.resolve(`sqlite://${path.join(dir, `r${seq++}.sqlite`)}`);
    },
  },
  {
    name: 'postgres',
    skip: pgSkip,
    async setup() {
      const schema = `ret_${RUN}_${seq++}`;
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`CREATE SCHEMA ${schema}`);
      await c.end();
      cleanups.push(async () => {
        const d = new pg.Client({ connectionString: PG_URL });
        await d.connect();
        await d.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await d.end();
      });
      return `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    },
  },
  {
    name: 'mysql',
    skip: mySkip,
    async setup() {
      const name = `ret_${RUN}_${seq++}`;
      const conn = await mysql.createConnection({ uri: MYSQL_URL });
      await conn.query(`CREATE DATABASE \`${name}\``);
      await conn.end();
      cleanups.push(async () => {
        const c = await mysql.createConnection({ uri: MYSQL_URL });
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
        await c.end();
      });
      const u = new URL(MYSQL_URL);
      u.pathname = `/${name}`;
      return u.toString();
    },
  },
];

for (const b of BACKENDS) {
  describe(`retention on ${b.name}`, { skip: b.skip }, () => {
    const { daily, lookAlikes } = homer5Tables();

    test('age: daily tables past their kind\'s days go, look-alikes and younger tables stay; dry run first', async () => {
      const url = await b.setup();
      await createTables(url, [...daily, ...lookAlikes]);
      const cfg = configFor(url);
      const want = expectedAgeDrops(daily);
      assert.ok(want.length > 20);

      const lines: string[] = [];
      assert.equal(await pruneCommand(cfg, { dryRun: true, nowMs: NOW, print: (l) => lines.push(l) }), true);
      assert.deepEqual(lines.filter((l) => l.includes('would drop ')).map((l) => /would drop (\S+)/.exec(l)![1]).sort(), want);
      assert.deepEqual(await listTables(url), [...daily, ...lookAlikes].sort(), 'a dry run drops nothing');

      const results = await pruneAll(cfg, { nowMs: NOW });
      assert.deepEqual(results.map((r) => r.drops.map((d) => d.name).sort()), [want]);
      assert.ok(results[0]!.drops.every((d) => d.reason === 'age'));
      const left = await listTables(url);
      for (const t of lookAlikes) assert.ok(left.includes(t), `look-alike ${t} survives`);
      assert.deepEqual(left.filter((t) => daily.includes(t)), daily.filter((t) => !want.includes(t)).sort());
      // A second pass finds nothing more.
      assert.deepEqual((await pruneAll(cfg, { nowMs: NOW }))[0]!.drops, []);
    });

    test('two pruners at once: every table dropped once, neither fails', async () => {
      const url = await b.setup();
      await createTables(url, daily);
      const cfg = configFor(url);
      const [a, c] = await Promise.all([pruneAll(cfg, { nowMs: NOW }), pruneAll(cfg, { nowMs: NOW })]);
      for (const r of [a[0]!, c[0]!]) assert.equal(r.error, undefined, r.error);
      const want = expectedAgeDrops(daily);
      const dropped = [...a[0]!.drops, ...c[0]!.drops].map((d) => d.name);
      // With a lock one pass does it all (the other is skipped); without one (SQLite) the drops are idempotent.
      assert.deepEqual([...new Set(dropped)].sort(), want);
      assert.deepEqual((await listTables(url)).sort(), daily.filter((t) => !want.includes(t)).sort());
    });

    test('size guard: over the limit, the oldest tables go first, never today\'s', async () => {
      const url = await b.setup();
      await createTables(url, daily);
      // Rows make the tables measurable.
      const store = await createStore(url);
      try {
        for (const t of daily) await store.insert({ table: t, kind: 'sip', rows: makeSipRows(40, 1, 4096) });
      } finally {
        await store.close();
      }
      const db = await openRetentionDb(url);
      const used = await db.usedBytes();
      await db.close();
      // Keep about half: retention by age off, a limit of half the current size.
      const limitMb = Math.max(1, Math.floor(used / 2 / 1048576));
      const cfg = configFor(url, { retention_days: 0, retention_days_registration: -1, retention_max_db_mb: limitMb });
      const r = (await pruneAll(cfg, { nowMs: NOW }))[0]!;
      assert.equal(r.error, undefined);
      assert.ok(r.drops.length > 0, `something dropped (used ${used}, limit ${limitMb} MiB)`);
      assert.ok(r.drops.every((d) => d.reason === 'size'));
      const days = r.drops.map((d) => d.name.slice(-8));
      assert.deepEqual(days, [...days].sort(), 'oldest first');
      assert.ok(!r.drops.some((d) => d.endMs > NOW), 'never today\'s or tomorrow\'s');
      const after = await openRetentionDb(url);
      const usedAfter = await after.usedBytes();
      await after.close();
      assert.ok(usedAfter <= limitMb * 1048576 || r.overLimit !== undefined, `under the limit after (${usedAfter})`);
    });
  });
}

describe('retention of HOMER 7 partitions by their range', { skip: pgSkip }, () => {
  test('partitions past their kind\'s days go; the parents, DEFAULT partitions and look-alikes stay', async () => {
    const url = await BACKENDS[1]!.setup();
    // Partitions for 2026-11-10 … 11-11 and for NOW's day, 2-hour steps.
    for (const at of [Date.UTC(2026, 10, 10, 12), NOW]) {
      const s = await createHomer7Store(url, { nowMs: () => at, aheadIntervalMs: 0 });
      await s.ensureAhead();
      await s.close();
    }
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('CREATE TABLE hep_proto_1_call_20261101_0000_old (x int)');
    await c.query('CREATE TABLE hep_proto_1_call_default PARTITION OF hep_proto_1_call DEFAULT');
    await c.end();
    const cfg = validateConfig({ db_url: url, schema: 'homer7', retention_days: 7, retention_days_logs: 9 }, '/tmp/r.json5');
    const r = (await pruneAll(cfg, { nowMs: NOW }))[0]!;
    assert.equal(r.error, undefined);
    const names = r.drops.map((d) => d.name);
    // NOW − 7 days = 11-13 10:30: all of 11-10, 11-11 and 11-12 (the ahead days of 11-10) go, except logs (9 days: up to 11-11 10:30).
    assert.ok(names.includes('hep_proto_1_call_20261110_0000') && names.includes('hep_proto_5_default_20261111_2200'));
    assert.ok(names.includes('hep_proto_100_default_20261110_0000') && !names.includes('hep_proto_100_default_20261111_1000'));
    assert.ok(names.includes('hep_proto_100_default_20261111_0800'));
    const left = await listTables(url);
    for (const t of ['hep_proto_1_call', 'hep_proto_1_call_default', 'hep_proto_1_call_20261101_0000_old', 'hep_proto_1_call_20261120_1000']) assert.ok(left.includes(t), t);
    assert.equal(r.drops.length, 5 * 24 + 12 + 5 /* logs: 11-10 all, 11-11 those ending by 10:00 */);
  });
});

test('SQLite free-disk guard: below the free space wanted, the old tables go oldest first, today\'s and tomorrow\'s stay', async () => {
  const url = await BACKENDS[0]!.setup();
  const { daily } = homer5Tables();
  await createTables(url, daily);
  // More free space than any disk has: everything old enough goes, and the pass says it is still short.
  const cfg = configFor(url, { retention_days: 0, retention_days_registration: -1, retention_min_free_disk_mb: 1073741824 });
  const r = (await pruneAll(cfg, { nowMs: NOW }))[0]!;
  assert.equal(r.error, undefined);
  const ended = daily.filter((t) => Date.UTC(+t.slice(-8, -4), +t.slice(-4, -2) - 1, +t.slice(-2)) + DAY <= NOW);
  assert.deepEqual(r.drops.map((d) => d.name).sort(), ended.sort());
  const order = r.drops.map((d) => d.endMs);
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
  assert.match(r.overLimit ?? '', /free on the database's disk and no table old enough left/);
  assert.deepEqual(await listTables(url), daily.filter((t) => !ended.includes(t)).sort());
});

test('sipcapture db prune through the CLI: --dry-run lists, then it drops; retention off says so', async () => {
  const dir = makeTmpDir('sipcapture-prune-cli-');
  cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  const url = `sqlite://${path.join(dir, 'c.sqlite')}`;
  // Tables dated by the real clock: the CLI prunes by now.
  const old = `sip_capture_call_${ymd(Date.now() - 20 * DAY)}`;
  const today = `sip_capture_call_${ymd(Date.now())}`;
  await createTables(url, [old, today, `${old}_keep`]);
  const file = path.join(dir, 'c.json5');
  writeFileSync(file, JSON.stringify({ db_url: url, routes: 'homer5', retention_days: 7 }));
  const dry = await runCli(['db', 'prune', '-c', file, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`would drop ${old} \\(call, older than its retention`));
  assert.match(dry.stdout, /1 table\(s\) would drop/);
  assert.deepEqual(await listTables(url), [old, `${old}_keep`, today].sort());
  const real = await runCli(['db', 'prune', '-c', file]);
  assert.equal(real.code, 0, real.stderr);
  assert.match(real.stdout, new RegExp(`dropped ${old} `));
  assert.deepEqual(await listTables(url), [`${old}_keep`, today].sort());
  writeFileSync(file, JSON.stringify({ db_url: url, routes: 'homer5' }));
  const off = await runCli(['db', 'prune', '-c', file]);
  assert.match(off.stdout, /retention is off/);
});

describe('the daemon prunes on its schedule, logs and counts every drop', () => {
  let d: Awaited<ReturnType<typeof startTestDaemon>> | undefined;
  before(async () => {
    // A SQLite daemon with yesterday-minus-ten tables already there.
    const dir = makeTmpDir('sipcapture-retention-daemon-');
    const url = `sqlite://${path.join(dir, 'capture.sqlite')}`;
    await createTables(url, [`sip_capture_call_${ymd(NOW - 10 * DAY)}`, `sip_capture_call_${ymd(NOW)}`, `sip_capture_call_${ymd(NOW - 10 * DAY)}_keep`]);
    d = await startTestDaemon({ db_url: url, routes: 'homer5', retention_days: 7 }, { nowMs: () => NOW });
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  });
  after(async () => {
    await d?.close();
  });

  test('dropped at start, logged, in metrics', async () => {
    await d!.daemon.retention.runOnce();
    const text = await (await fetch(`http://127.0.0.1:${d!.httpPort}/metrics`)).text();
    assert.match(text, /^sipcapture_retention_dropped_tables_total\{db="[^"]+",kind="call",reason="age"\} 1$/m);
    assert.match(text, /^sipcapture_retention_runs_total\{result="ok"\} [1-9]/m);
    assert.ok(d!.logs.some((l) => l.includes('retention: dropped') && l.includes(`sip_capture_call_${ymd(NOW - 10 * DAY)}"`)));
  });
});
