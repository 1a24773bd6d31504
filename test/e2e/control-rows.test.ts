/**
 * Rows the daemon stores besides routed SIP: RTCP, QoS reports and logs in their fixed tables
 * with Kamailio's 12 columns (over UDP and TCP, honouring capture_on), and the row
 * options callid_aleg_header (first header of the list wins) and topoh_unmask (stand-alone,
 * with the configured key and prefix).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { sendTcpChunks, sendUdp, waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';
import { hep, rpcHttp, startTestDaemon, tableRows, TS_SEC, type TestDaemon } from '../control/helpers.js';

function msgText(r: Record<string, unknown> | undefined): string {
  return Buffer.from(r?.['msg'] as Uint8Array).toString();
}

describe('non-SIP HEP: RTCP, reports, logs', () => {
  let t: TestDaemon;
  before(async () => {
    t = await startTestDaemon({ capture_node: 'node7' });
  });
  after(() => t.close());

  test('each protocol type lands in its table with the 12 columns', async () => {
    const types: [number, string, number][] = [
      // HEP type, table, `type` column
      [5, 'rtcp_capture', 3],
      [32, 'report_capture', 2],
      [34, 'report_capture', 34],
      [35, 'report_capture', 35],
      [99, 'report_capture', 4],
      [100, 'logs_capture', 5],
    ];
    await sendUdp(
      types.map(([pt], i) => hep(`{"type":${pt}}`, { protoType: pt, correlationId: `cid-${pt}`, tsUsec: i, captureId: 42, ipProto: i % 2 === 0 ? 17 : 6 })),
      t.port,
    );
    const total = (): number => ['rtcp_capture', 'report_capture', 'logs_capture'].reduce((n, tb) => n + tableRows(t.dbFile, tb).length, 0);
    assert.ok(await waitFor(() => total() === types.length), `rows: ${total()}`);
    types.forEach(([pt, table, typeCol], i) => {
      const row = tableRows(t.dbFile, table).find((r) => r['correlation_id'] === `cid-${pt}`);
      assert.ok(row, `type ${pt} in ${table}`);
      assert.deepEqual(
        { ...row, id: undefined, msg: msgText(row) },
        {
          id: undefined,
          date: '2026-11-22 12:00:00',
          micro_ts: TS_SEC * 1e6 + i,
          correlation_id: `cid-${pt}`,
          source_ip: '192.0.2.1',
          source_port: 5060,
          destination_ip: '192.0.2.2',
          destination_port: 5080,
          proto: i % 2 === 0 ? 1 : 2,
          family: 2,
          type: typeCol,
          node: 'node7:42',
          msg: `{"type":${pt}}`,
        },
        `type ${pt}`,
      );
    });
  });

  test('over TCP, IPv6 too', async () => {
    await sendTcpChunks([hep('{"rtcp":true}', { protoType: 5, correlationId: 'tcp-v6', srcIp: '2001:db8::1', dstIp: '2001:db8::2' })], t.port);
    assert.ok(await waitFor(() => tableRows(t.dbFile, 'rtcp_capture').some((r) => r['correlation_id'] === 'tcp-v6')));
    const row = tableRows(t.dbFile, 'rtcp_capture').find((r) => r['correlation_id'] === 'tcp-v6');
    assert.equal(row?.['family'], 10);
    assert.equal(row?.['source_ip'], '2001:db8::1');
  });

  test('no correlation id, an unknown type, capture off: not stored, each counted', async () => {
    const s = t.daemon.stats;
    const before = {
      unstorable: s.droppedCount(DropReason.NON_SIP_UNSTORABLE),
      unsupported: s.droppedCount(DropReason.UNSUPPORTED_PROTO_TYPE),
      off: s.droppedCount(DropReason.CAPTURE_OFF),
    };
    const rtcpBefore = tableRows(t.dbFile, 'rtcp_capture').length;
    await sendUdp([hep('{}', { protoType: 5 }), hep('{}', { protoType: 38, correlationId: 'x' })], t.port);
    assert.ok(await waitFor(() => s.droppedCount(DropReason.NON_SIP_UNSTORABLE) === before.unstorable + 1 && s.droppedCount(DropReason.UNSUPPORTED_PROTO_TYPE) === before.unsupported + 1));
    // Difference from Kamailio: RTCP/report/log storage honours capture_on (docs/kamailio-differences.md K8).
    await rpcHttp(t.httpPort, 'sipcapture.status', ['off']);
    try {
      await sendUdp([hep('{}', { protoType: 5, correlationId: 'while-off' }), hep('{}', { protoType: 100, correlationId: 'log-off' })], t.port);
      assert.ok(await waitFor(() => s.droppedCount(DropReason.CAPTURE_OFF) === before.off + 2));
    } finally {
      await rpcHttp(t.httpPort, 'sipcapture.status', ['on']);
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(tableRows(t.dbFile, 'rtcp_capture').length, rtcpBefore);
    assert.equal(tableRows(t.dbFile, 'logs_capture').some((r) => r['correlation_id'] === 'log-off'), false);
  });
});

describe('row options through the daemon', () => {
  let t: TestDaemon;
  before(async () => {
    t = await startTestDaemon({ callid_aleg_header: 'X-Leg;X-CID', topoh_unmask: 1, topoh_mask_key: 'MyKey-123', topoh_callid_prefix: '!!:' });
  });
  after(() => t.close());

  test('callid_aleg_header: the first header of the list present wins, whatever the order in the message', async () => {
    await sendUdp(
      [
        hep(sipRequest('INVITE', 'aleg-both@x', ['X-CID: from-x-cid', 'X-Leg: from-x-leg']).text),
        hep(sipRequest('INVITE', 'aleg-cid@x', ['X-CID: only-x-cid']).text),
        hep(sipRequest('INVITE', 'aleg-none@x').text),
      ],
      t.port,
    );
    assert.ok(await waitFor(() => tableRows(t.dbFile, 'sip_capture').length >= 3));
    const aleg = new Map(tableRows(t.dbFile, 'sip_capture').map((r) => [r['callid'], r['callid_aleg']]));
    assert.equal(aleg.get('aleg-both@x'), 'from-x-leg');
    assert.equal(aleg.get('aleg-cid@x'), 'only-x-cid');
    assert.equal(aleg.get('aleg-none@x'), '');
  });

  test('topoh_unmask: masked Call-IDs are stored unmasked (correlation_id too); others unchanged', async () => {
    // The topoh test vector for key MyKey-123; `!!:notvalid$$` is not valid and stays as it is.
    await sendUdp(
      [hep(sipRequest('OPTIONS', '!!:Mpe.8EfDQADXCTj7gAScgc**').text), hep(sipRequest('OPTIONS', '!!:notvalid$$').text), hep(sipRequest('OPTIONS', 'plain-cid@x').text)],
      t.port,
    );
    assert.ok(await waitFor(() => tableRows(t.dbFile, 'sip_capture').length >= 6));
    const rows = tableRows(t.dbFile, 'sip_capture');
    const unmasked = rows.find((r) => r['callid'] === 'custom-key-cid@h');
    assert.ok(unmasked, JSON.stringify(rows.map((r) => r['callid'])));
    assert.equal(unmasked['correlation_id'], 'custom-key-cid@h');
    assert.match(msgText(unmasked), /Call-ID: !!:Mpe\.8EfDQADXCTj7gAScgc\*\*/, 'msg keeps the masked value');
    assert.ok(rows.some((r) => r['callid'] === '!!:notvalid$$'));
    assert.ok(rows.some((r) => r['callid'] === 'plain-cid@x'));
  });

  test('reload changes callid_aleg_header and the topoh key live', async () => {
    t.rewrite({ callid_aleg_header: 'X-CID', topoh_unmask: 1, topoh_mask_key: 'aL9.n8~Hm]Z', topoh_callid_prefix: '!!:' });
    const r = await rpcHttp(t.httpPort, 'sipcapture.reload');
    assert.deepEqual(r.body.result, { applied: ['callid_aleg_header', 'topoh_mask_key'], restart_needed: [] });
    await sendUdp([hep(sipRequest('INVITE', '!!:oweYgLuB3RfdCRP1kUI-PxF7MJZlOBP*', ['X-CID: now-x-cid', 'X-Leg: ignored']).text)], t.port);
    assert.ok(await waitFor(() => tableRows(t.dbFile, 'sip_capture').some((x) => x['callid'] === 'orig-callid-xyz@1.2.3.4')));
    const row = tableRows(t.dbFile, 'sip_capture').find((x) => x['callid'] === 'orig-callid-xyz@1.2.3.4');
    assert.equal(row?.['callid_aleg'], 'now-x-cid');
  });
});
