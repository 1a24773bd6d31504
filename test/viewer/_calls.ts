/**
 * A scripted call for the viewer tests: Alice → proxy → Bob through a B2BUA (`X` and
 * `X_b2b-1`), a recorder leg tied by `X-CID: X`, a retransmitted INVITE, an RTCP report and a
 * log line correlated to `X`, sent to a daemon as HEP3 over TCP (ordered, lossless).
 */
import net from 'node:net';
import { encodeHep } from '../../src/hep/encode.js';

export const ALICE = { ip: '192.0.2.10', port: 5060 };
export const PROXY = { ip: '198.51.100.1', port: 5060 };
export const BOB = { ip: '203.0.113.7', port: 5060 };
export const RECORDER = { ip: '203.0.113.9', port: 5070 };
type Ep = typeof ALICE;

export interface ScriptedPacket {
  callId: string;
  /** What the ladder shows on the arrow. */
  label: string;
  src: Ep;
  dst: Ep;
  atUs: number;
  payload: string;
  /** HEP payload type: 1 SIP (default), 5 RTCP, 100 logs. */
  protoType?: number;
  correlationId?: string;
}

export interface CallOptions {
  callId: string;
  /** Time of the first message, µs. */
  t0Us: number;
  /** From display name (the XSS tests put markup here). */
  fromDisplay?: string;
  /** An extra header line on the INVITE. */
  extraHeader?: string;
  /** INVITE body (plain text). */
  body?: string;
  fromUser?: string;
  userAgent?: string;
}

function request(method: string, callId: string, cseq: number, o: CallOptions, src: Ep, extra: readonly string[] = [], body = ''): string {
  const lines = [
    `${method} sip:bob@example.com SIP/2.0`,
    `Via: SIP/2.0/UDP ${src.ip}:${src.port};branch=z9hG4bK-${method.toLowerCase()}-${cseq}-${callId.length}`,
    'Max-Forwards: 70',
    `From: ${o.fromDisplay ?? '"Alice"'} <sip:${o.fromUser ?? 'alice'}@example.com>;tag=a1`,
    'To: <sip:bob@example.com>',
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method === 'ACK' ? 'ACK' : method}`,
    `Contact: <sip:alice@${src.ip}:${src.port}>`,
    `User-Agent: ${o.userAgent ?? 'viewer-test-phone/1.0'}`,
    ...extra,
    ...(body === '' ? [] : ['Content-Type: text/plain']),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
  return lines.join('\r\n');
}

function reply(code: number, reason: string, method: string, callId: string, cseq: number, o: CallOptions): string {
  return [
    `SIP/2.0 ${code} ${reason}`,
    `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-${method.toLowerCase()}-${cseq}-${callId.length}`,
    `From: ${o.fromDisplay ?? '"Alice"'} <sip:${o.fromUser ?? 'alice'}@example.com>;tag=a1`,
    'To: <sip:bob@example.com>;tag=b1',
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    'Server: viewer-test-pbx/2.0',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** The packets of one call, in time order. */
export function scriptedCall(o: CallOptions): ScriptedPacket[] {
  const a = o.callId;
  const b = `${a}_b2b-1`;
  const c = `rec-${a}`;
  const invite = request('INVITE', a, 1, o, ALICE, o.extraHeader === undefined ? [] : [o.extraHeader], o.body ?? '');
  const ms = (n: number): number => o.t0Us + n * 1000;
  const out: ScriptedPacket[] = [
    { callId: a, label: 'INVITE', src: ALICE, dst: PROXY, atUs: ms(0), payload: invite },
    { callId: a, label: '100 Trying', src: PROXY, dst: ALICE, atUs: ms(10), payload: reply(100, 'Trying', 'INVITE', a, 1, o) },
    { callId: b, label: 'INVITE', src: PROXY, dst: BOB, atUs: ms(20), payload: request('INVITE', b, 1, o, PROXY) },
    // A retransmission: the same bytes again.
    { callId: a, label: 'INVITE', src: ALICE, dst: PROXY, atUs: ms(520), payload: invite },
    { callId: b, label: '180 Ringing', src: BOB, dst: PROXY, atUs: ms(600), payload: reply(180, 'Ringing', 'INVITE', b, 1, o) },
    { callId: a, label: '180 Ringing', src: PROXY, dst: ALICE, atUs: ms(610), payload: reply(180, 'Ringing', 'INVITE', a, 1, o) },
    { callId: b, label: '200 OK', src: BOB, dst: PROXY, atUs: ms(2000), payload: reply(200, 'OK', 'INVITE', b, 1, o) },
    { callId: a, label: '200 OK', src: PROXY, dst: ALICE, atUs: ms(2010), payload: reply(200, 'OK', 'INVITE', a, 1, o) },
    { callId: a, label: 'ACK', src: ALICE, dst: PROXY, atUs: ms(2050), payload: request('ACK', a, 1, o, ALICE) },
    { callId: b, label: 'ACK', src: PROXY, dst: BOB, atUs: ms(2060), payload: request('ACK', b, 1, o, PROXY) },
    { callId: c, label: 'INVITE', src: PROXY, dst: RECORDER, atUs: ms(2200), payload: request('INVITE', c, 1, o, PROXY, [`X-CID: ${a}`]) },
    { callId: c, label: '200 OK', src: RECORDER, dst: PROXY, atUs: ms(2250), payload: reply(200, 'OK', 'INVITE', c, 1, o) },
    { callId: a, label: 'BYE', src: ALICE, dst: PROXY, atUs: ms(5000), payload: request('BYE', a, 2, o, ALICE) },
    { callId: b, label: 'BYE', src: PROXY, dst: BOB, atUs: ms(5010), payload: request('BYE', b, 2, o, PROXY) },
    { callId: b, label: '200 OK', src: BOB, dst: PROXY, atUs: ms(5050), payload: reply(200, 'OK', 'BYE', b, 2, o) },
    { callId: a, label: '200 OK', src: PROXY, dst: ALICE, atUs: ms(5060), payload: reply(200, 'OK', 'BYE', a, 2, o) },
  ];
  return out;
}

/** An RTCP report and a log line correlated to `callId`, during the call. */
export function sidePackets(callId: string, t0Us: number): ScriptedPacket[] {
  return [
    { callId, label: 'rtcp', src: ALICE, dst: PROXY, atUs: t0Us + 3_000_000, protoType: 5, correlationId: callId, payload: '{"type":200,"ssrc":"0x1234","report_count":1}' },
    { callId, label: 'log', src: PROXY, dst: ALICE, atUs: t0Us + 3_100_000, protoType: 100, correlationId: callId, payload: 'proxy: call answered' },
  ];
}

export function hepFrame(p: ScriptedPacket): Buffer {
  return encodeHep({
    version: 3,
    srcIp: p.src.ip,
    srcPort: p.src.port,
    dstIp: p.dst.ip,
    dstPort: p.dst.port,
    tsSec: Math.floor(p.atUs / 1e6),
    tsUsec: p.atUs % 1e6,
    captureId: 2001,
    payload: p.payload,
    ...(p.protoType === undefined ? {} : { protoType: p.protoType }),
    ...(p.correlationId === undefined ? {} : { correlationId: p.correlationId }),
  });
}

/** Sends the packets over one HEP TCP connection, in order. */
export async function sendHepTcp(port: number, packets: readonly ScriptedPacket[]): Promise<void> {
  const sock = net.createConnection({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => sock.write(Buffer.concat(packets.map(hepFrame)), (err) => (err ? reject(err) : resolve())));
  await new Promise<void>((resolve) => sock.end(resolve));
}
