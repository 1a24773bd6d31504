/**
 * HEP TCP listeners whose connections are read in a receive thread (tcp_receive_thread = 1), on
 * real sockets: frames from many connections arrive once, whole and in each connection's order
 * (cut anywhere by the network, up to 65,535 bytes); a congested daemon stops the thread reading
 * (the agent waits, nothing is lost) and relief resumes it; stop() hands over everything the
 * agents wrote; refusals and framing errors are counted on the main thread; a bind error reads
 * as without the thread; a dead thread is replaced on the same port; and the daemon stores over
 * TCP with the thread and without.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { parseListen } from '../../src/config/listen.js';
import type { ListenAddress } from '../../src/config/types.js';
import { ThreadedTcpListener, type ThreadedTcpListenerOptions } from '../../src/listeners/tcp-threaded.js';
import { TcpListener } from '../../src/listeners/tcp.js';
import { isStreamListener } from '../../src/listeners/from-config.js';
import type { IngestFlow } from '../../src/listeners/types.js';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { ConnectionRejectReason, Stats } from '../../src/telemetry/stats.js';
import { memoryLogger, startTestDaemon, tableRows } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/net.js';
import { uniqueOptionsHep } from '../helpers/sip-messages.js';

function listenAddress(spec: string, allowSources: string[] = []): ListenAddress {
  const a = parseListen(spec);
  if (typeof a === 'string') assert.fail(a);
  return { ...a, access: { ...a.access, allowSources } };
}

/** A HEP3 frame of `size` bytes (≥ 14) whose one chunk carries `conn` and `i`, then a pattern. */
function frame(conn: number, i: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  b.write('HEP3', 0, 'latin1');
  b.writeUInt16BE(size, 4);
  b.writeUInt16BE(0, 6);
  b.writeUInt16BE(0x0f, 8);
  b.writeUInt16BE(size - 6, 10);
  b.writeUInt16BE(conn, 12);
  if (size >= 18) b.writeUInt32BE(i, 14);
  for (let j = 18; j < size; j++) b[j] = (i + j) & 0xff;
  return b;
}

const SIZES = [14, 300, 900, 1_400, 65_535, 4_000, 60];
const sizeOf = (i: number): number => SIZES[i % SIZES.length]!;

interface Harness {
  listener: ThreadedTcpListener;
  stats: Stats;
  logs: string[];
  got: Buffer[];
  port: number;
}

async function start(extra: Partial<ThreadedTcpListenerOptions> = {}, allowSources: string[] = []): Promise<Harness> {
  const logs: string[] = [];
  const stats = new Stats(memoryLogger(logs), 0);
  const got: Buffer[] = [];
  const listener = new ThreadedTcpListener({
    address: listenAddress(`tcp:127.0.0.1:${await freePort()}`, allowSources),
    maxFrame: 65_535,
    idleTimeoutMs: 60_000,
    onFrame: (data) => void got.push(Buffer.from(data)),
    stats,
    logger: memoryLogger(logs),
    ...extra,
  });
  await listener.start();
  return { listener, stats, logs, got, port: listener.port };
}

async function connect(port: number, localAddress?: string): Promise<net.Socket> {
  const sock = net.createConnection({ port, host: '127.0.0.1', ...(localAddress === undefined ? {} : { localAddress }) });
  sock.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  return sock;
}

/** Writes everything, honouring backpressure, in pieces of odd sizes (frames cut anywhere). */
async function writeCut(sock: net.Socket, data: Buffer, piece: number): Promise<void> {
  for (let at = 0; at < data.length; at += piece) {
    if (!sock.write(data.subarray(at, at + piece))) await new Promise<void>((resolve) => sock.once('drain', resolve));
  }
}

const logged = (logs: readonly string[], text: string): boolean => logs.some((l) => l.includes(text));

