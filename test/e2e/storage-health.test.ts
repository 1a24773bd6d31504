/**
 * /health tells the truth about the databases from the start: a refused user or password, a
 * database that does not exist and an unreachable host make it 503 `unhealthy` with the reason
 * at once (and an ERROR is logged at once), not only after the first row fails; a PostgreSQL
 * backend frozen with SIGSTOP while rows wait makes it `degraded` within ~10 s, and it is `ok`
 * again once the backend runs and the rows are committed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { requireOrSkip } from '../helpers/env.js';
import { freePort, sendUdp, waitFor } from '../helpers/net.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { uniqueOptionsHep } from '../helpers/sip-messages.js';
import { MYSQL_URL, PG_URL, pgNamespace, reachable } from '../store/_e2e.js';
import { TcpProxy } from '../store/_tcp-proxy.js';

interface Health {
  code: number;
  status: string;
  reasons: string[];
}

async function health(t: TestDaemon): Promise<Health> {
  const res = await fetch(`http://127.0.0.1:${t.httpPort}/health`);
  const body = (await res.json()) as { status: string; reasons?: string[] };
  return { code: res.status, status: body.status, reasons: body.reasons ?? [] };
}

const errorLogs = (t: TestDaemon): string[] =>
  t.logs.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 50).map((l) => l.msg);

async function unhealthyAtStart(dbUrl: string, reason: RegExp): Promise<void> {
  const startedAt = Date.now();
  const t = await startTestDaemon({ db_url: dbUrl });
  try {
    assert.ok(await waitFor(async () => (await health(t)).status === 'unhealthy', 8000), 'unhealthy before any row is sent');
    const h = await health(t);
    assert.equal(h.code, 503);
    assert.equal(h.reasons.length, 1, h.reasons.join('; '));
    assert.match(h.reasons[0]!, reason);
    const errors = errorLogs(t);
    assert.equal(errors.length, 1, 'one ERROR, logged once');
    assert.match(errors[0]!, reason);
    assert.ok(Date.now() - startedAt < 8000);
  } finally {
    await t.close();
  }
}

const pgSkip = requireOrSkip(await reachable(PG_URL, 5432), `PostgreSQL at ${PG_URL}`);
const myNoSkip = requireOrSkip(await reachable(MYSQL_URL, 3306), `MariaDB at ${MYSQL_URL}`);

describe('/health at start: the database refuses, does not exist, or cannot be reached', () => {
  test('an unreachable host', async () => {
    await unhealthyAtStart(`postgres://postgres@127.0.0.1:${await freePort()}/hbad`, /cannot be reached \(ECONNREFUSED/);
  });

  test('a PostgreSQL database that does not exist', { skip: pgSkip }, async () => {
    const u = new URL(PG_URL);
    u.pathname = '/sipcapture_no_such_db';
    await unhealthyAtStart(u.toString(), /does not exist \(3D000: database "sipcapture_no_such_db" does not exist\)/);
  });

  test('MariaDB refuses the user and password', { skip: myNoSkip }, async () => {
    const u = new URL(MYSQL_URL);
    u.username = 'sipcapture_no_such_user';
    u.password = 'wrong';
    await unhealthyAtStart(u.toString(), /refused the user or password \(ER_ACCESS_DENIED/);
  });

  test('a MariaDB database that does not exist', { skip: myNoSkip }, async () => {
    const u = new URL(MYSQL_URL);
    u.pathname = '/sipcapture_no_such_db';
    await unhealthyAtStart(u.toString(), /does not exist \(ER_BAD_DB_ERROR/);
  });
});

const isRoot = process.getuid?.() === 0;
const frozenSkip = pgSkip || requireOrSkip(isRoot, 'root (to SIGSTOP a PostgreSQL backend)');

describe('/health with a hung database', { skip: frozenSkip }, () => {
  test('PostgreSQL backends frozen while rows wait: degraded within ~10 s, ok again after', { timeout: 60_000 }, async () => {
    const ns = await pgNamespace('health');
    const target = new URL(PG_URL);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    const t = await startTestDaemon({ db_url: ns.url(proxy.port), routes: 'homer5', spool_after_batches: 0, insert_retries: 5 });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    let pids: number[] = [];
    try {
      const first = Array.from({ length: 20 }, (_, i) => uniqueOptionsHep(`health-a${i}`));
      await sendUdp(first.map((p) => p.packet), t.port);
      assert.ok(await waitFor(async () => (await ns.callids()).length === 20, 10_000));
      assert.equal((await health(t)).status, 'ok');

      const res = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])', [proxy.upstreamPorts()]);
      pids = res.rows.map((r) => r.pid);
      assert.ok(pids.length > 0, 'the daemon has connections');
      for (const pid of pids) assert.equal(spawnSync('kill', ['-STOP', String(pid)]).status, 0);
      const frozenAt = Date.now();
      const second = Array.from({ length: 20 }, (_, i) => uniqueOptionsHep(`health-b${i}`));
      await sendUdp(second.map((p) => p.packet), t.port);
      assert.ok(await waitFor(async () => (await health(t)).status === 'degraded', 20_000, 250), 'degraded');
      const degradedAfter = Date.now() - frozenAt;
      const h = await health(t);
      assert.equal(h.code, 503);
      assert.match(h.reasons[0]!, /nothing committed for 1\d s while \d+ rows wait/);
      assert.ok(degradedAfter >= 9000 && degradedAfter < 16_000, `degraded after ${degradedAfter} ms`);

      for (const pid of pids) spawnSync('kill', ['-CONT', String(pid)]);
      pids = [];
      assert.ok(await waitFor(async () => (await ns.callids()).length === 40, 30_000), 'the waiting rows are committed');
      assert.ok(await waitFor(async () => (await health(t)).status === 'ok', 5000), 'ok again');
    } finally {
      for (const pid of pids) spawnSync('kill', ['-CONT', String(pid)]);
      await t.close();
      await proxy.close();
      await admin.end();
    }
  });
});
