/**
 * End to end, in process: a real daemon (UDP + TCP listeners, SQLite file store, Homer 5
 * routes) receives HEP v1/v2/v3 over UDP and HEP3 over TCP (split and coalesced, with garbage
 * in between), and every SIP message must come back as exactly one correct row.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import type { RunningDaemon } from '../../src/daemon.js';
import { encodeHep } from '../../src/hep/encode.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sendTcpChunks, sendUdp, waitFor } from '../helpers/net.js';
import { sipReply, sipRequest, type TestSip } from '../helpers/sip-messages.js';

interface StoredRow {
  table: string;
  callid: string;
  method: string;
  type: number;
  source_ip: string;
  source_port: number;
  destination_ip: string;
  destination_port: number;
  node: string;
  micro_ts: number;
  date: string;
  proto: number;
  family: number;
  msg: Buffer;
}

const TS_SEC = 1795348800; // 2026-11-22 12:00:00 UTC → tables *_20261122
const DAY = '20261122';

function readAllRows(file: string): StoredRow[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'sip_capture%'")
      .all() as { name: string }[];
    const rows: StoredRow[] = [];
    for (const { name } of tables) {
      const got = db
        .prepare(
          `SELECT callid, method, type, source_ip, source_port, destination_ip, destination_port, node, micro_ts, date, proto, family, msg FROM "${name}"`,
        )
        .all() as Omit<StoredRow, 'table'>[];
      for (const r of got) rows.push({ ...r, table: name });
    }
    return rows;
  } finally {
    db.close();
  }
}

function countRows(file: string): number {
  try {
    return readAllRows(file).length;
  } catch {
    return 0; // file or tables not created yet
  }
}

/** Cuts `data` into pieces at pseudo-random offsets (deterministic). */
function splitAt(data: Buffer, pieces: number, seed: number): Buffer[] {
  const cuts = new Set<number>();
  let x = seed;
  while (cuts.size < pieces - 1) {
    x = (x * 1103515245 + 12345) % 2147483648;
    cuts.add(1 + (x % (data.length - 1)));
  }
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let start = 0;
  for (const c of sorted) {
    out.push(data.subarray(start, c));
    start = c;
  }
  out.push(data.subarray(start));
  return out;
}