describe('TCP receive thread', () => {
  test('frames from 8 connections arrive once, whole and in order, cut anywhere, up to 65,535 bytes', { timeout: 60_000 }, async () => {
    const h = await start();
    try {
      const CONNS = 8;
      const PER_CONN = 600;
      const sent = Array.from({ length: CONNS }, (_, c) => Array.from({ length: PER_CONN }, (_, i) => frame(c, i, sizeOf(i + c))));
      await Promise.all(
        sent.map(async (frames, c) => {
          const sock = await connect(h.port);
          await writeCut(sock, Buffer.concat(frames), [1, 7, 1_000, 4_096, 65_536, 131_071, 333, 9][c]!);
          sock.end();
        }),
      );
      const total = CONNS * PER_CONN;
      assert.ok(await waitFor(() => h.got.length === total, 30_000), `${h.got.length} of ${total}`);
      for (let c = 0; c < CONNS; c++) {
        const mine = h.got.filter((f) => f.readUInt16BE(12) === c);
        assert.equal(mine.length, PER_CONN);
        for (let i = 0; i < PER_CONN; i++) assert.ok(mine[i]!.equals(sent[c]![i]!), `connection ${c} frame ${i}`);
      }
      assert.deepEqual(h.stats.snapshot().dropped, {});
    } finally {
      await h.listener.stop();
    }
  });

  test('with onBatch, batches are taken whole: every frame once, in order', async () => {
    const batches: Buffer[] = [];
    const h = await start({
      onBatch: (buf, ends) => {
        let at = 0;
        for (const end of ends) {
          batches.push(Buffer.from(new Uint8Array(buf, at, end - at)));
          at = end;
        }
      },
    });
    try {
      const frames = Array.from({ length: 3_000 }, (_, i) => frame(1, i, sizeOf(i)));
      const sock = await connect(h.port);
      await writeCut(sock, Buffer.concat(frames), 50_000);
      sock.end();
      assert.ok(await waitFor(() => batches.length === frames.length, 20_000), `${batches.length} of ${frames.length}`);
      assert.ok(batches.every((b, i) => b.equals(frames[i]!)));
      assert.equal(h.got.length, 0, 'onFrame is not called when batches are taken whole');
    } finally {
      await h.listener.stop();
    }
  });

  test('a congested daemon stops the thread reading (the agent waits, nothing is lost); relief resumes it', { timeout: 60_000 }, async () => {
    let congested = false;
    const waiting: (() => void)[] = [];
    const flow: IngestFlow = {
      get congested() {
        return congested;
      },
      onRelief: (resume) => void waiting.push(resume),
      room: () => ({ packets: congested ? 0 : 1_000_000, bytes: 1 << 30 }),
    };
    const h = await start({ flow });
    try {
      const sock = await connect(h.port);
      const warm = Array.from({ length: 10 }, (_, i) => frame(2, i, 300));
      await writeCut(sock, Buffer.concat(warm), 65_536);
      assert.ok(await waitFor(() => h.got.length === 10, 5_000));
      congested = true;
      // 40 MB, far beyond the socket buffers: the agent must be held back, not the frames dropped.
      const flood = Array.from({ length: 40_000 }, (_, i) => frame(2, 10 + i, 1_000));
      let written = 0;
      const writing = (async () => {
        for (const f of flood) {
          if (!sock.write(f)) await new Promise<void>((resolve) => sock.once('drain', resolve));
          written++;
        }
      })();
      assert.ok(await waitFor(() => h.listener.pausedConnections === 1, 10_000), 'paused');
      await new Promise((r) => setTimeout(r, 500));
      const held = h.got.length;
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(h.got.length, held, 'nothing is read while congested');
      assert.ok(written < flood.length, `the agent waits: ${written} of ${flood.length} written`);
      congested = false;
      for (const r of waiting.splice(0)) r();
      await writing;
      sock.end();
      assert.ok(await waitFor(() => h.got.length === 40_010, 30_000), `${h.got.length} of 40010`);
      assert.equal(h.listener.pausedConnections, 0);
      assert.deepEqual(h.stats.snapshot().dropped, {});
    } finally {
      await h.listener.stop();
    }
  });

  test('the thread reads no further ahead than the room the daemon has left', { timeout: 30_000 }, async () => {
    let room = 50;
    const flow: IngestFlow = { congested: false, onRelief: () => undefined, room: () => ({ packets: room, bytes: 1 << 30 }) };
    const h = await start({ flow, onFrame: () => void room-- });
    try {
      const sock = await connect(h.port);
      const frames = Array.from({ length: 5_000 }, (_, i) => frame(3, i, 200));
      sock.write(Buffer.concat(frames));
      assert.ok(await waitFor(() => h.listener.pausedConnections === 1, 10_000), 'paused at the room left');
      await new Promise((r) => setTimeout(r, 300));
      // Room 50, each frame taken lowers it: what was read is at most the room plus one segment's frames.
      assert.ok(room <= 0 && room > -400, `read ahead ${50 - room} frames for a room of 50`);
      sock.destroy();
    } finally {
      await h.listener.stop();
    }
  });

  test('stop() hands over every frame the agents wrote before it, and counts a frame cut off by the close', async () => {
    const h = await start();
    const frames = Array.from({ length: 5_000 }, (_, i) => frame(4, i, 400));
    const sock = await connect(h.port);
    await writeCut(sock, Buffer.concat(frames), 65_536);
    // An agent that sent half a frame and never ends its side: closed by stop() after its grace time.
    const half = await connect(h.port);
    half.write(frame(4, 9_999, 400).subarray(0, 200));
    assert.ok(await waitFor(() => h.listener.connections === 2, 5_000));
    await h.listener.stop();
    assert.equal(h.got.length, frames.length);
    assert.ok(h.got.every((f, i) => f.equals(frames[i]!)));
    assert.equal(h.stats.droppedCount(DropReason.TCP_FRAMING), 1, 'the half frame is counted, not lost with the thread');
    assert.equal(h.listener.connections, 0);
    sock.destroy();
    half.destroy();
  });

  test('refused connections and framing errors are counted on the main thread; counts of open connections come back', async () => {
    const h = await start({ maxConnectionsPerIp: 1 });
    try {
      const first = await connect(h.port);
      assert.ok(await waitFor(() => h.listener.connections === 1, 5_000));
      const second = await connect(h.port);
      assert.ok(await waitFor(() => h.stats.connectionRejectedCount(ConnectionRejectReason.LIMIT_PER_IP) === 1, 5_000), 'per-address limit counted');
      assert.equal(h.listener.connections, 1);
      first.write(Buffer.concat([Buffer.from('garbage!'), frame(5, 1, 100)]));
      assert.ok(await waitFor(() => h.got.length === 1, 5_000));
      assert.ok(await waitFor(() => h.stats.droppedCount(DropReason.TCP_FRAMING) === 1, 5_000), 'framing error counted');
      assert.ok(logged(h.logs, 'tcp_max_connections_per_ip 1'));
      first.destroy();
      second.destroy();
      assert.ok(await waitFor(() => h.listener.connections === 0, 5_000));
    } finally {
      await h.listener.stop();
    }

    const denied = await start({}, ['10.9.9.9']);
    try {
      await connect(denied.port).catch(() => undefined);
      assert.ok(await waitFor(() => denied.stats.connectionRejectedCount(ConnectionRejectReason.SOURCE_DENIED) === 1, 5_000));
    } finally {
      await denied.listener.stop();
    }
  });

  test('a bind error rejects start() with the same message as without the thread', async () => {
    const port = await freePort();
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
    try {
      const address = listenAddress(`tcp:127.0.0.1:${port}`);
      const common = { address, maxFrame: 65_535, idleTimeoutMs: 0, onFrame: () => undefined, stats: new Stats(null) };
      const messages: string[] = [];
      for (const l of [new ThreadedTcpListener(common), new TcpListener(common)]) {
        await assert.rejects(l.start(), (err: Error) => {
          messages.push(err.message);
          return true;
        });
        assert.equal(l.port, 0);
        await l.stop();
      }
      assert.match(messages[0]!, new RegExp(`^listen tcp:127\\.0\\.0\\.1:${port}: listen EADDRINUSE`));
      assert.equal(messages[0], messages[1]);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  test('a thread that dies is logged and replaced on the same port; agents reconnect', async () => {
    const h = await start();
    try {
      const thread = h.listener.receiveThread;
      assert.ok(thread !== null);
      const sock = await connect(h.port);
      sock.write(frame(6, 0, 100));
      assert.ok(await waitFor(() => h.got.length === 1 && h.listener.connections === 1, 5_000));
      const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      // Kill it from outside, as a fatal error inside it would.
      const worker = thread['worker'];
      assert.ok(worker !== null);
      await worker.terminate();
      await closed;
      assert.equal(h.listener.connections, 0, 'its connections went with it');
      assert.ok(await waitFor(() => thread.restarts === 1, 5_000), 'restarted');
      assert.ok(logged(h.logs, 'tcp receive thread exited'));
      assert.equal(h.listener.port, h.port);
      const again = await connect(h.port);
      again.write(frame(6, 1, 100));
      assert.ok(await waitFor(() => h.got.length === 2, 5_000));
      assert.ok(h.got[1]!.equals(frame(6, 1, 100)));
      again.destroy();
    } finally {
      await h.listener.stop();
    }
  });
});

describe('tcp_receive_thread in the daemon', () => {
  for (const value of [1, 0]) {
    for (const threads of [0, 1]) {
      test(`tcp_receive_thread: ${value}, pipeline_threads: ${threads} stores HEP over TCP`, async () => {
        const d = await startTestDaemon({ pipeline_threads: threads, ...(value === 1 ? {} : { tcp_receive_thread: 0 }) });
        try {
          const tcp = d.daemon.listeners.find(isStreamListener);
          assert.ok(tcp !== undefined);
          assert.equal(tcp instanceof ThreadedTcpListener, value === 1);
          const packets = Array.from({ length: 300 }, () => uniqueOptionsHep(`tcp-thread-${value}-${threads}`));
          const sock = await connect(d.port);
          await writeCut(sock, Buffer.concat(packets.map((p) => p.packet)), 777);
          const want = new Set(packets.map((p) => p.callId));
          assert.ok(await waitFor(() => tableRows(d.dbFile, 'sip_capture').filter((r) => want.has(String(r['callid']))).length === 300, 10_000), 'rows stored');
          sock.end();
          assert.ok(logged(d.logs, `"listener":"tcp:127.0.0.1:${d.port}","receiveThread":${value === 1}`));
        } finally {
          await d.close();
        }
      });
    }
  }
});
