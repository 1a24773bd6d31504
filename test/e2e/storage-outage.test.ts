/**
 * A database outage under load, end to end through the real daemon: HEP3 flows over TCP at
 * ~400 messages/s while a TCP proxy between the daemon and the server (PostgreSQL, then MariaDB)
 * cuts every connection and refuses new ones for 32 s, then lets them through again. Every
 * message sent must then be in the database exactly once, with nothing counted as dropped; the
 * rows of the outage went through the on-disk spool. Also: a database that is down when the
 * daemon starts (Kamailio exits then) only delays the rows; a poisoned row (a trigger rejects
 * it) loses only itself and is counted db_error, on both servers.
 *
 * Each test uses its own PostgreSQL schema / MariaDB database and its own proxy port, so other
 * tests sharing the servers are not disturbed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { requireOrSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';
import { HepTcpSender, MYSQL_URL, PG_URL, RUN, mysqlNamespace, pgNamespace, reachable, startTestDaemon, tally, type Namespace } from '../store/_e2e.js';
import { TcpProxy } from '../store/_tcp-proxy.js';

const OUTAGE_MS = Number(process.env['SIPCAPTURE_OUTAGE_MS'] ?? 32_000);
/** Messages per tick and tick length: 10 per 25 ms ≈ 400 messages/s. */
const PER_TICK = 10;
const TICK_MS = 25;

const BACKENDS = [
  { kind: 'postgres' as const, url: PG_URL, port: 5432, ns: pgNamespace },
  { kind: 'mysql' as const, url: MYSQL_URL, port: 3306, ns: mysqlNamespace },
];

const METHODS = ['INVITE', 'REGISTER', 'OPTIONS', 'BYE', 'SUBSCRIBE'];