describe('HEP to Homer rows on SQLite, end to end', () => {
  let t: TestDaemon;
  let daemon: RunningDaemon;
  let dbFile: string;
  let port: number;

  before(async () => {
    t = await startTestDaemon({ routes: 'homer5' });
    ({ daemon, dbFile, port } = t);
  });

  after(() => t.close());

  test('v1, v2, v3 over UDP and v3 over TCP each give exactly one correct row', async () => {
    const sent = new Map<string, { sip: TestSip; version: 1 | 2 | 3; transport: 'udp' | 'tcp' }>();
    const udpPackets: Buffer[] = [];
    const tcpPackets: Buffer[] = [];
    const make = (i: number): TestSip => {
      const callId = `e2e-${i}-${Math.random().toString(36).slice(2, 10)}@192.0.2.10`;
      switch (i % 5) {
        case 0:
          return sipRequest('INVITE', callId, [], true);
        case 1:
          return sipRequest('REGISTER', callId, ['Expires: 3600']);
        case 2:
          return sipRequest('OPTIONS', callId);
        case 3:
          return sipReply(200, 'OK', 'INVITE', callId);
        default:
          return sipRequest('NOTIFY', callId, ['Event: refer;id=1']);
      }
    };
    for (let i = 0; i < 60; i++) {
      const sip = make(i);
      const version = ((i % 3) + 1) as 1 | 2 | 3;
      const transport = i >= 45 ? 'tcp' : 'udp';
      const v = transport === 'tcp' ? 3 : version;
      const packet = encodeHep({
        version: v,
        srcIp: i % 2 === 0 ? '192.0.2.10' : '2001:db8::10',
        dstIp: i % 2 === 0 ? '198.51.100.20' : '2001:db8::20',
        srcPort: 5060,
        dstPort: 5080 + (i % 3),
        tsSec: TS_SEC,
        tsUsec: i,
        captureId: 7,
        payload: sip.text,
      });
      sent.set(sip.callId, { sip, version: v, transport });
      (transport === 'tcp' ? tcpPackets : udpPackets).push(packet);
    }
    // One malformed datagram and garbage inside the TCP stream must cost only themselves.
    udpPackets.splice(10, 0, Buffer.from('HEP3\x00\x40garbage'));
    const stream = Buffer.concat([
      ...tcpPackets.slice(0, 5),
      Buffer.from('not a hep frame'),
      ...tcpPackets.slice(5),
    ]);

    await sendUdp(udpPackets, port);
    await sendTcpChunks(splitAt(stream, 12, 42), port);

    const complete = await waitFor(() => countRows(dbFile) >= sent.size, 15_000);
    assert.ok(complete, `expected ${sent.size} rows, got ${countRows(dbFile)}`);
    await new Promise((r) => setTimeout(r, 200)); // a duplicate would show up by now
    const rows = readAllRows(dbFile);
    assert.equal(rows.length, sent.size, 'exactly one row per SIP message');

    for (const row of rows) {
      const s = sent.get(row.callid);
      assert.ok(s, `unexpected row ${row.callid}`);
      const { sip, version } = s;
      assert.deepEqual(Buffer.from(row.msg), Buffer.from(sip.text), 'msg byte for byte');
      assert.equal(row.type, sip.type);
      assert.equal(row.method, sip.type === 2 ? '200' : sip.method);
      const kind =
        sip.method === 'REGISTER' ? 'registration' : ['INVITE', 'NOTIFY'].includes(sip.method) ? 'call' : 'rest';
      if (version === 1) {
        // HEPv1 has no timestamp: the receive time dates the row and the table, node has no captid.
        assert.match(row.table, new RegExp(`^sip_capture_${kind}_\\d{8}$`));
        assert.equal(row.node, 'homer01');
      } else {
        assert.equal(row.table, `sip_capture_${kind}_${DAY}`);
        assert.equal(row.node, 'homer01:7');
        assert.equal(row.date, '2026-11-22 12:00:00');
      }
      const v6 = row.source_ip.includes(':');
      assert.equal(row.family, v6 ? 10 : 2);
      assert.equal(row.destination_ip, v6 ? '2001:db8::20' : '198.51.100.20');
      assert.equal(row.source_port, 5060);
      assert.equal(row.proto, 1);
    }
    assert.equal(daemon.stats.droppedCount(DropReason.HEP_MALFORMED), 1);
    assert.ok(daemon.stats.droppedCount(DropReason.TCP_FRAMING) >= 1);
  });

  test('capture_on = 0 stores nothing and counts every packet as capture_off', async () => {
    const before = countRows(dbFile);
    daemon.state.captureOn = false;
    try {
      const packets = [0, 1, 2].map((i) =>
        encodeHep({
          version: 3,
          srcIp: '192.0.2.1',
          dstIp: '192.0.2.2',
          srcPort: 5060,
          dstPort: 5060,
          tsSec: TS_SEC,
          captureId: 1,
          payload: sipRequest('OPTIONS', `off-${i}@x`).text,
        }),
      );
      const dropsBefore = daemon.stats.droppedCount(DropReason.CAPTURE_OFF);
      await sendUdp(packets, port);
      assert.ok(await waitFor(() => daemon.stats.droppedCount(DropReason.CAPTURE_OFF) === dropsBefore + 3, 5000));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(countRows(dbFile), before);
    } finally {
      daemon.state.captureOn = true;
    }
  });

  test('a compressed payload is stored up to 65,535 inflated bytes; a 1 KB datagram inflating past that is counted payload_too_large', async () => {
    const before = countRows(dbFile);
    const packet = (callId: string, padding: number): Buffer =>
      encodeHep({
        version: 3,
        srcIp: '192.0.2.1',
        dstIp: '192.0.2.2',
        srcPort: 5060,
        dstPort: 5060,
        tsSec: TS_SEC,
        captureId: 1,
        compress: 'zlib',
        payload: sipRequest('OPTIONS', callId, [`X-Padding: ${'a'.repeat(padding)}`]).text,
      });
    const fits = packet('inflate-fits@x', 60_000);
    const amplified = packet('inflate-bomb@x', 1024 * 1024);
    assert.ok(amplified.length < 1500, `${amplified.length} bytes on the wire`);
    const tooLarge = daemon.stats.droppedCount(DropReason.PAYLOAD_TOO_LARGE);
    await sendUdp([fits, amplified], port);
    assert.ok(await waitFor(() => daemon.stats.droppedCount(DropReason.PAYLOAD_TOO_LARGE) === tooLarge + 1, 5000));
    assert.ok(await waitFor(() => countRows(dbFile) === before + 1, 5000));
    const stored = readAllRows(dbFile).filter((r) => r.callid.startsWith('inflate-'));
    assert.deepEqual(stored.map((r) => r.callid), ['inflate-fits@x']);
    assert.ok(stored[0]!.msg.length > 60_000);
  });
});

