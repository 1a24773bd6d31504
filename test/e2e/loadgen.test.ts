/**
 * The load generator against a real daemon: `sipcapture send` (the CLI, a child process) sends
 * mixed calls / registrations / OPTIONS as HEP v1/v2/v3 over UDP and HEP3 over TCP to an
 * in-process daemon on SQLite, and exactly that many rows must be stored, in the Homer 5 tables
 * the flows belong to, with one Call-ID per flow. Plus the generator's own guarantees: every
 * packet decodes and parses, tokens are unique, timestamps are the send time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import type { RunningDaemon } from '../../src/daemon.js';
import { decodeHep } from '../../src/hep/decode.js';
import { PacketFactory } from '../../src/loadgen/packets.js';
import { TokenBucket } from '../../src/loadgen/token-bucket.js';
import type { SendSummary } from '../../src/loadgen/sender.js';
import { parseSip } from '../../src/sip/parser.js';
import { runCli } from '../helpers/cli.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/net.js';

interface TableCount {
  name: string;
  rows: number;
  callids: number;
}

function tableCounts(file: string): TableCount[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'sip_capture%'").all() as { name: string }[];
    return tables.map(({ name }) => db.prepare(`SELECT '${name}' AS name, count(*) AS rows, count(DISTINCT callid) AS callids FROM "${name}"`).get() as TableCount);
  } finally {
    db.close();
  }
}

function storedTotal(d: RunningDaemon): number {
  return Object.values(d.stats.snapshot().stored).reduce((a, b) => a + b, 0);
}

function kindOf(table: string): string {
  return table.replace(/_\d{8}$/, '').replace(/^sip_capture_/, '');
}

describe('load generator', () => {
  test('packets decode, parse, carry the send time and one unique token per flow', () => {
    const f = new PacketFactory({ mix: 'mixed', versions: [1, 2, 3], runTag: 'beef', variants: 8 });
    const callIds = new Set<string>();
    const ts = 1_795_348_800_123_456;
    let sizeMin = Infinity;
    let sizeMax = 0;
    for (let i = 0; i < 600; i++) {
      const version = ([1, 2, 3] as const)[i % 3]!;
      const d = decodeHep(f.next(version, ts));
      assert.ok(d.ok, `packet ${i} decodes`);
      const p = d.packet;
      if (version !== 1) assert.deepEqual([p.tsSec, p.tsUsec], [1_795_348_800, 123_456]);
      const text = p.payload.toString('latin1');
      assert.ok(!text.includes('~'), 'no placeholder left');
      assert.ok(parseSip(p.payload).ok, `packet ${i} parses as SIP`);
      const callId = /\r\nCall-ID: ([^\r]+)/.exec(text)?.[1];
      assert.ok(callId?.startsWith('beef'));
      callIds.add(callId ?? '');
      sizeMin = Math.min(sizeMin, p.payload.length);
      sizeMax = Math.max(sizeMax, p.payload.length);
    }
    assert.equal(callIds.size, f.flows, 'one Call-ID per flow');
    assert.ok(sizeMin >= 300 && sizeMax <= 1100, `sizes ${sizeMin}..${sizeMax}`);
  });

  test('token bucket: rate over time, capped bursts', () => {
    const s = 1_000_000_000n;
    const b = new TokenBucket(1000, 10, 0n);
    assert.equal(b.take(100, 0n), 1);
    assert.equal(b.take(100, s / 200n), 5); // 5 ms → 5 tokens
    assert.equal(b.take(100, s), 10); // a long gap banks at most the capacity
    assert.equal(b.take(3, s + s / 100n), 3);
    assert.equal(new TokenBucket(0).take(77), 77, 'rate 0 is unlimited');
  });
});

describe('sipcapture send into a daemon on SQLite', () => {
  let t: TestDaemon;
  let daemon: RunningDaemon;
  let dbFile: string;
  let port: number;

  before(async () => {
    t = await startTestDaemon({ routes: 'homer5' });
    ({ daemon, dbFile, port } = t);
  });

  after(() => t.close());

  test('2,000 mixed messages over UDP (HEP v1, v2, v3) and 500 over TCP become exactly that many rows', async () => {
    const udp = await runCli(['send', '--port', String(port), '--rate', '2000', '--count', '2000', '--mix', 'mixed', '--hep', '1,2,3', '--json'], 60_000);
    assert.equal(udp.code, 0, udp.stderr);
    const u = JSON.parse(udp.stdout) as SendSummary;
    assert.equal(u.sent, 2000);
    assert.equal(u.sendErrors, 0);
    assert.deepEqual(Object.keys(u.byStream).sort(), ['udp/hep1', 'udp/hep2', 'udp/hep3']);

    const tcp = await runCli(['send', '--port', String(port), '--transport', 'tcp', '--connections', '2', '--rate', '2000', '--count', '500', '--mix', 'call', '--seed', '9', '--json'], 60_000);
    assert.equal(tcp.code, 0, tcp.stderr);
    const t = JSON.parse(tcp.stdout) as SendSummary;
    assert.equal(t.sent, 500);

    const total = u.sent + t.sent;
    assert.ok(await waitFor(() => storedTotal(daemon) >= total, 20_000), `stored ${storedTotal(daemon)} of ${total}`);
    const snap = daemon.stats.snapshot();
    assert.deepEqual(snap.dropped, {}, 'nothing dropped');

    const counts = tableCounts(dbFile);
    const byKind: Record<string, number> = {};
    let callids = 0;
    for (const c of counts) {
      byKind[kindOf(c.name)] = (byKind[kindOf(c.name)] ?? 0) + c.rows;
      callids += c.callids;
    }
    assert.equal(
      counts.reduce((a, c) => a + c.rows, 0),
      total,
      'exactly one row per message',
    );
    // Homer 5 routing: calls (INVITE/ACK/BYE and their replies), registrations, OPTIONS in rest.
    assert.equal(byKind['call'], (u.byFlow['call'] ?? 0) + (t.byFlow['call'] ?? 0));
    assert.equal(byKind['registration'], u.byFlow['register']);
    assert.equal(byKind['rest'], u.byFlow['options']);
    // A flow's Call-ID lands in one table, so distinct Call-IDs per table add up to the flows
    // (± the last flow of each run, which may be cut short but still has its own Call-ID).
    assert.equal(callids, u.flows + t.flows);
  });
});
