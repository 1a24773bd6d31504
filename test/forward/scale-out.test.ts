/**
 * Past one machine, with real daemons on loopback and a real PostgreSQL:
 * - several capture nodes write the same Homer 5 daily tables at once: no table-creation race
 *   ends in an error or a lost row, and `node` (capture_node) tells the nodes apart; dedup works
 *   within one node only (the same packet sent to two nodes is stored twice);
 * - one daemon shards calls over two databases by CRC-32 of the Call-ID (`shard`): every message
 *   of a call lands on the same database, and the two together hold everything once.
 * SIPCAPTURE_TEST_PG_URL2 names a second database (another server); without it the second shard
 * is another schema of the first.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { encodeHep } from '../../src/hep/encode.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sendUdp, waitFor } from '../helpers/net.js';
import { sipReply, sipRequest } from '../helpers/sip-messages.js';
import { PG_URL, pgNamespace, RUN, skipReason, type Namespace } from '../store/_e2e.js';

const PG_URL2 = process.env['SIPCAPTURE_TEST_PG_URL2'] ?? PG_URL;
const skip = await skipReason('postgres');

function hep(text: string, captureId: number): Buffer {
  const now = Date.now();
  return encodeHep({ srcIp: '192.0.2.10', dstIp: '198.51.100.20', srcPort: 5060, dstPort: 5060, tsSec: Math.floor(now / 1000), tsUsec: (now % 1000) * 1000, captureId, payload: text });
}

/** The messages of one call: INVITE, 100, 200, ACK, BYE, 200 — plus a REGISTER and an OPTIONS (other daily tables). */
function call(callId: string, captureId: number): Buffer[] {
  return [
    sipRequest('INVITE', callId).text,
    sipReply(100, 'Trying', 'INVITE', callId).text,
    sipReply(200, 'OK', 'INVITE', callId).text,
    sipRequest('ACK', callId).text,
    sipRequest('BYE', callId).text,
    sipReply(200, 'OK', 'BYE', callId).text,
    sipRequest('REGISTER', `${callId}-reg`).text,
    sipRequest('OPTIONS', `${callId}-opt`).text,
  ].map((t) => hep(t, captureId));
}

describe('scale-out topologies on PostgreSQL', { skip }, () => {
  const spaces: Namespace[] = [];
  const daemons: TestDaemon[] = [];
  after(async () => {
    for (const d of daemons) await d.close().catch(() => undefined);
    for (const n of spaces) await n.drop().catch(() => undefined);
  });

  test('three capture nodes write the same Homer 5 daily tables at once: no creation race, no lost row, nodes kept apart', async () => {
    const ns = await pgNamespace('nodes');
    spaces.push(ns);
    const nodes = await Promise.all([1, 2, 3].map((i) => startTestDaemon({ db_url: ns.url(), routes: 'homer5', capture_node: `node${i}`, dedup: 'all' })));
    daemons.push(...nodes);
    const perNode = 200;
    // All nodes start at once, on tables that do not exist yet.
    await Promise.all(
      nodes.map(async (d, i) => {
        const packets: Buffer[] = [];
        for (let c = 0; c < perNode / 8; c++) packets.push(...call(`n${i}-${c}-${RUN}`, 10 + i));
        await sendUdp(packets, d.port);
      }),
    );
    // The same packet captured twice, by node1 and node2: dedup is per node, so it is stored twice.
    const twice = hep(sipRequest('INVITE', `dup-${RUN}`).text, 99);
    await sendUdp([twice], nodes[0]!.port);
    await sendUdp([twice], nodes[1]!.port);
    const total = perNode * 3 + 2;
    assert.ok(await waitFor(async () => (await ns.callids()).length >= total, 20_000), `${(await ns.callids()).length} of ${total}`);
    const rows = await ns.readAll();
    assert.equal(rows.length, total);
    const tables = new Set(rows.map((r) => r.table.replace(/_\d{8}$/, '')));
    assert.deepEqual([...tables].sort(), ['sip_capture_call', 'sip_capture_registration', 'sip_capture_rest']);
    for (const [i, d] of nodes.entries()) {
      assert.deepEqual(d.daemon.stats.snapshot().dropped, {}, `node${i + 1} dropped nothing`);
      const mine = rows.filter((r) => String(r.callid).startsWith(`n${i}-`));
      assert.equal(mine.length, perNode);
      assert.deepEqual([...new Set(mine.map((r) => r['node']))], [`node${i + 1}:${10 + i}`]);
    }
    assert.deepEqual(rows.filter((r) => r.callid === `dup-${RUN}`).map((r) => r['node']).sort(), ['node1:99', 'node2:99']);
  });

  test('calls sharded over two databases by the Call-ID hash: each call whole on one of them', async () => {
    const a = await pgNamespace('shard_a');
    const b = await pgNamespace('shard_b', PG_URL2);
    spaces.push(a, b);
    const d = await startTestDaemon({
      db_url: '',
      capture_mode: [`a=>db_url=${a.url()};table_name=sip_capture;mt_mode=rand`, `b=>db_url=${b.url()};table_name=sip_capture;mt_mode=rand`],
      routes: [{ shard: ['a', 'b'] }],
    });
    daemons.push(d);
    const calls = 100;
    const packets: Buffer[] = [];
    for (let c = 0; c < calls; c++) packets.push(...call(`s${c}-${RUN}`, 1));
    await sendUdp(packets, d.port);
    const total = calls * 8;
    const count = async (): Promise<number> => (await a.callids()).length + (await b.callids()).length;
    assert.ok(await waitFor(async () => (await count()) >= total, 20_000), `${await count()} of ${total}`);
    const inA = await a.callids();
    const inB = await b.callids();
    assert.equal(inA.length + inB.length, total);
    const setA = new Set(inA);
    for (const id of inB) assert.ok(!setA.has(id), `${id} is on both databases`);
    // Both shards are used, roughly evenly.
    assert.ok(inA.length > total / 4 && inB.length > total / 4, `${inA.length} / ${inB.length}`);
    // Whole calls: the 6 messages of each call on one database.
    const callsOn = (ids: string[]): Map<string, number> => {
      const m = new Map<string, number>();
      for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
      return m;
    };
    for (const [id, n] of [...callsOn(inA), ...callsOn(inB)]) if (!id.endsWith('-reg') && !id.endsWith('-opt')) assert.equal(n, 6, id);
  });
});