describe('HEP → daemon → SQLite: routing as a Kamailio script routes', () => {
  const send = async (port: number, texts: string[]): Promise<void> =>
    sendUdp(
      texts.map((payload, i) => encodeHep({ version: 3, srcIp: '192.0.2.1', dstIp: '192.0.2.2', srcPort: 5060, dstPort: 5060, tsSec: TS_SEC, tsUsec: i, captureId: 1, payload })),
      port,
    );

  test("homer5: a request sent as `invite` goes to the call table, as Kamailio's case-insensitive $rm =~ sends it", async () => {
    const t = await startTestDaemon({ routes: 'homer5' });
    try {
      await send(t.port, [sipRequest('invite', 'lower-case@x').text, sipRequest('XINVITE', 'invented@x').text]);
      assert.ok(await waitFor(() => countRows(t.dbFile) >= 2, 10_000));
      const tables = new Map(readAllRows(t.dbFile).map((r) => [r.callid, r.table]));
      assert.equal(tables.get('lower-case@x'), `sip_capture_call_${DAY}`);
      assert.equal(tables.get('invented@x'), `sip_capture_rest_${DAY}`);
    } finally {
      await t.close();
    }
  });

  test('has_to_tag: in-dialog NOTIFY to the call table, out-of-dialog NOTIFY to the rest', async () => {
    const t = await startTestDaemon({
      routes: [{ method: ['NOTIFY'], has_to_tag: true, table: 'sip_capture_call_%Y%m%d' }, { table: 'sip_capture_rest_%Y%m%d' }],
    });
    try {
      const inDialog = sipRequest('NOTIFY', 'in-dialog@x', ['Event: presence']).text.replace('To: <sip:bob@example.com>', 'To: <sip:bob@example.com>;tag=tt-9');
      const emptyTag = sipRequest('NOTIFY', 'empty-tag@x', ['Event: presence']).text.replace('To: <sip:bob@example.com>', 'To: <sip:bob@example.com>;tag=');
      await send(t.port, [inDialog, emptyTag, sipRequest('NOTIFY', 'no-tag@x', ['Event: presence']).text]);
      assert.ok(await waitFor(() => countRows(t.dbFile) >= 3, 10_000));
      const tables = new Map(readAllRows(t.dbFile).map((r) => [r.callid, r.table]));
      assert.equal(tables.get('in-dialog@x'), `sip_capture_call_${DAY}`);
      assert.equal(tables.get('empty-tag@x'), `sip_capture_rest_${DAY}`, 'an empty tag is no tag (has_totag())');
      assert.equal(tables.get('no-tag@x'), `sip_capture_rest_${DAY}`);
    } finally {
      await t.close();
    }
  });
});

describe('HEP → daemon → SQLite: the edge cases Kamailio 5.6.3 stores', () => {
  test('empty parameter values, blanks inside < >, urn: URIs: stored with the columns Kamailio stores', async () => {
    const t = await startTestDaemon({ routes: 'default' });
    try {
      const at = (id: string, lines: Record<string, string>, first = 'INVITE sip:bob@example.net SIP/2.0'): string =>
        sipRequest('INVITE', id)
          .text.replace(/^INVITE sip:bob@example\.com SIP\/2\.0/, first)
          .replace(/^(Via|To|Contact): .*$/gm, (line, name: string) => (lines[name] !== undefined ? `${name}: ${lines[name]}` : line));
      const messages = [
        at('edge-1@x', { To: '<sip:bob@example.net>;tag=', Via: 'SIP/2.0/UDP 10.1.2.3:5060;branch=;rport', Contact: '<sip:alice@10.5.5.5:5060>;expires=' }),
        at('edge-2@x', { To: '< sip:bob@example.net >', Contact: '< sip:alice@10.5.5.5:5060 >' }).replace('User-Agent:', 'P-Asserted-Identity: < sip:pai@example.net >\r\nUser-Agent:'),
        at('edge-3@x', { To: '<urn:service:sos>' }, 'INVITE urn:service:sos SIP/2.0'),
      ];
      await sendUdp(
        messages.map((payload, i) => encodeHep({ version: 3, srcIp: '192.0.2.1', dstIp: '192.0.2.2', srcPort: 5060, dstPort: 5060, tsSec: TS_SEC, tsUsec: i, captureId: 1, payload })),
        t.port,
      );
      assert.ok(await waitFor(() => countRows(t.dbFile) >= 3, 10_000), `stored ${countRows(t.dbFile)}; dropped ${JSON.stringify(t.daemon.stats.snapshot().dropped)}`);
      const db = new Database(t.dbFile, { readonly: true });
      try {
        const rows = new Map(
          (db.prepare('SELECT callid, to_user, to_tag, via_1_branch, contact_user, contact_port, pid_user, ruri_user, ruri_domain, to_domain FROM sip_capture').all() as Record<string, string | number>[]).map((r) => [r['callid'], r]),
        );
        assert.deepEqual(rows.get('edge-1@x'), { callid: 'edge-1@x', to_user: 'bob', to_tag: '', via_1_branch: '', contact_user: 'alice', contact_port: 5060, pid_user: '', ruri_user: 'bob', ruri_domain: 'example.net', to_domain: 'example.net' });
        assert.deepEqual(rows.get('edge-2@x'), { callid: 'edge-2@x', to_user: 'bob', to_tag: '', via_1_branch: 'z9hG4bK-edge-2@x', contact_user: 'alice', contact_port: 5060, pid_user: 'pai', ruri_user: 'bob', ruri_domain: 'example.net', to_domain: 'example.net' });
        assert.deepEqual(rows.get('edge-3@x'), { callid: 'edge-3@x', to_user: 'service', to_tag: '', via_1_branch: 'z9hG4bK-edge-3@x', contact_user: 'alice', contact_port: 5060, pid_user: '', ruri_user: 'service', ruri_domain: 'sos', to_domain: 'sos' });
      } finally {
        db.close();
      }
    } finally {
      await t.close();
    }
  });
});
