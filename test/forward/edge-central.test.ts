/**
 * Edge → central with real daemons on loopback: edges store locally (SQLite) and forward over
 * TCP, or TLS with client certificates, to a central daemon that is stopped and started again
 * under load; every message reaches the central database exactly once with the payload sent.
 * And a relay killed (SIGKILL) in the middle of replaying its spool: nothing is lost, and what
 * is sent twice is at most the spool record being replayed at the kill. And the far side's
 * connections reset under load: nothing twice, loss bounded by what was in flight.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import readline from 'node:readline';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { loadConfig } from '../../src/config/load.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon.js';
import { encodeHep } from '../../src/hep/encode.js';
import { decodeHep } from '../../src/hep/decode.js';
import { makeTmpDir, memoryLogger, startTestDaemon, tableRows } from '../helpers/daemon.js';
import { spawnCli } from '../helpers/cli.js';
import { HepSink } from '../helpers/hep-sink.js';
import { freePort, sendUdp, waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';
import { makeTestCerts } from '../helpers/tls.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function invite(callId: string): { packet: Buffer; payload: string } {
  const payload = sipRequest('INVITE', callId).text;
  const now = Date.now();
  return {
    payload,
    packet: encodeHep({ srcIp: '192.0.2.10', dstIp: '198.51.100.20', srcPort: 5060, dstPort: 5060, tsSec: Math.floor(now / 1000), tsUsec: (now % 1000) * 1000, captureId: 3, payload }),
  };
}

/** Sends `perTick` messages every 10 ms for `ms` to a UDP port; returns callid → payload. */
async function load(port: number, tag: string, ms: number, perTick: number, sent: Map<string, string>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const batch = Array.from({ length: perTick }, () => {
      const callId = `${tag}-${sent.size}`;
      const m = invite(callId);
      sent.set(callId, m.payload);
      return m.packet;
    });
    await sendUdp(batch, port);
    await sleep(10);
  }
}

for (const protocol of ['tcp', 'tls'] as const) {
  test(`edge → central over ${protocol.toUpperCase()}: the central restarts under load, every message arrives exactly once`, async (t) => {
    const certs = protocol === 'tls' ? makeTestCerts() : null;
    const centralPort = await freePort();
    const central = await startTestDaemon({
      listen: protocol === 'tls' ? [{ address: `tls:127.0.0.1:${centralPort}`, tls_verify_client: 1 }] : [`tcp:127.0.0.1:${centralPort}`],
      ...(certs === null ? {} : { tls_cert_file: certs.serverCert, tls_key_file: certs.serverKey, tls_ca_file: certs.caCert }),
    });
    const dest =
      certs === null
        ? `tcp:127.0.0.1:${centralPort}`
        : { name: 'central', address: `tls:127.0.0.1:${centralPort}`, tls_ca_file: certs.caCert, tls_cert_file: certs.clientCert, tls_key_file: certs.clientKey };
    const edges = [await startTestDaemon({ forward: [dest], capture_node: 'edge1' }), await startTestDaemon({ forward: [dest], capture_node: 'edge2' })];
    let centralDaemon: RunningDaemon = central.daemon;
    const sent = new Map<string, string>();
    try {
      // ~2,000 messages/s in all for 3 s; the central is stopped at 1 s and back at 1.6 s.
      const loads = edges.map((e, i) => load(e.port, `${protocol}-e${i}`, 3000, 10, sent));
      await sleep(1000);
      await centralDaemon.stop();
      await sleep(600);
      centralDaemon = await startDaemon(loadConfig(central.configFile), memoryLogger(central.logs), { configFile: central.configFile, processMetrics: false });
      await Promise.all(loads);
      const stored = (): Record<string, unknown>[] => tableRows(central.dbFile, 'sip_capture');
      assert.ok(await waitFor(() => stored().length >= sent.size, 20_000), `central has ${stored().length} of ${sent.size}`);
      await sleep(300);
      const rows = stored();
      const seen = new Map<string, number>();
      for (const r of rows) {
        const id = String(r['callid']);
        seen.set(id, (seen.get(id) ?? 0) + 1);
        assert.equal(Buffer.from(r['msg'] as Uint8Array).toString(), sent.get(id), `payload of ${id}`);
      }
      t.diagnostic(`${protocol}: ${sent.size} sent, ${seen.size} distinct in the central, ${rows.length - seen.size} twice`);
      assert.equal(seen.size, sent.size, 'every message arrived');
      assert.equal(rows.length, sent.size, 'exactly once');
      assert.deepEqual([...seen.values()].filter((n) => n !== 1), []);
      for (const e of edges) {
        const s = e.daemon.forward!.stats()[0]!;
        assert.ok(s.connects >= 2, `the edge reconnected (${s.connects})`);
        assert.deepEqual(s.dropped, {});
      }
      // The edges kept their own copy.
      assert.equal(edges.reduce((n, e) => n + tableRows(e.dbFile, 'sip_capture').length, 0), sent.size);
    } finally {
      for (const e of edges) await e.close();
      await centralDaemon.stop();
      await central.close().catch(() => undefined);
    }
  });
}

