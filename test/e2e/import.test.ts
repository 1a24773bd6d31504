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

  async function importInto(name: string): Promise<{ rows: Row[]; summary: { packets: number; messages: number; stored: number } }> {
    const db = path.join(dir, `${name}.sqlite`);
    const cfg = path.join(dir, `${name}.json5`);
    writeFileSync(cfg, JSON.stringify({ db_url: `sqlite://${db}`, log_level: 'warn' }));
    const r = await runCli(['import', path.join(PCAPS, name), '-c', cfg, '--json'], 60_000);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { packets: number; messages: number; stored: number };
    const conn = new Database(db, { readonly: true });
    try {
      const rows = conn
        .prepare('SELECT method, source_ip, source_port, destination_ip, destination_port, proto, family, length(msg) AS msglen FROM sip_capture')
        .all() as Row[];
      return { rows, summary };
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
    assert.match(r.stdout, new RegExp(`^read \\d+ packets, 8 SIP messages from ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\nstored 8 rows: sip_capture 8\ndropped: `));
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
});
