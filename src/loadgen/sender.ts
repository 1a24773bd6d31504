/**
 * Sends generated HEP traffic at a token-bucket rate over UDP and/or TCP, for a bounded count,
 * and returns a summary of what was sent. One sender is one thread; `sendLoad` (load.ts) runs
 * several in worker threads when one cannot reach the rate.
 *
 * UDP: one connected socket (no per-packet address handling), packets of a tick sent
 * back-to-back. TCP: one or more connections; the packets of a tick are concatenated into one
 * write per connection (coalesced frames), and a connection whose socket buffer is full is
 * skipped until it drains.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { PacketFactory, type HepVersion } from './packets.js';
import type { MixName } from './mix.js';
import { TokenBucket } from './token-bucket.js';

export type Transport = 'udp' | 'tcp';

export interface SenderOptions {
  host: string;
  port: number;
  /** Transports used in turn, message by message. */
  transports: readonly Transport[];
  /** HEP versions used in turn, message by message (TCP carries HEP3 only). */
  versions: readonly HepVersion[];
  /** Messages per second; 0 = as fast as possible. */
  rate: number;
  /** Messages to send in total. */
  count: number;
  mix: MixName;
  /** TCP connections (default 1). */
  connections?: number;
  captureId?: number;
  seed?: number;
  variants?: number;
  runTag?: string;
  /** Token-bucket capacity in milliseconds of traffic (default 10). */
  burstMs?: number;
}

export interface SendSummary {
  /** Messages requested. */
  count: number;
  /** Messages handed to the kernel (UDP: sendmsg succeeded; TCP: written to a live connection). */
  sent: number;
  sentBytes: number;
  /** Sent messages by `transport/hepN`. */
  byStream: Record<string, number>;
  /** Sent messages by flow kind (call, register, options). */
  byFlow: Record<string, number>;
  /** Whole flows started (unique Call-IDs). */
  flows: number;
  sendErrors: number;
  errorCodes: Record<string, number>;
  requestedRate: number;
  /** sent / (last send − first send). */
  achievedRate: number;
  durationS: number;
  /** Wall-clock µs of the first and last send (same clock as the packets' timestamps). */
  firstSendUs: number;
  lastSendUs: number;
  /** CPU seconds of the sending process (all its threads) while sending. */
  cpuUserS: number;
  cpuSystemS: number;
  workers: number;
}

/** Wall clock in µs, as the daemon's clock (pipeline/clock.ts) reads it. */
function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Most packets produced in one go before the loop yields (keeps timers and callbacks running). */
const MAX_PER_TICK = 2048;
/** UDP sends whose callback has not run yet, at most (bounds memory when the kernel pushes back). */
const MAX_UDP_PENDING = 8192;

export function validateSenderOptions(o: SenderOptions): void {
  if (!Number.isInteger(o.count) || o.count < 0) throw new RangeError(`count must be an integer ≥ 0, got ${o.count}`);
  if (!(o.rate >= 0)) throw new RangeError(`rate must be ≥ 0, got ${o.rate}`);
  if (o.transports.length === 0 || o.versions.length === 0) throw new RangeError('need at least one transport and one HEP version');
  if (o.transports.includes('tcp') && o.versions.some((v) => v !== 3)) {
    throw new RangeError('HEP over TCP is HEP3 only (v1/v2 have no length field to frame a stream)');
  }
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new RangeError(`port must be 1..65535, got ${o.port}`);
}

interface Stream {
  transport: Transport;
  version: HepVersion;
  key: string;
  sent: number;
  /** UDP sends that failed after being counted as sent. */
  failed: number;
  onSent: (err: Error | null) => void;
}

interface TcpConn {
  socket: net.Socket;
  blocked: boolean;
  dead: boolean;
  pending: Buffer[];
  pendingBytes: number;
}