for (const b of BACKENDS) {
  const skip = requireOrSkip(await reachable(b.url, b.port), `${b.kind} at ${b.url}`);

  describe(`storage on ${b.kind}: outage and poisoned rows`, { skip }, () => {
    test(`the database is unreachable for ${OUTAGE_MS / 1000} s under load: every message stored exactly once`, { timeout: OUTAGE_MS + 180_000 }, async () => {
      const ns: Namespace = await b.ns('outage');
      const target = new URL(b.url);
      const proxy = await TcpProxy.start(target.hostname, Number(target.port || b.port));
      // The shipped config's retry settings: 5 retries with back-off, then the spool.
      const d = await startTestDaemon({ db_url: ns.url(proxy.port), routes: 'homer5', insert_retries: 5, insert_retry_timeout: 60, batch_timeout_ms: 100 });
      const sender = await HepTcpSender.connect(d.port);
      const sent: string[] = [];
      let sending = 0;
      const sendFor = async (ms: number): Promise<void> => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          const now = Date.now();
          const items = Array.from({ length: PER_TICK }, () => {
            const i = sending++;
            const callid = `outage-${RUN}-${i}@192.0.2.10`;
            sent.push(callid);
            return { text: sipRequest(METHODS[i % METHODS.length]!, callid).text, tsSec: Math.floor(now / 1000), tsUsec: (now % 1000) * 1000 };
          });
          await sender.send(items);
          await sleep(TICK_MS);
        }
      };
      try {
        const t0 = Date.now();
        await sendFor(4000);
        const cutAt = Date.now();
        await proxy.cut();
        await sendFor(OUTAGE_MS);
        await proxy.restore();
        const outageMs = Date.now() - cutAt;
        await sendFor(6000);
        const sendSeconds = (Date.now() - t0) / 1000;
        await sender.close();

        const all = await waitFor(async () => (await ns.callids()).length >= sent.length, 120_000, 500);
        await sleep(1500); // a duplicate (e.g. a replay racing live traffic) would show up by now
        const stored = await ns.callids();
        const { distinct, duplicates } = tally(stored.map((callid) => ({ callid })));
        const storedSet = new Set(stored);
        const lost = sent.filter((c) => !storedSet.has(c));
        const st = d.daemon.storage.storageStats()[0]!;
        const line =
          `outage ${b.kind}: sent ${sent.length} (${(sent.length / sendSeconds).toFixed(0)} msg/s), stored ${stored.length}, ` +
          `distinct ${distinct}, duplicates ${duplicates.length}, lost ${lost.length}, outage ${outageMs} ms, ` +
          `spooled ${st.spool?.appendedRows ?? 0} rows, replayed ${st.spool?.replayedRows ?? 0}, proxy connections ${proxy.accepted}`;
        process.stdout.write(`${line}\n`);
        assert.ok(all, `only ${stored.length} of ${sent.length} rows arrived`);
        assert.ok(outageMs >= 30_000 || OUTAGE_MS < 30_000, `outage lasted ${outageMs} ms`);
        assert.deepEqual(lost.slice(0, 5), [], `${lost.length} messages lost`);
        assert.deepEqual(duplicates.slice(0, 5), [], `${duplicates.length} duplicated`);
        assert.equal(stored.length, sent.length);
        assert.deepEqual(d.daemon.stats.snapshot().dropped, {}, 'nothing counted as dropped');
        assert.ok((st.spool?.appendedRows ?? 0) > 0, 'the outage went through the spool');
        assert.equal(st.spool?.replayedRows, st.spool?.appendedRows, 'everything spooled was replayed');
        assert.equal(st.spool?.pendingBytes, 0);
      } finally {
        await d.stop();
        await proxy.close();
        await ns.drop();
      }
    });

    test('the database is unreachable when the daemon starts: it starts, spools, and catches up', { timeout: 60_000 }, async () => {
      const ns = await b.ns('startdown');
      const target = new URL(b.url);
      const proxy = await TcpProxy.start(target.hostname, Number(target.port || b.port));
      await proxy.cut();
      const d = await startTestDaemon({ db_url: ns.url(proxy.port), routes: 'homer5', insert_retries: 2 });
      try {
        const sender = await HepTcpSender.connect(d.port);
        const now = Math.floor(Date.now() / 1000);
        const ids = Array.from({ length: 500 }, (_, i) => `startdown-${RUN}-${i}`);
        for (let i = 0; i < ids.length; i += 50) {
          await sender.send(ids.slice(i, i + 50).map((callid, k) => ({ text: sipRequest(METHODS[(i + k) % METHODS.length]!, callid).text, tsSec: now })));
          await sleep(200);
        }
        await sender.close();
        assert.ok(await waitFor(() => (d.daemon.storage.storageStats()[0]!.spool?.appendedRows ?? 0) === ids.length, 20_000), 'all spooled');
        await proxy.restore();
        assert.ok(await waitFor(async () => (await ns.callids()).length >= ids.length, 30_000, 250), 'replayed');
        const stored = await ns.callids();
        assert.deepEqual([...stored].sort(), [...ids].sort(), 'every message exactly once');
        assert.deepEqual(d.daemon.stats.snapshot().dropped, {});
      } finally {
        await d.stop();
        await proxy.close();
        await ns.drop();
      }
    });

    test('a poisoned row (a trigger rejects it) loses only itself, counted db_error', { timeout: 60_000 }, async () => {
      const ns = await b.ns('poison');
      const d0 = await startTestDaemon({ db_url: ns.url(), routes: 'default', table_name: 'sip_capture' });
      try {
        // Create the table through the daemon's store, then arm the trigger.
        await d0.daemon.storage.ensureTablesAhead();
        if (b.kind === 'postgres') {
          await ns.exec(
            `CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN IF NEW.callid LIKE 'poison%' THEN RAISE EXCEPTION 'poisoned row %', NEW.callid; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
          );
          await ns.exec('CREATE TRIGGER poison BEFORE INSERT ON sip_capture FOR EACH ROW EXECUTE FUNCTION poison()');
        } else {
          await ns.exec(
            "CREATE TRIGGER poison BEFORE INSERT ON sip_capture FOR EACH ROW BEGIN IF NEW.callid LIKE 'poison%' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poisoned row'; END IF; END",
          );
        }
        const sender = await HepTcpSender.connect(d0.port);
        const now = Math.floor(Date.now() / 1000);
        const ids = Array.from({ length: 300 }, (_, i) => (i === 7 || i === 222 ? `poison-${RUN}-${i}` : `good-${RUN}-${i}`));
        await sender.send(ids.map((callid) => ({ text: sipRequest('INVITE', callid).text, tsSec: now })));
        await sender.close();
        const ok = await waitFor(() => d0.daemon.stats.snapshot().stored['sip_capture'] === 298 && d0.daemon.stats.droppedCount(DropReason.DB_ERROR) === 2, 20_000);
        const stored = await ns.callids();
        assert.ok(ok, `stored ${stored.length}, db_error ${d0.daemon.stats.droppedCount(DropReason.DB_ERROR)}`);
        assert.deepEqual([...stored].sort(), ids.filter((c) => c.startsWith('good')).sort(), 'every good row once');
        assert.equal(d0.daemon.storage.storageStats()[0]!.spool!.appendedRows, 0, 'a poisoned row is not spooled');
        assert.deepEqual(Object.keys(d0.daemon.stats.snapshot().dropped), [DropReason.DB_ERROR]);
      } finally {
        await d0.stop();
        await ns.drop();
      }
    });
  });
}
