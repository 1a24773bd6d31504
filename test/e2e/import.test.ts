/**
 * `sipcapture import` end to end: real captures from ../shared/pcaps go through the raw
 * decoder, the pipeline and a real SQLite store; the rows carry the inner (tunnelled)
 * addresses and the reassembled messages.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { requireOrSkip, SHARED_DIR } from '../helpers/env.js';
import { runCli } from '../helpers/cli.js';
import { rowBatchCodec } from '../../src/store/spool/record-codec.js';
import { Spool } from '../../src/store/spool/segment-log.js';
import { spoolDirFor } from '../../src/store/spool-dirs.js';
import { PG_URL, RUN, skipReason } from '../store/postgres/helpers.js';
import pg from 'pg';

const PCAPS = process.env['SIPCAPTURE_SHARED_DIR'] !== undefined ? path.join(process.env['SIPCAPTURE_SHARED_DIR'], 'pcaps') : path.join(SHARED_DIR, 'pcaps');
const skip = requireOrSkip(existsSync(PCAPS), `the shared captures folder ${PCAPS}`);

interface Row {
  method: string;
  source_ip: string;
  source_port: number;
  destination_ip: string;
  destination_port: number;
  proto: number;
  family: number;
  msglen: number;
}

describe('sipcapture import', { skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sipcapture-import-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  interface Summary {
    packets: number;
    packets_with_messages: number;
    packets_joined: number;
    packets_dropped: number;
    messages: number;
    from_hep: number;
    from_websocket: number;
    stored: number;
    dropped: Record<string, number>;
  }

  async function importInto(name: string, extra: Record<string, unknown> = {}): Promise<{ rows: Row[]; summary: Summary; stderr: string }> {
    const db = path.join(dir, `${name}.sqlite`);
    rmSync(db, { force: true });
    const cfg = path.join(dir, `${name}.json5`);
    writeFileSync(cfg, JSON.stringify({ db_url: `sqlite://${db}`, log_level: 'warn', spool_dir: path.join(dir, 'spool'), ...extra }));
    const r = await runCli(['import', path.join(PCAPS, name), '-c', cfg, '--json'], 60_000);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Summary;
    const conn = new Database(db, { readonly: true });
    try {
      // no row stored: the table was never created
      if (conn.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sip_capture'").get() === undefined) return { rows: [], summary, stderr: r.stderr };
      const rows = conn
        .prepare('SELECT method, source_ip, source_port, destination_ip, destination_port, proto, family, length(msg) AS msglen FROM sip_capture')
        .all() as Row[];
      return { rows, summary, stderr: r.stderr };
    } finally {
      conn.close();
    }
  }

  test('prints a human summary by default, in the style of sipcapture send', async () => {
    const db = path.join(dir, 'human.sqlite');
    const cfg = path.join(dir, 'human.json5');
    writeFileSync(cfg, JSON.stringify({ db_url: `sqlite://${db}`, log_level: 'warn' }));
    const file = path.join(PCAPS, 'ipip-rawip.pcap');
    const r = await runCli(['import', file, '-c', cfg], 60_000);
    assert.equal(r.code, 0, r.stderr);
    const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(r.stdout, new RegExp(`^read \\d+ packets from ${escaped}: \\d+ with messages, \\d+ joined into a reassembled message, \\d+ dropped\n8 SIP messages \\(0 from HEP, 0 from WebSocket frames\\)\nstored 8 rows: sip_capture 8\ndropped: `));
  });

  test('IPIP capture: rows carry the inner addresses and ports', async () => {
    const { rows, summary } = await importInto('ipip-rawip.pcap');
    assert.equal(summary.messages, 8);
    assert.equal(rows.length, 8);
    assert.equal(summary.stored, 8);
    const first = rows.find((r) => r.source_ip === '179.43.150.26');
    assert.ok(first, JSON.stringify(rows[0]));
    assert.equal(first.source_port, 33489);
    assert.equal(first.destination_ip, '157.161.10.72');
    assert.equal(first.destination_port, 5060);
    assert.equal(first.proto, 1);
    assert.equal(first.family, 2);
  });

  test('fragmented IPv6: reassembled INVITEs are stored whole', async () => {
    const { rows, summary } = await importInto('ipv6-fragmented.pcap');
    assert.equal(rows.length, summary.stored);
    assert.ok(rows.length > 0);
    assert.ok(rows.every((r) => r.family === 10));
    const lengths = rows.filter((r) => r.method === 'INVITE').map((r) => r.msglen);
    assert.ok(lengths.includes(1691) && lengths.includes(1871), `INVITE lengths ${lengths.join(',')}`);
  });

  test('SIP over TCP split across segments: one row per message, proto TCP', async () => {
    const { rows, summary } = await importInto('sip_ipv4_tcp_fragmented.pcap');
    assert.equal(summary.messages, 406);
    assert.equal(rows.length, summary.stored);
    assert.ok(rows.length >= 400, `stored ${rows.length}`);
    assert.ok(rows.every((r) => r.proto === 2));
  });

  test('a capture of HEP traffic: the HEP packets are stored as if received, and the summary says so', async () => {
    const { rows, summary } = await importInto('hep3-mixed.pcap');
    assert.deepEqual([summary.packets, summary.messages, summary.from_hep, summary.stored], [8, 8, 8, 8]);
    assert.equal(rows.length, 6, 'the SIP ones in sip_capture; the log and the RTCP report in their tables');
    assert.ok(rows.some((r) => r.method === 'INVITE'));
  });

  test('SIP over WebSocket: the 11 messages in WebSocket frames are stored with proto WS', async () => {
    const { rows, summary } = await importInto('sip_tcp_websocket.pcap');
    assert.deepEqual([summary.from_websocket, rows.filter((r) => r.proto === 5).length], [11, 11]);
  });

  test('capture_bad_msgs keeps the call whose Via has an unbracketed IPv6 host, those columns empty', async () => {
    const strict = await importInto('sip_ipv6_udp.pcap');
    assert.deepEqual([strict.rows.length, strict.summary.dropped['sip_malformed']], [0, 6]);
    const kept = await importInto('sip_ipv6_udp.pcap', { capture_bad_msgs: 1 });
    assert.equal(kept.rows.length, 6);
  });

  test('every summary adds up: packets = with messages + joined + dropped', async () => {
    for (const name of ['mixed-traffic.pcap', 'rtp_rtcp_sip_ipv4_udp.pcap', 'sip_tcp_websocket.pcap']) {
      const { summary } = await importInto(name);
      assert.equal(summary.packets_with_messages + summary.packets_joined + summary.packets_dropped, summary.packets, name);
      assert.equal(summary.stored + (summary.dropped['sip_malformed'] ?? 0), summary.messages, name);
    }
  });

  test('beside a running daemon that holds the spool of the same config, the import works (it uses no spool)', async () => {
    const db = path.join(dir, 'ipip-rawip.pcap.sqlite');
    const spool = await Spool.open({ dir: spoolDirFor(path.join(dir, 'spool'), `sqlite://${db}`), codec: rowBatchCodec, maxBytes: 1 << 20 });
    try {
      const { rows } = await importInto('ipip-rawip.pcap', { spool_max_bytes: 1 << 20 });
      assert.equal(rows.length, 8);
    } finally {
      await spool.close({ removeIfEmpty: true });
    }
  });

  test('PostgreSQL with daily tables: no "cannot create tables ahead" warning at shutdown', async (t) => {
    const why = await skipReason('postgres');
    if (why !== undefined) return t.skip(why);
    const cfg = path.join(dir, 'pg.json5');
    writeFileSync(cfg, JSON.stringify({ db_url: PG_URL, log_level: 'info', routes: [{ table: `imp_${RUN}_%Y%m%d` }] }));
    const r = await runCli(['import', path.join(PCAPS, 'ipip-rawip.pcap'), '-c', cfg], 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /cannot create tables ahead/);
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      const tables = await c.query<{ tablename: string }>('select tablename from pg_tables where tablename like $1', [`imp_${RUN}_%`]);
      let n = 0;
      for (const { tablename } of tables.rows) {
        n += Number((await c.query<{ n: string }>(`select count(*) as n from "${tablename}"`)).rows[0]?.n ?? 0);
        await c.query(`drop table "${tablename}"`);
      }
      assert.equal(n, 8);
    } finally {
      await c.end();
    }
  });
});