async function openTcp(host: string, port: number, count: number, onError: (err: Error) => void): Promise<TcpConn[]> {
  const conns: TcpConn[] = [];
  for (let i = 0; i < count; i++) {
    const socket = net.createConnection({ host, port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const conn: TcpConn = { socket, blocked: false, dead: false, pending: [], pendingBytes: 0 };
    socket.on('drain', () => (conn.blocked = false));
    socket.on('error', (err) => {
      conn.dead = true;
      onError(err);
    });
    socket.on('close', () => (conn.dead = true));
    conns.push(conn);
  }
  return conns;
}

/** Sends `opts.count` messages from this thread and resolves with the summary once all are handed over. */
export async function runSender(opts: SenderOptions): Promise<SendSummary> {
  validateSenderOptions(opts);
  const factory = new PacketFactory({
    mix: opts.mix,
    versions: opts.versions,
    captureId: opts.captureId,
    seed: opts.seed,
    variants: opts.variants,
    runTag: opts.runTag,
  });
  const family = net.isIPv6(opts.host) ? 'udp6' : 'udp4';
  const errorCodes: Record<string, number> = {};
  let sendErrors = 0;
  const countError = (err: Error): void => {
    sendErrors++;
    const code = (err as NodeJS.ErrnoException).code ?? err.name;
    errorCodes[code] = (errorCodes[code] ?? 0) + 1;
  };

  // Streams: message i uses streams[i % streams.length].
  let udpPending = 0;
  const streams: Stream[] = [];
  for (const transport of opts.transports) {
    for (const version of opts.versions) {
      const stream: Stream = { transport, version, key: `${transport}/hep${version}`, sent: 0, failed: 0, onSent: () => undefined };
      // One callback per stream, not per packet: a failed send is taken back out of its stream.
      stream.onSent = (err: Error | null): void => {
        udpPending--;
        if (err) {
          stream.failed++;
          countError(err);
        }
      };
      streams.push(stream);
    }
  }

  let udp: dgram.Socket | null = null;
  if (opts.transports.includes('udp')) {
    const sock = dgram.createSocket(family);
    sock.on('error', countError);
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.connect(opts.port, opts.host, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    udp = sock;
  }
  const tcp = opts.transports.includes('tcp') ? await openTcp(opts.host, opts.port, Math.max(1, opts.connections ?? 1), countError) : [];
  let tcpNext = 0;
  let tcpLost = 0;

  const bucket = new TokenBucket(opts.rate, opts.rate === 0 ? 1 : Math.max(1, (opts.rate * (opts.burstMs ?? 10)) / 1000));
  const cpu0 = process.cpuUsage();
  let produced = 0;
  let sentBytes = 0;
  let firstSendUs = 0;
  let lastSendUs = 0;

  while (produced < opts.count) {
    if (udpPending > MAX_UDP_PENDING) {
      await yieldToLoop();
      continue;
    }
    const liveTcp = tcp.filter((c) => !c.dead);
    if (tcp.length > 0 && liveTcp.length === 0) break; // every connection died: stop, the summary shows the shortfall
    const tcpReady = liveTcp.some((c) => !c.blocked);
    const wantTcp = streams.some((s) => s.transport === 'tcp');
    if (wantTcp && !tcpReady && streams.every((s) => s.transport === 'tcp')) {
      await sleep(1);
      continue;
    }
    const n = bucket.take(Math.min(MAX_PER_TICK, opts.count - produced));
    if (n === 0) {
      await sleep(Math.max(1, Math.floor(bucket.msUntilNext())));
      continue;
    }
    const ts = nowMicros();
    if (firstSendUs === 0) firstSendUs = ts;
    for (let i = 0; i < n; i++) {
      const stream = streams[produced % streams.length]!;
      // The time of this tick: every packet of a burst leaves within well under a millisecond.
      const packet = factory.next(stream.version, ts);
      produced++;
      if (stream.transport === 'udp') {
        udpPending++;
        udp!.send(packet, stream.onSent);
      } else {
        // Round robin over connections that can take data; a blocked one is skipped.
        let conn: TcpConn | undefined;
        for (let k = 0; k < liveTcp.length; k++) {
          const c = liveTcp[(tcpNext + k) % liveTcp.length]!;
          if (!c.blocked) {
            conn = c;
            tcpNext = (tcpNext + k + 1) % liveTcp.length;
            break;
          }
        }
        if (conn === undefined) {
          tcpLost++;
          continue;
        }
        conn.pending.push(packet);
        conn.pendingBytes += packet.length;
      }
      stream.sent++;
      sentBytes += packet.length;
    }
    for (const c of liveTcp) {
      if (c.pending.length === 0) continue;
      const chunk = c.pending.length === 1 ? c.pending[0]! : Buffer.concat(c.pending, c.pendingBytes);
      c.pending = [];
      c.pendingBytes = 0;
      if (!c.socket.write(chunk)) c.blocked = true;
    }
    lastSendUs = ts;
    // Let send callbacks and socket events run between bursts even at unlimited rate.
    if (opts.rate === 0) await yieldToLoop();
  }

  while (udpPending > 0) await yieldToLoop();
  if (udp !== null) {
    const sock = udp;
    await new Promise<void>((resolve) => sock.close(() => resolve()));
  }
  await Promise.all(
    tcp.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.dead) return resolve();
          c.socket.end(() => resolve());
          c.socket.once('close', () => resolve());
        }),
    ),
  );
  const cpu = process.cpuUsage(cpu0);
  if (tcpLost > 0) {
    sendErrors += tcpLost;
    errorCodes['tcp_blocked'] = (errorCodes['tcp_blocked'] ?? 0) + tcpLost;
  }
  const byStream: Record<string, number> = {};
  for (const s of streams) byStream[s.key] = s.sent - s.failed;
  const sent = Object.values(byStream).reduce((a, b) => a + b, 0);
  const byFlow: Record<string, number> = {};
  factory.kindNames.forEach((k, i) => (byFlow[k] = factory.messagesByKind[i]!));
  const durationS = Math.max(0, (lastSendUs - firstSendUs) / 1e6);
  return {
    count: opts.count,
    sent,
    sentBytes,
    byStream,
    byFlow,
    flows: factory.flows,
    sendErrors,
    errorCodes,
    requestedRate: opts.rate,
    achievedRate: durationS > 0 ? sent / durationS : sent,
    durationS,
    firstSendUs,
    lastSendUs,
    cpuUserS: cpu.user / 1e6,
    cpuSystemS: cpu.system / 1e6,
    workers: 1,
  };
}
