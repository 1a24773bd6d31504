/**
 * Forwarding with real daemons on loopback: what the far side receives compared byte for byte
 * with what was sent, HEP v1/v2 on streams, auth keys, per-destination filters, routes that
 * store and/or forward, the pure relay, and a destination down (spool, replay in order).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeHep } from '../../src/hep/decode.js';
import { encodeHep } from '../../src/hep/encode.js';
import { runImport } from '../../src/commands/import.js';
import { makeTmpDir, startTestDaemon, tableRows } from '../helpers/daemon.js';
import { requireOrSkip, SHARED_DIR } from '../helpers/env.js';
import { HepSink } from '../helpers/hep-sink.js';
import { freePort, sendUdp, waitFor } from '../helpers/net.js';
import { sipReply, sipRequest } from '../helpers/sip-messages.js';

let seq = 0;
function hep(opts: { version?: 1 | 2 | 3; method?: string; protoType?: number; srcIp?: string; authKey?: string; vendor?: boolean; reply?: boolean } = {}): Buffer {
  const callId = `fwd-${++seq}-${Math.random().toString(36).slice(2, 8)}`;
  const payload = opts.reply === true ? sipReply(200, 'OK', opts.method ?? 'INVITE', callId).text : sipRequest(opts.method ?? 'OPTIONS', callId).text;
  return encodeHep({
    version: opts.version ?? 3,
    srcIp: opts.srcIp ?? '192.0.2.10',
    dstIp: '198.51.100.20',
    srcPort: 5060,
    dstPort: 5060,
    tsSec: Math.floor(Date.now() / 1000),
    tsUsec: 1234,
    captureId: 7,
    protoType: opts.protoType ?? 1,
    payload: opts.protoType === 100 ? `log line ${seq}` : payload,
    ...(opts.protoType === 100 ? { correlationId: callId } : {}),
    ...(opts.authKey === undefined ? {} : { authKey: opts.authKey }),
    ...(opts.vendor === true ? { extraChunks: [{ vendor: 0x0032, type: 0x0101, data: Buffer.from([1, 2, 3, 4]) }] } : {}),
  });
}

const hex = (bufs: readonly Buffer[]): string[] => bufs.map((b) => b.toString('hex'));

test('a relay forwards HEP3 byte for byte over UDP and TCP, and HEP v1/v2 as HEP3 on TCP only', async () => {
  const tcp = new HepSink('tcp', await freePort());
  const udp = new HepSink('udp', await freePort());
  await tcp.start();
  await udp.start();
  const edge = await startTestDaemon({ db_url: '', forward: [`tcp:127.0.0.1:${tcp.port}`, { name: 'u', address: `udp:127.0.0.1:${udp.port}` }] });
  try {
    const v3 = [hep({ vendor: true }), hep({ authKey: 'agent-key' }), hep({ protoType: 100 })];
    const v1 = hep({ version: 1 });
    const v2 = hep({ version: 2 });
    await sendUdp([...v3, v1, v2], edge.port);
    assert.ok(await waitFor(() => tcp.packets.length === 5 && udp.packets.length === 5), `tcp ${tcp.packets.length}, udp ${udp.packets.length}`);
    assert.deepEqual(hex(udp.packets), hex([...v3, v1, v2]), 'UDP: every version exactly as received');
    assert.deepEqual(hex(tcp.packets.slice(0, 3)), hex(v3), 'TCP: HEP3 exactly as received, vendor chunks and key included');
    for (const [i, orig] of [v1, v2].entries()) {
      const got = decodeHep(tcp.packets[3 + i]!);
      const want = decodeHep(orig);
      assert.ok(got.ok && want.ok);
      assert.equal(got.packet.version, 3);
      for (const k of ['srcIp', 'dstIp', 'srcPort', 'dstPort', 'ipProto', 'protoType', 'tsSec', 'tsUsec', 'captureId'] as const) {
        assert.equal(got.packet[k], want.packet[k], `v${want.packet.version} ${k}`);
      }
      assert.ok(got.packet.payload.equals(want.packet.payload));
    }
    const stats = edge.daemon.forward!.stats();
    assert.deepEqual(stats.map((s) => [s.name, s.forwarded]), [[`tcp:127.0.0.1:${tcp.port}`, 5], ['u', 5]]);
    // A pure relay counts nothing as dropped: every packet was forwarded.
    assert.deepEqual(edge.daemon.stats.snapshot().dropped, {});
  } finally {
    await edge.close();
    await tcp.stop();
    await udp.stop();
  }
});

test('auth keys are replaced or removed per destination; hep_types, methods and sources filter', async () => {
  const sinks = await Promise.all(['replace', 'remove', 'types', 'methods', 'sources'].map(async () => new HepSink('tcp', await freePort())));
  for (const s of sinks) await s.start();
  const [replace, remove, types, methods, sources] = sinks as [HepSink, HepSink, HepSink, HepSink, HepSink];
  const edge = await startTestDaemon({
    db_url: '',
    forward: [
      { name: 'replace', address: `tcp:127.0.0.1:${replace.port}`, auth_key: 'central-key' },
      { name: 'remove', address: `tcp:127.0.0.1:${remove.port}`, auth_key: null },
      { name: 'types', address: `tcp:127.0.0.1:${types.port}`, hep_types: [100] },
      { name: 'methods', address: `tcp:127.0.0.1:${methods.port}`, methods: ['INVITE'] },
      { name: 'sources', address: `tcp:127.0.0.1:${sources.port}`, sources: ['10.1.0.0/16'] },
    ],
  });
  try {
    const withKey = hep({ authKey: 'agent-key', vendor: true });
    const log = hep({ protoType: 100 });
    const invite = hep({ method: 'INVITE' });
    const reply = hep({ method: 'INVITE', reply: true });
    const fromNet = hep({ srcIp: '10.1.2.3' });
    await sendUdp([withKey, log, invite, reply, fromNet], edge.port);
    assert.ok(await waitFor(() => replace.packets.length === 5 && remove.packets.length === 5 && types.packets.length === 1 && methods.packets.length === 2 && sources.packets.length === 1));
    const r = decodeHep(replace.packets[0]!);
    const n = decodeHep(remove.packets[0]!);
    assert.ok(r.ok && n.ok);
    assert.equal(r.packet.authKey, 'central-key');
    assert.equal(n.packet.authKey, null);
    // Everything else kept, the vendor chunk included.
    assert.ok(r.packet.chunks.some((c) => c.vendor === 0x0032 && c.data.equals(Buffer.from([1, 2, 3, 4]))));
    assert.ok(r.packet.payload.equals(decodeHep(withKey).ok ? (decodeHep(withKey) as { packet: { payload: Buffer } }).packet.payload : Buffer.alloc(0)));
    assert.deepEqual(hex(types.packets), hex([log]));
    assert.deepEqual(hex(methods.packets), hex([invite, reply]), 'requests by method, replies by CSeq method');
    assert.deepEqual(hex(sources.packets), hex([fromNet]));
    assert.deepEqual(edge.daemon.stats.snapshot().dropped, {});
  } finally {
    await edge.close();
    for (const s of sinks) await s.stop();
  }
});

test('routes: a rule stores, forwards to named destinations, or both', async () => {
  const a = new HepSink('tcp', await freePort());
  const all = new HepSink('tcp', await freePort());
  await a.start();
  await all.start();
  const d = await startTestDaemon({
    forward: [{ name: 'a', address: `tcp:127.0.0.1:${a.port}` }, { name: 'all', address: `tcp:127.0.0.1:${all.port}` }],
    routes: [
      { method: ['INVITE'], forward: ['a'] }, // stored and forwarded
      { method: ['REGISTER'], forward: ['a'], store: false }, // forwarded only
      { method: ['OPTIONS'], store: false }, // neither (filtered)
      {}, // stored only
    ],
  });
  try {
    const invite = hep({ method: 'INVITE' });
    const register = hep({ method: 'REGISTER' });
    const options = hep({ method: 'OPTIONS' });
    const bye = hep({ method: 'BYE' });
    await sendUdp([invite, register, options, bye], d.port);
    assert.ok(await waitFor(() => a.packets.length === 2 && all.packets.length === 4));
    assert.deepEqual(hex(a.packets), hex([invite, register]));
    assert.ok(await waitFor(() => tableRows(d.dbFile, 'sip_capture').length === 2));
    assert.deepEqual(tableRows(d.dbFile, 'sip_capture').map((r) => r['method']), ['INVITE', 'BYE']);
    assert.deepEqual(d.daemon.stats.snapshot().dropped, { filtered: 1 }, 'only the OPTIONS, which no rule stores or forwards');
  } finally {
    await d.close();
    await a.stop();
    await all.stop();
  }
});

test('a destination that is down: packets are spooled, then replayed in order exactly once; /health says degraded', async () => {
  const port = await freePort();
  const sink = new HepSink('tcp', port);
  const edge = await startTestDaemon({ db_url: '', forward: [{ name: 'central', address: `tcp:127.0.0.1:${port}` }] });
  try {
    const sent: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const batch = Array.from({ length: 20 }, () => hep());
      sent.push(...batch);
      await sendUdp(batch, edge.port);
    }
    assert.ok(await waitFor(() => edge.daemon.forward!.stats()[0]!.spooled === 1000), JSON.stringify(edge.daemon.forward!.stats()));
    const health = (await (await fetch(`http://127.0.0.1:${edge.httpPort}/health`)).json()) as { status: string };
    assert.equal(health.status, 'degraded');
    assert.ok(existsSync(path.join(edge.dir, 'spool', 'forward-central')));
    await sink.start();
    assert.ok(await waitFor(() => sink.packets.length >= 1000, 15_000), `${sink.packets.length}`);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(hex(sink.packets), hex(sent), 'all, once, in order');
    const s = edge.daemon.forward!.stats()[0]!;
    assert.equal(s.replayed, 1000);
    assert.equal(s.forwarded, 1000);
    const rpc = (await (await fetch(`http://127.0.0.1:${edge.httpPort}/health`)).json()) as { status: string };
    assert.equal(rpc.status, 'ok');
    const metrics = await (await fetch(`http://127.0.0.1:${edge.httpPort}/metrics`)).text();
    for (const line of ['sipcapture_forward_spooled_total{destination="central"} 1000', 'sipcapture_forward_replayed_total{destination="central"} 1000', 'sipcapture_forward_up{destination="central"} 1', 'sipcapture_forward_dropped_total{destination="central",reason="spool_full"} 0']) {
      assert.ok(metrics.includes(line), line);
    }
  } finally {
    await edge.close();
    await sink.stop();
  }
  assert.ok(!existsSync(path.join(edge.dir, 'spool')) || readdirSync(path.join(edge.dir, 'spool')).length === 0);
});

test('sipcapture import forwards raw capture as HEP3 built from the capture (addresses, time, capture id, node name)', { skip: requireOrSkip(existsSync(path.join(SHARED_DIR, 'pcaps')), 'the shared captures folder') }, async () => {
  const sink = new HepSink('tcp', await freePort());
  await sink.start();
  const dir = makeTmpDir('sipcapture-import-fwd-');
  const cfg = path.join(dir, 'c.json5');
  writeFileSync(cfg, JSON.stringify({ db_url: `sqlite://${path.join(dir, 'c.sqlite')}`, capture_node: 'homer07', spool_dir: path.join(dir, 'spool'), forward: [`tcp:127.0.0.1:${sink.port}`] }));
  try {
    const summary = await runImport(path.join(SHARED_DIR, 'pcaps', 'ipip-rawip.pcap'), cfg);
    const stored = Object.values(summary.stats.stored).reduce((a, b) => a + b, 0);
    assert.ok(stored > 0);
    assert.ok(await waitFor(() => sink.packets.length === summary.file.messages), `${sink.packets.length} of ${summary.file.messages}`);
    const rows = tableRows(path.join(dir, 'c.sqlite'), 'sip_capture');
    for (const [i, p] of sink.packets.entries()) {
      const d = decodeHep(p);
      assert.ok(d.ok);
      assert.equal(d.packet.version, 3);
      assert.equal(d.packet.captureId, 7);
      assert.ok(d.packet.chunks.some((c) => c.type === 0x13 && c.data.toString() === 'homer07'));
      const row = rows[i]!;
      assert.deepEqual([d.packet.srcIp, d.packet.srcPort, d.packet.dstIp, d.packet.dstPort], [row['source_ip'], row['source_port'], row['destination_ip'], row['destination_port']]);
      assert.equal(d.packet.tsSec * 1e6 + d.packet.tsUsec, row['micro_ts']);
      assert.ok(d.packet.payload.equals(Buffer.from(row['msg'] as Uint8Array)));
    }
    assert.equal(summary.forward?.[0]?.forwarded, summary.file.messages);
  } finally {
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
