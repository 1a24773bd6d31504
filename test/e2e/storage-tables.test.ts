/**
 * Table selection on the real servers, end to end through one daemon that writes to PostgreSQL
 * and MariaDB at once (several capture modes, each with its own db_url):
 *   - `table_name=a|b|c` with mt_mode round_robin (in arrival order), hash on call_id and on
 *     from_user (standard CRC-32 of the value, modulo the number of tables), and rand;
 *   - strftime names per packet, from a capture mode's list and from a rule's own table;
 *   - packets dated far in the past or the future land in today's table (the window is
 *     table_date_window_days), keep their own date in the row, and are counted;
 *   - tables are created on first use: no row fails for a missing table.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { requireOrSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/net.js';
import { HepTcpSender, MYSQL_URL, PG_URL, RUN, mysqlNamespace, pgNamespace, reachable, startTestDaemon, type ReadRow } from '../store/_e2e.js';

const skip = requireOrSkip((await reachable(PG_URL, 5432)) && (await reachable(MYSQL_URL, 3306)), `PostgreSQL at ${PG_URL} and MariaDB at ${MYSQL_URL}`);

const DAY = 86_400;
const ymd = (sec: number): string => new Date(sec * 1000).toISOString().slice(0, 10).replaceAll('-', '');
const dateText = (sec: number): string => new Date(sec * 1000).toISOString().slice(0, 19).replace('T', ' ');

/** A SIP request with a chosen From user (the hash_source from_user case). */
function sip(method: string, callid: string, fromUser = 'alice'): string {
  return [
    `${method} sip:bob@example.com SIP/2.0`,
    `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-${callid.slice(0, 12)}`,
    `From: <sip:${fromUser}@example.com>;tag=ft1`,
    'To: <sip:bob@example.com>',
    `Call-ID: ${callid}`,
    `CSeq: 1 ${method}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

describe('storage: table selection on PostgreSQL and MariaDB at once', { skip }, () => {
  test('round_robin, hash (call_id, from_user), rand, strftime per packet, date window', { timeout: 120_000 }, async () => {
    const pgNs = await pgNamespace('tables');
    const myNs = await mysqlNamespace('tables');
    const pgUrl = pgNs.url();
    const myUrl = myNs.url();
    const d = await startTestDaemon({
      db_url: pgUrl,
      table_name: 't_a|t_b|t_c',
      mt_mode: 'round_robin',
      capture_mode: [
        `pghash=>db_url=${pgUrl};table_name=h_a|h_b|h_c;mt_mode=hash;hash_source=call_id`,
        `myrand=>db_url=${myUrl};table_name=r_a|r_b|r_c;mt_mode=rand`,
        `myfrom=>db_url=${myUrl};table_name=f_a|f_b;mt_mode=hash;hash_source=from_user`,
        `mydaily=>db_url=${myUrl};table_name=d_%Y%m%d;mt_mode=rand`,
      ],
      routes: [
        { method: ['INVITE'] },
        { method: ['REGISTER'], capture_mode: 'pghash' },
        { method: ['OPTIONS'], capture_mode: 'myrand' },
        { method: ['MESSAGE'], capture_mode: 'myfrom' },
        { method: ['SUBSCRIBE'], capture_mode: 'mydaily' },
        { method: ['NOTIFY'], table: 'N_%Y%m%d', capture_mode: 'pghash' },
      ],
      table_date_window_days: 30,
    });
    try {
      const now = Math.floor(Date.now() / 1000);
      const items: { text: string; tsSec: number; tsUsec?: number }[] = [];
      const id = (tag: string, i: number): string => `${tag}-${i}-${RUN}@h`;
      for (let i = 0; i < 30; i++) items.push({ text: sip('INVITE', id('rr', i)), tsSec: now, tsUsec: i });
      for (let i = 0; i < 30; i++) items.push({ text: sip('REGISTER', id('hc', i)), tsSec: now });
      for (let i = 0; i < 60; i++) items.push({ text: sip('OPTIONS', id('rand', i)), tsSec: now });
      for (let i = 0; i < 20; i++) items.push({ text: sip('MESSAGE', id('hf', i), `user${i * 7}`), tsSec: now });
      const daily = [now - 2 * DAY, now - DAY, now, now - 400 * DAY, now + 10 * DAY];
      daily.forEach((t, i) => items.push({ text: sip('SUBSCRIBE', id('day', i)), tsSec: t }));
      [now - DAY, now].forEach((t, i) => items.push({ text: sip('NOTIFY', id('rule', i)), tsSec: t }));
      const sender = await HepTcpSender.connect(d.port);
      await sender.send(items);
      await sender.close();

      const total = items.length;
      const rows = async (): Promise<ReadRow[]> => [...(await pgNs.readAll()), ...(await myNs.readAll())];
      assert.ok(await waitFor(async () => (await rows()).length >= total, 30_000, 200), 'every row stored');
      const all = await rows();
      assert.equal(all.length, total, 'exactly one row per message');
      const byCallid = new Map(all.map((r) => [r.callid, r]));
      const tableOf = (c: string): string => byCallid.get(c)?.table ?? '(missing)';

      // round_robin: the k-th INVITE (TCP keeps the order) goes to table k mod 3.
      for (let i = 0; i < 30; i++) assert.equal(tableOf(id('rr', i)), ['t_a', 't_b', 't_c'][i % 3], `INVITE #${i}`);
      // hash on call_id: CRC-32 of the Call-ID.
      for (let i = 0; i < 30; i++) {
        const c = id('hc', i);
        assert.equal(tableOf(c), ['h_a', 'h_b', 'h_c'][crc32(c) % 3], c);
      }
      // hash on from_user.
      for (let i = 0; i < 20; i++) assert.equal(tableOf(id('hf', i)), ['f_a', 'f_b'][crc32(`user${i * 7}`) % 2], `from user${i * 7}`);
      // rand: one of the three, and 60 rows reach every table.
      const randTables = new Map<string, number>();
      for (let i = 0; i < 60; i++) {
        const t = tableOf(id('rand', i));
        assert.ok(['r_a', 'r_b', 'r_c'].includes(t), t);
        randTables.set(t, (randTables.get(t) ?? 0) + 1);
      }
      assert.equal(randTables.size, 3, JSON.stringify([...randTables]));
      // strftime per packet (mode list, MariaDB), the window clamping only the table name.
      const expectDay = [ymd(now - 2 * DAY), ymd(now - DAY), ymd(now), ymd(now), ymd(now)];
      daily.forEach((t, i) => {
        const r = byCallid.get(id('day', i));
        assert.equal(r?.table, `d_${expectDay[i]}`, `SUBSCRIBE dated ${dateText(t)}`);
        assert.equal(r?.date, dateText(t), 'the row keeps the packet time');
      });
      assert.equal(d.daemon.routing().tableDateClamped, 2, 'the far past and future packets are counted');
      // A rule's own strftime table (PostgreSQL folds the name to lower case).
      assert.equal(tableOf(id('rule', 0)), `n_${ymd(now - DAY)}`);
      assert.equal(tableOf(id('rule', 1)), `n_${ymd(now)}`);
      // Both databases were written by the one daemon.
      assert.ok(all.some((r) => r.table === 't_a') && all.some((r) => r.table === 'r_a'));
      assert.deepEqual(d.daemon.stats.snapshot().dropped, {});
    } finally {
      await d.stop();
      await pgNs.drop();
      await myNs.drop();
    }
  });
});
