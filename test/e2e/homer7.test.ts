/**
 * HOMER 7 end to end on the real PostgreSQL: a daemon with `schema: homer7` receives the golden
 * corpus, RTCP and log packets and `sipcapture send` traffic over HEP, and homer-app's query
 * shapes (docs/homer7.md) find them: the search by data_header fields (IN, LIKE, ::int, raw
 * ILIKE), the call flow by sid in a time window, and the correlation look-ups into
 * hep_proto_5_default / hep_proto_100_default by sid and into hep_proto_1_call by callid with
 * `_b2b-1`. EXPLAIN shows partition pruning and the per-partition indexes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import pg from 'pg';
import { encodeHep } from '../../src/hep/encode.js';
import { goldenCorpus } from '../helpers/kamailio-corpus.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { runCli } from '../helpers/cli.js';
import { PG_URL, RUN, skipReason } from '../store/postgres/helpers.js';

interface CorpusLine {
  set: string;
  hep_hex: string;
  meta: { ts_sec?: number; call_id?: string; cseq_method?: string; method?: string };
  kamailio_row: Record<string, string | number>;
}

const corpus = goldenCorpus<CorpusLine>();

const CALL_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'UPDATE', 'PRACK', 'REFER', 'INFO', 'NOTIFY']);
function expectedParent(cseq: string): string {
  const m = cseq.trim().split(/\s+/).at(-1) ?? '';
  return CALL_METHODS.has(m) ? 'hep_proto_1_call' : m === 'REGISTER' ? 'hep_proto_1_registration' : 'hep_proto_1_default';
}

const pgSkip = await skipReason('postgres');
const SCHEMA = `h7e2e_${RUN}`;
const URL_IN_SCHEMA = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${SCHEMA}`)}`;
// The golden packets are dated 2026-11-22 12:00 UTC; the window homer-app would ask for.
const FROM = '2026-11-22T11:55:00Z';
const TO = '2026-11-22T12:10:00Z';

async function waitFor(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('homer7 end to end', { skip: pgSkip }, () => {
  let admin: pg.Client;
  let db: pg.Client;
  let d: TestDaemon;
  const callId = corpus.find((l) => l.meta.cseq_method === 'INVITE' && l.set === 's3')!.kamailio_row['callid'] as string;

  before(async () => {
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${SCHEMA}`);
    db = new pg.Client({ connectionString: URL_IN_SCHEMA });
    await db.connect();
    d = await startTestDaemon({ db_url: URL_IN_SCHEMA, schema: 'homer7', hep_auth_keys: [] });
    const sock = dgram.createSocket('udp4');
    const send = (b: Buffer): Promise<void> => new Promise((res, rej) => sock.send(b, d.port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    for (const l of corpus) await send(Buffer.from(l.hep_hex, 'hex'));
    // QoS and log packets of the first call, correlated by its Call-ID (HEP chunk 0x11).
    const base = { srcIp: '192.0.2.102', dstIp: '198.51.100.33', srcPort: 5004, dstPort: 5006, tsSec: 1795348801, tsUsec: 250, captureId: 2001, correlationId: callId };
    await send(encodeHep({ ...base, protoType: 5, payload: '{"type":200,"ssrc":1,"report_count":0}' }));
    await send(encodeHep({ ...base, protoType: 100, payload: 'call answered' }));
    await send(encodeHep({ ...base, protoType: 35, payload: '{"MOS":4.1}' }));
    // An agent's auth key (heplify-server would store it in clear as capturePass).
    const options = 'OPTIONS sip:probe@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKauth\r\nFrom: <sip:probe@example.com>;tag=1\r\nTo: <sip:probe@example.com>\r\nCall-ID: auth-key-probe@192.0.2.9\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';
    await send(encodeHep({ ...base, correlationId: undefined, srcPort: 5060, dstPort: 5060, authKey: 'sekrit-agent-key', payload: options }));
    sock.close();
    const r = await runCli(['send', '--port', String(d.port), '--count', '300', '--rate', '3000', '--mix', 'mixed', '--json'], 60_000);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('every row', async () => {
      const n = await db.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM hep_proto_1_call) + (SELECT count(*) FROM hep_proto_1_registration) + (SELECT count(*) FROM hep_proto_1_default) AS n`,
      );
      return Number(n.rows[0]!.n) >= corpus.length + 301;
    });
  });

  after(async () => {
    await d?.close();
    await db?.end();
    await admin?.query(`DROP SCHEMA ${SCHEMA} CASCADE`);
    await admin?.end();
  });

  test('every packet is a row, in the parent its CSeq method chooses, nothing dropped', async () => {
    const stats = d.daemon.stats.snapshot();
    assert.deepEqual(stats.dropped, {}, JSON.stringify(stats.dropped));
    for (const l of corpus) {
      const row = l.kamailio_row;
      const r = await db.query(`SELECT tableoid::regclass::text AS part FROM ${expectedParent(String(row['cseq']))} WHERE sid = $1 AND data_header->>'cseq' = $2 AND data_header->>'method' = $3`, [
        row['callid'],
        row['cseq'],
        row['method'],
      ]);
      assert.ok(r.rows.length >= 1, `${l.set} ${String(row['method'])} ${String(row['callid'])} not in ${expectedParent(String(row['cseq']))}`);
      if (l.set !== 'd1') assert.match(String(r.rows[0].part), /^hep_proto_1_[a-z]+_20261122_1200$/);
    }
    const other = await db.query(`SELECT (SELECT count(*) FROM hep_proto_5_default)::int AS rtcp, (SELECT count(*) FROM hep_proto_100_default)::int AS logs, (SELECT count(*) FROM hep_proto_35_default)::int AS report`);
    assert.deepEqual(other.rows[0], { rtcp: 1, logs: 1, report: 1 });
  });

  test('homer-app search: data_header IN, LIKE, ::int, raw ILIKE, in a time window, LIMIT 200', async () => {
    const inList = await db.query(`SELECT * FROM hep_proto_1_call WHERE create_date between $1 AND $2 AND (data_header->>'from_user' IN ($3, $4)) LIMIT 200`, [FROM, TO, 'heidi', 'alice']);
    assert.ok(inList.rows.length > 0);
    for (const r of inList.rows as { data_header: Record<string, string>; protocol_header: Record<string, unknown> }[]) {
      assert.ok(['heidi', 'alice'].includes(r.data_header['from_user']!));
      assert.equal(typeof r.protocol_header['captureId'], 'string');
      assert.equal(typeof r.protocol_header['timeSeconds'], 'number');
    }
    const like = await db.query(`SELECT * FROM hep_proto_1_call WHERE create_date between $1 AND $2 AND (data_header->>'ruri_user' LIKE $3) LIMIT 200`, [FROM, TO, 'mall%']);
    assert.ok(like.rows.length > 0);
    const asInt = await db.query(`SELECT * FROM hep_proto_1_call WHERE create_date between $1 AND $2 AND ((protocol_header->>'srcPort')::int = $3) LIMIT 200`, [FROM, TO, 5060]);
    assert.ok(asInt.rows.length > 0);
    const raw = await db.query(`SELECT * FROM hep_proto_1_call WHERE create_date between $1 AND $2 AND raw ILIKE '%linphone%' LIMIT 200`, [FROM, TO]);
    assert.ok(raw.rows.length > 0);
  });

  test('homer-app call flow: sid = ANY(ARRAY[…]) in the window, then the correlation look-ups', async () => {
    const flow = await db.query(`SELECT id, sid, create_date, protocol_header, data_header, raw FROM hep_proto_1_call WHERE create_date between $1 AND $2 AND sid = ANY(ARRAY[$3])`, [FROM, TO, callId]);
    const expected = corpus.filter((l) => l.kamailio_row['callid'] === callId && expectedParent(String(l.kamailio_row['cseq'])) === 'hep_proto_1_call').length;
    assert.equal(flow.rows.length, expected);
    // data_header.callid → hep_proto_5_default / hep_proto_100_default sid, lookup_range −300 / +200 s.
    const from = new Date(Date.parse(FROM) - 300_000).toISOString();
    const to = new Date(Date.parse(TO) + 200_000).toISOString();
    const rtcp = await db.query(`SELECT * FROM hep_proto_5_default WHERE sid in ($1) and create_date between $2 and $3`, [callId, from, to]);
    assert.equal(rtcp.rows.length, 1);
    assert.deepEqual((rtcp.rows[0] as { data_header: unknown }).data_header, { node: '2001', proto: 'rtcp' });
    const logs = await db.query(`SELECT * FROM hep_proto_100_default WHERE sid in ($1) and create_date between $2 and $3`, [callId, from, to]);
    assert.equal(logs.rows.length, 1);
    // data_header.callid + "_b2b-1" → hep_proto_1_call on data_header->>'callid' (a B2BUA's leg; none here, the query must run).
    const b2b = await db.query(`SELECT * FROM hep_proto_1_call WHERE create_date between $1 AND $2 AND data_header->>'callid' = ANY(ARRAY[$3])`, [from, to, `${callId}_b2b-1`]);
    assert.equal(b2b.rows.length, 0);
    // protocol_header.correlation_id → hep_proto_1_call.sid
    const corr = await db.query(`SELECT DISTINCT protocol_header->>'correlation_id' AS c FROM hep_proto_1_call WHERE sid = $1 AND create_date between $2 AND $3`, [callId, FROM, TO]);
    const bySid = await db.query(`SELECT count(*)::int AS n FROM hep_proto_1_call WHERE create_date between $1 AND $2 AND sid = ANY($3::varchar[])`, [from, to, corr.rows.map((r: { c: string }) => r.c)]);
    assert.ok(bySid.rows[0].n >= 0);
  });

  test('EXPLAIN: the window prunes to one partition and the search uses its indexes', async () => {
    await db.query('ANALYZE');
    await db.query('SET enable_seqscan = off');
    try {
      const plan = await db.query(`EXPLAIN (FORMAT JSON) SELECT * FROM hep_proto_1_call WHERE create_date between $1 AND $2 AND (data_header->>'from_user' IN ($3)) LIMIT 200`, [
        '2026-11-22T12:00:00Z',
        '2026-11-22T12:30:00Z',
        'heidi',
      ]);
      const text = JSON.stringify(plan.rows[0]);
      const relations = [...text.matchAll(/"Relation Name":"([^"]+)"/g)].map((m) => m[1]);
      assert.deepEqual([...new Set(relations)], ['hep_proto_1_call_20261122_1200']);
      assert.match(text, /hep_proto_1_call_20261122_1200_(from_user|create_date)/);
      const bySid = await db.query(`EXPLAIN (FORMAT JSON) SELECT * FROM hep_proto_1_call WHERE create_date between $1 AND $2 AND sid = ANY(ARRAY[$3])`, [
        '2026-11-22T12:00:00Z',
        '2026-11-22T12:30:00Z',
        callId,
      ]);
      assert.match(JSON.stringify(bySid.rows[0]), /hep_proto_1_call_20261122_1200_(sid|create_date)/);
    } finally {
      await db.query('RESET enable_seqscan');
    }
  });

  test('metrics count the partitions created', async () => {
    const text = await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text();
    const created = /^sipcapture_homer7_partitions_created_total\{db="[^"]+"\} (\d+)$/m.exec(text);
    assert.ok(created !== null && Number(created[1]) > 0, text.split('\n').filter((l) => l.includes('homer7')).join('\n'));
    assert.match(text, /^sipcapture_homer7_fallback_rows_total\{db="[^"]+"\} 0$/m);
  });

  test('the HEP auth key is never stored', async () => {
    const probe = await db.query(`SELECT protocol_header::text AS p FROM hep_proto_1_default WHERE sid = 'auth-key-probe@192.0.2.9'`);
    assert.equal(probe.rows.length, 1);
    assert.doesNotMatch(String(probe.rows[0].p), /sekrit|capturePass/);
  });
});
