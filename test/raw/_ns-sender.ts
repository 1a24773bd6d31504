/**
 * Runs inside a test network namespace (`ip netns exec NS node … _ns-sender.js JSON`) and sends
 * what the live tests ask for: UDP datagrams through the kernel, hand-built IPIP / IPv6-in-IPv4
 * packets through a raw socket (the kernel adds the outer header), or whole Ethernet frames
 * through libpcap. Bounded: every action lists its packets explicitly.
 */
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { createSocket } from '@neuralegion/raw-socket';

export type SendAction =
  | { kind: 'udp'; dst: string; port: number; sport?: number; payload: string; count?: number }
  | { kind: 'raw'; proto: number; dst: string; packets: string[] }
  | { kind: 'frames'; dev: string; frames: string[] }
  /** `count` copies of one frame, paced to `pps` (0 = as fast as possible); prints the achieved rate. */
  | { kind: 'flood'; dev: string; frame: string; count: number; pps: number };

interface CapSend {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  send(buffer: Buffer, nBytes?: number): void;
  close(): void;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function udp(a: Extract<SendAction, { kind: 'udp' }>): Promise<void> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(a.sport ?? 0, resolve));
  const payload = Buffer.from(a.payload, 'base64');
  for (let i = 0; i < (a.count ?? 1); i++) {
    await new Promise<void>((resolve, reject) => sock.send(payload, a.port, a.dst, (err) => (err ? reject(err) : resolve())));
  }
  await new Promise<void>((resolve) => sock.close(resolve));
}

/**
 * raw-socket's native wrapper is only weakly held: a socket reachable from nothing but a pending
 * send can be garbage-collected, and its poll handle with it (the send callback then never runs).
 */
const liveSockets: unknown[] = [];

async function raw(a: Extract<SendAction, { kind: 'raw' }>): Promise<void> {
  const sock = createSocket({ protocol: a.proto, bufferSize: 65535 });
  liveSockets.push(sock);
  for (const p of a.packets) {
    const buf = Buffer.from(p, 'base64');
    await new Promise<void>((resolve, reject) => sock.send(buf, 0, buf.length, a.dst, (err: Error | null) => (err ? reject(err) : resolve())));
  }
  sock.close();
}

function frames(a: Extract<SendAction, { kind: 'frames' }>): void {
  const require = createRequire(import.meta.url);
  const { Cap } = require('cap') as { Cap: new () => CapSend };
  const cap = new Cap();
  // A filter that matches nothing: we only send.
  cap.open(a.dev, 'ether proto 0x0001', 1024 * 1024, Buffer.alloc(65535));
  for (const f of a.frames) cap.send(Buffer.from(f, 'base64'));
  cap.close();
}

function flood(a: Extract<SendAction, { kind: 'flood' }>): void {
  const require = createRequire(import.meta.url);
  const { Cap } = require('cap') as { Cap: new () => CapSend };
  const cap = new Cap();
  cap.open(a.dev, 'ether proto 0x0001', 1024 * 1024, Buffer.alloc(65535));
  const frame = Buffer.from(a.frame, 'base64');
  const start = process.hrtime.bigint();
  for (let i = 0; i < a.count; i++) {
    if (a.pps > 0 && i % 100 === 0) {
      // Busy-wait pacing: sleeping has millisecond granularity, too coarse for 100 k pps.
      const due = start + BigInt(Math.round((i / a.pps) * 1e9));
      while (process.hrtime.bigint() < due);
    }
    cap.send(frame);
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  cap.close();
  process.stdout.write(JSON.stringify({ sent: a.count, seconds: secs, pps: a.count / secs }) + '\n');
}

const actions = JSON.parse(process.argv[2] ?? '[]') as SendAction[];
for (const a of actions) {
  if (a.kind === 'udp') await udp(a);
  else if (a.kind === 'raw') await raw(a);
  else if (a.kind === 'flood') flood(a);
  else frames(a);
  await pause(5);
}
process.exit(0);
