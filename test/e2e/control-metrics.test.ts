/**
 * Prometheus /metrics and /health of a running daemon: after a known mix of traffic every
 * counter has the expected value (packets per listener and HEP version, rows per table, each
 * drop reason, batch latency), and /health turns 503 while the database rejects rows.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { encodeHep } from '../../src/hep/encode.js';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { packageVersion } from '../../src/util/package-info.js';
import { freePort, sendTcpChunks, sendUdp, waitFor } from '../helpers/net.js';
import { sipReply, sipRequest } from '../helpers/sip-messages.js';
import { hep, makeTmpDir, rpcHttp, startTestDaemon, type TestDaemon } from '../control/helpers.js';

/** Value of one sample, or undefined when the scrape lacks it. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = (m[2] ?? '').split(',').filter((x) => x !== '');
    if (want.every((w) => have.includes(w)) && have.length === want.length) return Number(m[3]);
  }
  return undefined;
}

async function scrape(port: number): Promise<{ status: number; type: string; text: string }> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  return { status: r.status, type: r.headers.get('content-type') ?? '', text: await r.text() };
}

describe('metrics after a known traffic mix', () => {
  let t: TestDaemon;
  before(async () => {
    t = await startTestDaemon({ routes: 'homer5' });
  });
  after(() => t.close());

  test('every counter matches what was sent', async () => {
    const addr = { srcIp: '192.0.2.1', dstIp: '192.0.2.2', srcPort: 5060, dstPort: 5060, tsSec: 1795348800, captureId: 1 };
    const udp = [
      ...[0, 1, 2].map((i) => hep(sipRequest('INVITE', `m-inv-${i}@x`).text)), // 3 × hep3 → call
      encodeHep({ ...addr, version: 2, payload: sipRequest('REGISTER', 'm-reg-0@x').text }), // hep2 → registration
      encodeHep({ ...addr, version: 2, payload: sipReply(200, 'OK', 'REGISTER', 'm-reg-1@x').text }), // hep2 → registration
      encodeHep({ ...addr, version: 1, payload: sipRequest('OPTIONS', 'm-opt@x').text }), // hep1 → rest
      Buffer.from('HEP3\x00\x40garbage'), // hep_malformed
      Buffer.from('not hep at all'), // unknown kind, hep_malformed
      hep('{"rtcp":1}', { protoType: 5, correlationId: 'm-rtcp' }), // rtcp_capture
      hep('{}', { protoType: 38, correlationId: 'x' }), // unsupported_proto_type
      hep('{}', { protoType: 100 }), // non_sip_unstorable (no correlation id)
      hep('INVITE nonsense', {}), // sip_malformed
    ];
    await sendUdp(udp, t.port);
    await sendTcpChunks([hep(sipRequest('BYE', 'm-bye-0@x').text), hep(sipRequest('BYE', 'm-bye-1@x').text)], t.port);
    const stored = (): number => Object.values(t.daemon.stats.snapshot().stored).reduce((a, b) => a + b, 0);
    assert.ok(await waitFor(() => stored() === 9), `stored ${stored()}`);
    await rpcHttp(t.httpPort, 'sipcapture.status', ['off']);
    await sendUdp([hep(sipRequest('OPTIONS', 'm-off-0@x').text), hep(sipRequest('OPTIONS', 'm-off-1@x').text)], t.port);
    assert.ok(await waitFor(() => t.daemon.stats.droppedCount(DropReason.CAPTURE_OFF) === 2));

    const { status, type, text } = await scrape(t.httpPort);
    assert.equal(status, 200);
    assert.match(type, /^text\/plain; version=0\.0\.4/);
    const u = `udp:127.0.0.1:${t.port}`;
    const tc = `tcp:127.0.0.1:${t.port}`;
    assert.equal(sample(text, 'sipcapture_packets_received_total', { listener: u, kind: 'hep3' }), 10); // 8 above (the garbage starts with HEP3) + 2 while off
    assert.equal(sample(text, 'sipcapture_packets_received_total', { listener: u, kind: 'hep2' }), 2);
    assert.equal(sample(text, 'sipcapture_packets_received_total', { listener: u, kind: 'hep1' }), 1);
    assert.equal(sample(text, 'sipcapture_packets_received_total', { listener: u, kind: 'unknown' }), 1);
    assert.equal(sample(text, 'sipcapture_packets_received_total', { listener: tc, kind: 'hep3' }), 2);
    const day = '20261122';
    assert.equal(sample(text, 'sipcapture_rows_stored_total', { table: `sip_capture_call_${day}` }), 5);
    assert.equal(sample(text, 'sipcapture_rows_stored_total', { table: `sip_capture_registration_${day}` }), 2);
    assert.equal(sample(text, 'sipcapture_rows_stored_total', { table: 'rtcp_capture' }), 1);
    // HEPv1 has no timestamp: its table is dated by the receive time.
    const rest = text.split('\n').find((l) => l.startsWith('sipcapture_rows_stored_total{table="sip_capture_rest_'));
    assert.match(rest ?? '', / 1$/);
    const drops: Record<string, number> = {
      hep_malformed: 2,
      unsupported_proto_type: 1,
      non_sip_unstorable: 1,
      sip_malformed: 1,
      capture_off: 2,
    };
    for (const reason of Object.values(DropReason)) {
      assert.equal(sample(text, 'sipcapture_packets_dropped_total', { reason }), drops[reason] ?? 0, reason);
    }
    assert.equal(sample(text, 'sipcapture_capture_on'), 0);
    assert.equal(sample(text, 'sipcapture_hep_capture_on'), 1);
    const db = `sqlite://${t.dbFile}`;
    assert.equal(sample(text, 'sipcapture_queue_rows', { db }), 0);
    assert.equal(sample(text, 'sipcapture_store_failing', { db }), 0);
    assert.equal(sample(text, 'sipcapture_spool_bytes', { db }), 0);
    const batches = sample(text, 'sipcapture_db_batch_duration_seconds_count', { db, outcome: 'ok' }) ?? 0;
    assert.ok(batches >= 1 && batches <= 9, `batches ${batches}`);
    assert.equal(sample(text, 'sipcapture_db_batch_duration_seconds_bucket', { db, outcome: 'ok', le: '+Inf' }), batches);
    assert.equal(sample(text, 'sipcapture_config_reloads_total', { result: 'ok' }), 0);
    assert.equal(sample(text, 'sipcapture_info', { version: packageVersion() }), 1);

    const h = await fetch(`http://127.0.0.1:${t.httpPort}/health`);
    assert.equal(h.status, 200);
    assert.deepEqual(((await h.json()) as { status: string }).status, 'ok');
  });
});

describe('/health while the database rejects rows', () => {
  let t: TestDaemon;
  let dir: string;
  before(async () => {
    // A sip_capture table that is not Homer's: every insert fails, as with a broken schema.
    dir = makeTmpDir('sipcapture-health-');
    mkdirSync(dir, { recursive: true });
    const dbFile = path.join(dir, 'broken.sqlite');
    const db = new Database(dbFile);
    db.exec('CREATE TABLE sip_capture (something_else INTEGER)');
    db.close();
    t = await startTestDaemon({ db_url: `sqlite://${dbFile}` });
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('turns 503 and names the database; metrics show it failing', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${t.httpPort}/health`)).status, 200);
    await sendUdp([hep(sipRequest('OPTIONS', 'broken@x').text)], t.port);
    assert.ok(await waitFor(async () => (await fetch(`http://127.0.0.1:${t.httpPort}/health`)).status === 503, 10_000));
    const body = (await (await fetch(`http://127.0.0.1:${t.httpPort}/health`)).json()) as { status: string; reasons: string[] };
    assert.equal(body.status, 'unhealthy');
    assert.match(body.reasons[0] ?? '', /^database sqlite:\/\/.*broken\.sqlite is failing$/);
    const { text } = await scrape(t.httpPort);
    assert.match(text, /^sipcapture_store_failing\{db="sqlite:\/\/.*broken\.sqlite"\} 1$/m);
    assert.match(text, /^sipcapture_db_batch_duration_seconds_count\{db="sqlite:\/\/.*broken\.sqlite",outcome="failed"\} [1-9]/m);
  });
});

describe('counters the docs promise are in sipcapture.stats and /metrics', () => {
  test('table-date clamps, and a full spool: rejected batches in the RPC and the metrics', async () => {
    // An unreachable database, a spool of 1 MiB and no retries: rows go to the spool until it is full.
    const blackhole = `postgres://postgres@127.0.0.1:${await freePort()}/hbad`;
    const t = await startTestDaemon({ routes: 'homer5', table_date_window_days: 1, db_url: blackhole, insert_retries: 0, spool_max_bytes: 1048576, batch_size: 2 });
    try {
      const old = Math.floor(Date.now() / 1000) - 10 * 86_400;
      const big = (i: number): Buffer => hep(sipRequest('OPTIONS', `clamp-${i}@x`, [`X-Pad: ${'p'.repeat(60_000)}`]).text, { tsSec: old });
      for (let i = 0; i < 30; i++) await sendUdp([big(i)], t.port);
      assert.ok(await waitFor(() => t.daemon.stats.droppedCount(DropReason.SPOOL_FULL) > 0, 15_000), 'the spool filled up');
      const rpc = (await rpcHttp(t.httpPort, 'sipcapture.stats')).body.result as {
        routing: { table_date_clamped: number; empty_hash_source: number };
        stores: { spool: { rejected_full: number; corrupt_records: number; corrupt_bytes: number; already_committed_batches: number; already_committed_rows: number } }[];
      };
      assert.equal(rpc.routing.table_date_clamped, 30);
      assert.equal(rpc.routing.empty_hash_source, 0);
      const spool = rpc.stores[0]!.spool;
      assert.ok(spool.rejected_full > 0, JSON.stringify(spool));
      assert.equal(spool.corrupt_records, 0);
      assert.equal(spool.already_committed_rows, 0);
      const { text } = await scrape(t.httpPort);
      const db = blackhole;
      assert.equal(sample(text, 'sipcapture_table_date_clamped_total'), 30);
      assert.equal(sample(text, 'sipcapture_hash_source_empty_total'), 0);
      assert.equal(sample(text, 'sipcapture_spool_rejected_full_total', { db }), spool.rejected_full);
      assert.equal(sample(text, 'sipcapture_spool_corrupt_records_total', { db }), 0);
      assert.equal(sample(text, 'sipcapture_spool_already_committed_rows_total', { db }), 0);
    } finally {
      await t.close();
    }
  });
});
