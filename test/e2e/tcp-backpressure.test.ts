/**
 * TCP backpressure against a real daemon and PostgreSQL: the database's backends are frozen
 * (SIGSTOP) while an agent keeps sending over TCP, honouring its socket's backpressure as agents
 * do. The daemon stops reading the connection once its queue is three quarters full, so the
 * agent is slowed by TCP's flow control instead of its rows being dropped as queue_full; when
 * the backends run again, reading resumes and every frame sent is stored, nothing dropped.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import pg from 'pg';
import { isStreamListener } from '../../src/listeners/from-config.js';
import { requireOrSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/net.js';
import { uniqueOptionsHep } from '../helpers/sip-messages.js';
import { PG_URL, pgNamespace, reachable, startTestDaemon } from '../store/_e2e.js';
import { TcpProxy } from '../store/_tcp-proxy.js';

const isRoot = process.getuid?.() === 0;
const skip = requireOrSkip(await reachable(PG_URL, 5432), `PostgreSQL at ${PG_URL}`) || requireOrSkip(isRoot, 'root (to SIGSTOP a PostgreSQL backend)');

/** Writes every buffer, waiting for 'drain' whenever the socket's buffer is full; counts what went out. */
async function sendAll(sock: net.Socket, packets: readonly Buffer[], progress: { written: number }): Promise<void> {
  for (const p of packets) {
    if (!sock.write(p)) await new Promise<void>((resolve) => sock.once('drain', resolve));
    progress.written++;
  }
}

describe('TCP backpressure', { skip }, () => {
  test('a frozen database pauses TCP reading: the agent waits, nothing is dropped, everything is stored after', { timeout: 120_000 }, async () => {
    const ns = await pgNamespace('backpressure');
    const target = new URL(PG_URL);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    const d = await startTestDaemon({ db_url: ns.url(proxy.port), routes: 'homer5', queue_max_rows: 4000, batch_size: 200, spool_after_batches: 0, insert_retries: 10 });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const listener = d.daemon.listeners.find(isStreamListener);
    assert.ok(listener);
    const sock = net.createConnection({ port: d.port, host: '127.0.0.1' });
    await new Promise<void>((resolve) => sock.once('connect', resolve));
    let pids: number[] = [];
    try {
      const warmup = Array.from({ length: 200 }, (_, i) => uniqueOptionsHep(`bp-warm-${i}`).packet);
      await sendAll(sock, warmup, { written: 0 });
      assert.ok(await waitFor(async () => (await ns.callids()).length === 200, 15_000), 'warm-up stored');

      const res = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])', [proxy.upstreamPorts()]);
      pids = res.rows.map((r) => r.pid);
      for (const pid of pids) assert.equal(spawnSync('kill', ['-STOP', String(pid)]).status, 0);

      const flood = Array.from({ length: 30_000 }, (_, i) => uniqueOptionsHep(`bp-${i}`).packet);
      const progress = { written: 0 };
      const sending = sendAll(sock, flood, progress);
      assert.ok(await waitFor(() => listener.pausedConnections === 1, 20_000, 20), 'the connection is paused');
      await new Promise((r) => setTimeout(r, 2000));
      const stats = d.daemon.stats.snapshot();
      assert.ok(progress.written < flood.length, `the agent is slowed: ${progress.written} of ${flood.length} written`);
      assert.equal(listener.pausedConnections, 1, 'still paused while the database is frozen');
      assert.deepEqual(stats.dropped, {}, 'nothing dropped');

      for (const pid of pids) spawnSync('kill', ['-CONT', String(pid)]);
      pids = [];
      await sending;
      assert.ok(await waitFor(async () => (await ns.callids()).length === 30_200, 90_000, 500), `stored ${(await ns.callids()).length} of 30200`);
      assert.deepEqual(d.daemon.stats.snapshot().dropped, {}, 'nothing dropped');
      assert.equal(listener.pausedConnections, 0);
    } finally {
      for (const pid of pids) spawnSync('kill', ['-CONT', String(pid)]);
      sock.destroy();
      await d.stop();
      await proxy.close();
      await admin.end();
    }
  });
});
