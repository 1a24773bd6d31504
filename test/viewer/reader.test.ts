/**
 * The read side on the three real backends: a daemon stores a scripted call (B2BUA legs, an
 * X-CID leg, a retransmission, RTCP and a log line) that crosses midnight UTC — so it spans two
 * daily tables — with BYE transactions routed to a second capture mode's table; the reader
 * (its own read-only connections) must find every message of every leg in order, the RTCP and
 * log rows, and answer each search filter.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { requireOrSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/net.js';
import { MYSQL_URL, PG_URL, mysqlNamespace, pgNamespace, reachable, sqliteNamespace, startTestDaemon, type Namespace, type TestDaemon } from '../store/_e2e.js';
import { openCallReader } from '../../src/viewer/open-reader.js';
import { openSqlRunner } from '../../src/viewer/sql-runner.js';
import type { CallReader } from '../../src/viewer/types.js';
import { BOB, scriptedCall, sendHepTcp, sidePackets, type ScriptedPacket } from './_calls.js';

const pgUp = await reachable(PG_URL, 5432);
const myUp = await reachable(MYSQL_URL, 3306);
const midnightUs = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()) * 1000;
const T0 = midnightUs - 2_500_000;
const ymd = (us: number): string => new Date(us / 1000).toISOString().slice(0, 10).replaceAll('-', '');

const backends: [string, () => Promise<Namespace>, string | false][] = [
  ['sqlite', () => Promise.resolve(sqliteNamespace()), false],
  ['postgres', () => pgNamespace('viewer'), requireOrSkip(pgUp, `PostgreSQL at ${PG_URL}`)],
  ['mysql', () => mysqlNamespace('viewer'), requireOrSkip(myUp, `MariaDB at ${MYSQL_URL}`)],
];

for (const [name, makeNs, skip] of backends) {
  describe(`viewer reader: ${name}`, { skip }, () => {
    let ns: Namespace;
    let d: TestDaemon;
    let reader: CallReader;
    const callId = `call-${name}-${Date.now()}@viewer.test`;
    const call = scriptedCall({ callId, t0Us: T0 });
    const sipCount = call.length;
    const range = { fromUs: T0 - 60_000_000, toUs: T0 + 60_000_000 };

    before(async () => {
      ns = await makeNs();
      const url = ns.url();
      d = await startTestDaemon({
        db_url: url,
        capture_mode: [`alt=>db_url=${url};table_name=sip_capture_bye;mt_mode=rand`],
        routes: [
          { method: ['BYE'], capture_mode: 'alt' },
          { method: ['INVITE', 'ACK', 'CANCEL'], table: 'sip_capture_call_%Y%m%d' },
          { table: 'sip_capture_rest_%Y%m%d' },
        ],
      });
      await sendHepTcp(d.port, [...call, ...sidePackets(callId, T0)]);
      assert.ok(await waitFor(async () => (await ns.callids()).length >= sipCount, 20_000), `rows stored: ${(await ns.callids()).length}`);
      reader = await openCallReader(d.daemon.config);
    });

    after(async () => {
      await reader?.close();
      await d?.stop();
      await ns?.drop();
    });

    test('the rows span two daily tables and the second capture mode', async () => {
      const tables = await ns.tables();
      for (const t of [`sip_capture_call_${ymd(T0)}`, `sip_capture_call_${ymd(midnightUs)}`, 'sip_capture_bye']) assert.ok(tables.includes(t), `${t} in ${tables.join(',')}`);
    });

    test('callFlow: every message of every leg, in time order, with RTCP and log rows', async () => {
      const flow = await reader.callFlow(callId, range);
      const got = flow.messages.map((m) => `${m.callid} ${m.method} ${m.sourceIp}>${m.destinationIp} ${m.microTs}`);
      const want = call.map((p: ScriptedPacket) => `${p.callId} ${p.label.split(' ')[0]} ${p.src.ip}>${p.dst.ip} ${p.atUs}`);
      assert.deepEqual(got, want);
      assert.deepEqual(new Set(flow.callIds), new Set([callId, `${callId}_b2b-1`, `rec-${callId}`]));
      assert.equal(flow.callIds[0], callId);
      assert.ok(flow.messages[0]!.msg.startsWith('INVITE sip:bob@example.com SIP/2.0\r\n'));
      assert.deepEqual(flow.side.map((s) => [s.kind, s.correlationId]), [['rtcp', callId], ['logs', callId]]);
      assert.equal(flow.truncated, false);
      // Asked by the B leg, the same call comes back.
      const fromB = await reader.callFlow(`${callId}_b2b-1`, range);
      assert.equal(fromB.messages.length, sipCount);
    });

    test('callFlow outside the time range finds nothing', async () => {
      const flow = await reader.callFlow(callId, { fromUs: T0 - 7_200_000_000, toUs: T0 - 3_600_000_000 });
      assert.equal(flow.messages.length, 0);
    });

    test('search: each filter', async () => {
      const q = { ...range, limit: 100 };
      const byCall = await reader.search({ ...q, callId });
      // The A leg (8 messages) and the recorder INVITE, whose X-CID names the call.
      assert.equal(byCall.messages.length, 9);
      assert.ok(byCall.messages.every((m) => m.callid === callId || m.callidAleg === callId));
      assert.deepEqual((await reader.search({ ...q, method: '180' })).messages.map((m) => m.callid).sort(), [callId, `${callId}_b2b-1`].sort());
      assert.equal((await reader.search({ ...q, method: 'BYE' })).messages.length, 2);
      assert.equal((await reader.search({ ...q, sourceIp: BOB.ip })).messages.length, 3);
      assert.equal((await reader.search({ ...q, destinationIp: BOB.ip })).messages.length, 3);
      assert.equal((await reader.search({ ...q, fromUser: 'alice' })).messages.length, sipCount);
      assert.equal((await reader.search({ ...q, fromUser: 'ali*' })).messages.length, sipCount);
      assert.equal((await reader.search({ ...q, fromUser: 'al_ce' })).messages.length, 0, '_ is not a wildcard');
      assert.equal((await reader.search({ ...q, toUser: 'bob', ruriUser: 'bob', method: 'INVITE' })).messages.length, 4);
      assert.equal((await reader.search({ ...q, node: 'homer01:2001' })).messages.length, sipCount);
      assert.equal((await reader.search({ ...q, node: 'other' })).messages.length, 0);
      const ua = await reader.search({ ...q, userAgent: 'test-phone' });
      assert.ok(ua.messages.length >= 8 && ua.messages.every((m) => m.userAgent.includes('test-phone')), JSON.stringify(ua.messages.map((m) => m.userAgent)));
    });

    test('search: newest first, bounded by limit, and says when it cut', async () => {
      const all = await reader.search({ ...range, limit: 100 });
      assert.equal(all.messages.length, sipCount);
      assert.equal(all.truncated, false);
      const times = all.messages.map((m) => m.microTs);
      assert.deepEqual(times, [...times].sort((a, b) => b - a));
      const five = await reader.search({ ...range, limit: 5 });
      assert.equal(five.messages.length, 5);
      assert.equal(five.truncated, true);
      assert.deepEqual(five.messages, all.messages.slice(0, 5));
      await assert.rejects(reader.search({ fromUs: 10, toUs: 5, limit: 5 }), RangeError);
      await assert.rejects(reader.search({ fromUs: 0, toUs: 40 * 86_400_000_000, limit: 5 }), RangeError);
    });

    test('the read connections cannot write', async () => {
      const runner = await openSqlRunner(ns.url(), { timeoutMs: 5000 });
      try {
        // RETURNING: better-sqlite3 would refuse a statement without a result before running it.
        const returning = runner.dialect === 'sqlite' ? ' RETURNING id' : '';
        await assert.rejects(runner.query(`INSERT INTO sip_capture_bye (callid) VALUES ('written by the viewer')${returning}`, []), /read.?only|readonly/i);
      } finally {
        await runner.close();
      }
      assert.ok(!(await ns.callids()).includes('written by the viewer'));
    });

    test('latest: messages stored after a time, within the last hour', async () => {
      const nowUs = Date.now() * 1000;
      const fresh = scriptedCall({ callId: `${callId}-live`, t0Us: nowUs }).slice(0, 2);
      await sendHepTcp(d.port, fresh);
      assert.ok(await waitFor(async () => (await reader.latest(0, 50)).length === 2, 10_000));
      const latest = await reader.latest(0, 50);
      assert.deepEqual(latest.map((m) => m.microTs), [fresh[1]!.atUs, fresh[0]!.atUs]);
      assert.deepEqual((await reader.latest(fresh[0]!.atUs, 50)).map((m) => m.microTs), [fresh[1]!.atUs]);
      // The old call is not "latest".
      assert.ok(latest.every((m) => m.callid.endsWith('-live')));
    });
  });
}