interface Child {
  proc: ChildProcess;
  exited: Promise<unknown>;
}

async function startRelay(configFile: string): Promise<Child> {
  const proc = spawnCli(['run', '-c', configFile]);
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const rl = readline.createInterface({ input: proc.stdout! });
  const running = new Promise<void>((resolve) => rl.on('line', (line) => line.includes('"sipcapture running"') && resolve()));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('timeout'), 30_000)));
  const first = await Promise.race([running.then(() => 'ok'), exited.then(() => 'exited'), timeout]);
  clearTimeout(timer);
  if (first !== 'ok') {
    proc.kill('SIGKILL');
    throw new Error(`relay did not start (${first})`);
  }
  return { proc, exited };
}

async function rpcForward(httpPort: number): Promise<{ spooled: number; replayed: number; forwarded: number }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/RPC`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'sipcapture.stats' }) });
  const body = (await res.json()) as { result: { forward: { spooled: number; replayed: number; forwarded: number }[] } };
  return body.result.forward[0]!;
}

test('a relay killed (SIGKILL) mid-replay loses nothing and repeats at most the record being replayed', async () => {
  const dir = makeTmpDir('sipcapture-relay-');
  const sinkPort = await freePort();
  const port = await freePort();
  const httpPort = await freePort();
  const configFile = path.join(dir, 'relay.json5');
  writeFileSync(
    configFile,
    JSON.stringify({ capture_on: 1, hep_capture_on: 1, listen: [`udp:127.0.0.1:${port}`], http_listen: `127.0.0.1:${httpPort}`, spool_dir: path.join(dir, 'spool'), forward: [{ name: 'far', address: `tcp:127.0.0.1:${sinkPort}` }] }),
  );
  const sink = new HepSink('tcp', sinkPort);
  let relay = await startRelay(configFile);
  try {
    // The far side is down: 3,000 packets over ~1.5 s become ~15 spool records.
    const sent = new Map<string, string>();
    await load(port, 'kill9', 1500, 20, sent);
    assert.ok(await waitFor(async () => (await rpcForward(httpPort)).spooled === sent.size, 10_000));
    await sink.start();
    assert.ok(await waitFor(() => sink.packets.length > 0, 10_000, 1));
    relay.proc.kill('SIGKILL');
    await relay.exited;
    const atKill = sink.packets.length;
    relay = await startRelay(configFile);
    assert.ok(await waitFor(() => new Set(sink.packets.map((p) => p.toString('hex'))).size === sent.size, 15_000), `${sink.packets.length} of ${sent.size}`);
    await sleep(300);
    const callIds = sink.packets.map((p) => {
      const d = decodeHep(p);
      assert.ok(d.ok);
      return /Call-ID: (\S+)/.exec(d.packet.payload.toString())![1]!;
    });
    const twice = callIds.length - new Set(callIds).size;
    process.stdout.write(`# relay SIGKILL mid-replay: ${atKill} of ${sent.size} sent before the kill, ${twice} sent twice\n`);
    assert.deepEqual(new Set(callIds), new Set(sent.keys()), 'nothing lost');
    // One record is at most one 100 ms flush of the queue: 10 ticks of 20 (plus one tick of slack).
    assert.ok(twice <= 220, `${twice} duplicates`);
  } finally {
    relay.proc.kill('SIGKILL');
    await relay.exited;
    await sink.stop();
  }
});

test('the far side reset under load (as by kill -9): the edge reconnects and resends; loss is bounded by what was in flight', async () => {
  const sinkPort = await freePort();
  const sink = new HepSink('tcp', sinkPort);
  await sink.start();
  const edge = await startTestDaemon({ db_url: '', forward: [{ name: 'far', address: `tcp:127.0.0.1:${sinkPort}` }] });
  const sent = new Map<string, string>();
  try {
    const loading = load(edge.port, 'reset', 2000, 10, sent);
    await sleep(700);
    await sink.stop('abrupt');
    await sleep(300);
    await sink.start();
    await loading;
    assert.ok(await waitFor(() => edge.daemon.forward!.stats()[0]!.queuePackets === 0 && edge.daemon.forward!.stats()[0]!.spoolPendingBytes === 0, 10_000));
    await sleep(300);
    const got = new Set(
      sink.packets.map((p) => {
        const d = decodeHep(p);
        assert.ok(d.ok);
        return /Call-ID: (\S+)/.exec(d.packet.payload.toString())![1]!;
      }),
    );
    const lost = [...sent.keys()].filter((id) => !got.has(id)).length;
    const s = edge.daemon.forward!.stats()[0]!;
    process.stdout.write(`# far side reset under ~1,000 msg/s: ${lost} of ${sent.size} lost, ${sink.packets.length - got.size} twice, ${s.spooled} spooled\n`);
    assert.ok(s.connects >= 2);
    assert.equal(sink.packets.length - got.size, 0, 'nothing twice');
    // In flight at the reset: what our kernel had not sent and the far side had not read — at this rate a few packets.
    assert.ok(lost <= 50, `${lost} lost`);
  } finally {
    await edge.close();
    await sink.stop();
  }
});
