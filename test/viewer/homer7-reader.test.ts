/**
 * The HOMER 7 reader on real PostgreSQL: a `schema: homer7` daemon stores the scripted call
 * (B2BUA legs, an X-CID leg, a retransmission, RTCP and a log line) that crosses midnight UTC —
 * so it spans two partitions of each parent — into heplify-server's `hep_proto_*` tables; the
 * reader must find every message of every leg in order with the RTCP and log rows, answer each
 * search filter, and `sipcapture show` must print the ladder from that config.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { requireOrSkip } from '../helpers/env.js';
import { runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/net.js';
import { PG_URL, pgNamespace, reachable, startTestDaemon, type Namespace, type TestDaemon } from '../store/_e2e.js';
import { DEFAULT_DATA_HEADER } from '../../src/config/homer7-fields.js';
import { openCallReader } from '../../src/viewer/open-reader.js';
import type { CallReader } from '../../src/viewer/types.js';
import { BOB, scriptedCall, sendHepTcp, sidePackets, type ScriptedPacket } from './_calls.js';

const pgUp = await reachable(PG_URL, 5432);
const midnightUs = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()) * 1000;
const T0 = midnightUs - 2_500_000;

describe('viewer reader: HOMER 7 tables on PostgreSQL', { skip: requireOrSkip(pgUp, `PostgreSQL at ${PG_URL}`) }, () => {
  let ns: Namespace;
  let d: TestDaemon;
  let reader: CallReader;
  let configFile: string;
  const callId = `call-h7-${Date.now()}@viewer.test`;
  const call = scriptedCall({ callId, t0Us: T0 });
  const sipCount = call.length;
  const range = { fromUs: T0 - 60_000_000, toUs: T0 + 60_000_000 };

  before(async () => {
    ns = await pgNamespace('viewer7');
    const settings = { db_url: ns.url(), schema: 'homer7', capture_node: 'homer01' };
    d = await startTestDaemon(settings);
    configFile = join(d.dir, 'homer7.json');
    writeFileSync(configFile, JSON.stringify({ ...settings, http_listen: '', rpc_socket: '' }));
    reader = await openCallReader(d.daemon.config);
    await sendHepTcp(d.port, [...call, ...sidePackets(callId, T0)]);
    let stored = 0;
    const allStored = async (): Promise<boolean> => {
      const flow = await reader.callFlow(callId, range);
      stored = flow.messages.length + flow.side.length;
      return stored >= sipCount + 2;
    };
    assert.ok(await waitFor(allStored, 20_000), `rows read back: ${stored}`);
  });

  after(async () => {
    await reader?.close();
    await d?.stop();
    await ns?.drop();
  });

  test('the rows are in hep_proto_* partitions on both sides of midnight', async () => {
    assert.equal(reader.schema, 'homer7');
    const tables = await ns.tables();
    const day = (us: number): string => new Date(us / 1000).toISOString().slice(0, 10).replaceAll('-', '');
    assert.ok(tables.includes(`hep_proto_1_call_${day(T0)}_2200`), tables.join(','));
    assert.ok(tables.includes(`hep_proto_1_call_${day(midnightUs)}_0000`), tables.join(','));
    assert.ok(!tables.some((t) => t.startsWith('sip_capture')), 'no Homer 5 tables');
  });

  test('callFlow: every message of every leg, in time order, with RTCP and log rows', async () => {
    const flow = await reader.callFlow(callId, range);
    const got = flow.messages.map((m) => `${m.callid} ${m.method} ${m.sourceIp}>${m.destinationIp} ${m.microTs}`);
    const want = call.map((p: ScriptedPacket) => `${p.callId} ${p.label.split(' ')[0]} ${p.src.ip}>${p.dst.ip} ${p.atUs}`);
    assert.deepEqual(got, want);
    assert.deepEqual(new Set(flow.callIds), new Set([callId, `${callId}_b2b-1`, `rec-${callId}`]));
    assert.equal(flow.callIds[0], callId);
    const first = flow.messages[0]!;
    assert.ok(first.msg.startsWith('INVITE sip:bob@example.com SIP/2.0\r\n'));
    assert.equal(first.table, 'hep_proto_1_call');
    assert.equal(first.proto, 1, 'UDP: the HEP header\'s transport, from protocol_header.protocol 17');
    assert.equal(first.via1Branch, `z9hG4bK-invite-1-${callId.length}`);
    assert.equal(first.cseq, '1 INVITE');
    const ringing = flow.messages.find((m) => m.method === '180')!;
    assert.equal(ringing.replyReason, 'Ringing', 'the reason phrase is read from raw');
    assert.equal(flow.messages.find((m) => m.callid === `rec-${callId}`)!.callidAleg, callId, 'X-CID, from correlation_id');
    assert.deepEqual(flow.side.map((s) => [s.kind, s.correlationId, s.table]), [
      ['rtcp', callId, 'hep_proto_5_default'],
      ['logs', callId, 'hep_proto_100_default'],
    ]);
    assert.equal(flow.side[1]!.msg, 'proxy: call answered');
    assert.equal(flow.truncated, false);
    const fromB = await reader.callFlow(`${callId}_b2b-1`, range);
    assert.equal(fromB.messages.length, sipCount);
  });

  test('callFlow outside the time range finds nothing', async () => {
    const flow = await reader.callFlow(callId, { fromUs: T0 - 7_200_000_000, toUs: T0 - 3_600_000_000 });
    assert.equal(flow.messages.length, 0);
    assert.equal(flow.side.length, 0);
  });

  test('search: each filter', async () => {
    const q = { ...range, limit: 100 };
    const byCall = await reader.search({ ...q, callId });
    assert.equal(byCall.messages.length, 9, 'the A leg and the recorder INVITE whose X-CID names the call');
    assert.deepEqual((await reader.search({ ...q, method: '180' })).messages.map((m) => m.callid).sort(), [callId, `${callId}_b2b-1`].sort());
    assert.equal((await reader.search({ ...q, method: 'BYE' })).messages.length, 2);
    assert.equal((await reader.search({ ...q, sourceIp: BOB.ip })).messages.length, 3);
    assert.equal((await reader.search({ ...q, destinationIp: BOB.ip })).messages.length, 3);
    assert.equal((await reader.search({ ...q, fromUser: 'alice' })).messages.length, sipCount);
    assert.equal((await reader.search({ ...q, fromUser: 'ali*' })).messages.length, sipCount);
    assert.equal((await reader.search({ ...q, fromUser: 'al_ce' })).messages.length, 0, '_ is not a wildcard');
    assert.equal((await reader.search({ ...q, toUser: 'bob', ruriUser: 'bob', method: 'INVITE' })).messages.length, 4);
    assert.equal((await reader.search({ ...q, node: 'homer01:2001' })).messages.length, sipCount);
    assert.equal((await reader.search({ ...q, node: '2001' })).messages.length, sipCount);
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

  test('latest: messages stored after a time, within the last hour', async () => {
    const nowUs = Date.now() * 1000;
    const fresh = scriptedCall({ callId: `${callId}-live`, t0Us: nowUs }).slice(0, 2);
    await sendHepTcp(d.port, fresh);
    assert.ok(await waitFor(async () => (await reader.latest(0, 50)).length === 2, 10_000));
    const latest = await reader.latest(0, 50);
    assert.deepEqual(latest.map((m) => m.microTs), [fresh[1]!.atUs, fresh[0]!.atUs]);
    assert.deepEqual((await reader.latest(fresh[0]!.atUs, 50)).map((m) => m.microTs), [fresh[1]!.atUs]);
    assert.ok(latest.every((m) => m.callid.endsWith('-live')));
  });

  test('sipcapture show prints the ladder from a homer7 config', async () => {
    const start = new Date(range.fromUs / 1000).toISOString();
    const end = new Date(range.toUs / 1000).toISOString();
    const r = await runCli(['show', callId, '-c', configFile, '--start', start, '--end', end]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith(`Call-ID: ${callId}\nlegs: `), r.stdout);
    assert.ok(r.stdout.includes(`\n${sipCount} messages from `), r.stdout);
    assert.match(r.stdout, /2 RTCP \/ report \/ log rows/);
    const arrows = r.stdout.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d{6}/.test(l));
    assert.equal(arrows.length, sipCount, r.stdout);
    arrows.forEach((line, i) => assert.ok(line.includes(call[i]!.label), `${line} has ${call[i]!.label}`));
  });
});

describe('viewer reader: HOMER 7 with callid_aleg in data_header', { skip: requireOrSkip(pgUp, `PostgreSQL at ${PG_URL}`) }, () => {
  let ns: Namespace;
  let d: TestDaemon;
  let reader: CallReader;
  const callId = `call-h7a-${Date.now()}@viewer.test`;
  const t0 = Date.now() * 1000 - 60_000_000;
  const range = { fromUs: t0 - 60_000_000, toUs: t0 + 60_000_000 };
  // The recorder INVITE carries a HEP correlation id of its own: correlation_id no longer names
  // the A leg, so only data_header's callid_aleg (the X-CID value) ties it to the call.
  const call = scriptedCall({ callId, t0Us: t0 }).map((p) => (p.callId === `rec-${callId}` && p.label === 'INVITE' ? { ...p, correlationId: 'agent-7' } : p));

  before(async () => {
    ns = await pgNamespace('viewer7a');
    d = await startTestDaemon({ db_url: ns.url(), schema: 'homer7', homer7_data_header: [...DEFAULT_DATA_HEADER, 'callid_aleg'] });
    reader = await openCallReader(d.daemon.config);
    await sendHepTcp(d.port, call);
    assert.ok(await waitFor(async () => (await reader.search({ ...range, limit: 100 })).messages.length >= call.length, 20_000));
  });

  after(async () => {
    await reader?.close();
    await d?.stop();
    await ns?.drop();
  });

  test('the X-CID leg is found through data_header.callid_aleg', async () => {
    const flow = await reader.callFlow(callId, range);
    assert.equal(flow.messages.length, call.length);
    assert.ok(flow.callIds.includes(`rec-${callId}`), flow.callIds.join(','));
    const rec = flow.messages.find((m) => m.callid === `rec-${callId}` && m.method === 'INVITE')!;
    assert.equal(rec.callidAleg, callId);
    assert.equal(rec.correlationId, 'agent-7');
    assert.equal((await reader.search({ ...range, callId, limit: 100 })).messages.length, 9);
  });
});
