/**
 * SIGTERM while the database hangs: a second session holds an exclusive lock on the capture
 * table (PostgreSQL `LOCK TABLE … ACCESS EXCLUSIVE`, MariaDB `LOCK TABLES … WRITE`), so every
 * insert waits forever. The daemon (a child process running `sipcapture run`) must still stop
 * in time with exit code 0 and its final stats line, having given up the inserts in flight and
 * spooled them with everything still queued; after the lock is gone, a restart replays the spool
 * and every message sent is in the table exactly once.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { startDaemonProcess, type DaemonProcess } from '../helpers/cli.js';
import { requireOrSkip } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';
import { HepTcpSender, MYSQL_URL, PG_URL, RUN, faultTestConfig, mysqlNamespace, pgNamespace, reachable, tally, type Namespace } from '../store/_e2e.js';

/** ~1000 messages/s for `ms`. */
async function sendFor(sender: HepTcpSender, ms: number, tag: string, sent: string[]): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const now = Date.now();
    const items = Array.from({ length: 20 }, () => {
      const callid = `${tag}-${RUN}-${sent.length}`;
      sent.push(callid);
      return { text: sipRequest('INVITE', callid).text, tsSec: Math.floor(now / 1000), tsUsec: (now % 1000) * 1000 };
    });
    await sender.send(items);
    await sleep(20);
  }
}

/** A session holding an exclusive lock on the namespace's sip_capture until `release()`. */
interface TableLock {
  release(): Promise<void>;
}

async function lockPg(ns: Namespace): Promise<TableLock> {
  const client = new pg.Client({ connectionString: ns.url() });
  client.on('error', () => {});
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE sip_capture IN ACCESS EXCLUSIVE MODE');
  return {
    async release(): Promise<void> {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

async function lockMysql(ns: Namespace): Promise<TableLock> {
  const conn = await mysql.createConnection({ uri: ns.url() });
  await conn.query('LOCK TABLES sip_capture WRITE');
  return {
    async release(): Promise<void> {
      await conn.query('UNLOCK TABLES');
      await conn.end();
    },
  };
}

const BACKENDS = [
  { kind: 'postgres', ns: pgNamespace, lock: lockPg, skip: requireOrSkip(await reachable(PG_URL, 5432), `PostgreSQL at ${PG_URL}`) },
  { kind: 'mysql', ns: mysqlNamespace, lock: lockMysql, skip: requireOrSkip(await reachable(MYSQL_URL, 3306), `MariaDB at ${MYSQL_URL}`) },
];

for (const b of BACKENDS) {
  describe(`SIGTERM with a hung database (${b.kind})`, { skip: b.skip }, () => {
    test('exit 0 within the deadline, final stats line, in-flight and queued rows spooled; after the lock, every message stored once', { timeout: 120_000 }, async () => {
      const ns = await b.ns('hung_stop');
      const dir = mkdtempSync(join(tmpdir(), 'sipcapture-hung-stop-'));
      const port = await freePort();
      const spoolDir = join(dir, 'spool');
      const configFile = join(dir, 'sipcapture.json5');
      writeFileSync(configFile, faultTestConfig(ns.url(), port, spoolDir));
      let child: DaemonProcess | null = null;
      let lock: TableLock | null = null;
      try {
        child = await startDaemonProcess(configFile);
        const sender = await HepTcpSender.connect(port);
        const sent: string[] = [];
        await sendFor(sender, 1000, 'before', sent);
        await waitFor(async () => (await ns.callids()).length > 0, 20_000, 50);
        lock = await b.lock(ns);
        await sendFor(sender, 2000, 'locked', sent);
        await sleep(500);
        const t0 = Date.now();
        child.proc.kill('SIGTERM');
        const code = await child.exited;
        const stopMs = Date.now() - t0;
        const lines = child.lines;
        child = null;
        await sender.close().catch(() => {});
        assert.equal(code, 0, `exit code (stop took ${stopMs} ms)`);
        assert.ok(stopMs < 15_000, `stopped in ${stopMs} ms`);
        const last = lines.map((l) => JSON.parse(l) as { msg?: string; stats?: { dropped?: Record<string, number> } }).find((l) => l.msg === 'stopped');
        assert.ok(last?.stats !== undefined, 'the final stats line is written');
        const dropped = last.stats.dropped ?? {};
        const spooled = readdirSync(spoolDir, { recursive: true }).filter((f) => String(f).endsWith('.spool'));
        assert.ok(spooled.length > 0, `the rows the locked table did not take are in the spool; log:\n${lines.filter((l) => !l.includes('listening')).slice(-12).join('\n')}`);

        await lock.release();
        lock = null;
        child = await startDaemonProcess(configFile);
        await waitFor(async () => (await ns.callids()).length >= sent.length, 60_000, 200);
        await sleep(500);
        child.proc.kill('SIGTERM');
        assert.equal(await child.exited, 0);
        child = null;
        const stored = await ns.callids();
        const { duplicates } = tally(stored.map((callid) => ({ callid })));
        const storedSet = new Set(stored);
        const missing = sent.filter((c) => !storedSet.has(c));
        process.stdout.write(
          `SIGTERM, ${b.kind} table locked: sent ${sent.length}, stored ${stored.length}, duplicates ${duplicates.length}, missing ${missing.length}, ` +
            `stop ${stopMs} ms, dropped at the stop ${JSON.stringify(dropped)}\n`,
        );
        assert.deepEqual(duplicates.slice(0, 5), [], `${duplicates.length} duplicated`);
        assert.equal(missing.length, 0, `missing ${missing.length}, e.g. ${missing.slice(0, 3).join(', ')}`);
        assert.deepEqual(dropped, {}, 'nothing counted lost');
      } finally {
        child?.proc.kill('SIGKILL');
        await child?.exited;
        await lock?.release().catch(() => {});
        await ns.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
