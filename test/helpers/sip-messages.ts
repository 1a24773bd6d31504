/** Realistic SIP messages for tests, each with a unique Call-ID. */
import { encodeHep } from '../../src/hep/encode.js';

export interface TestSip {
  callId: string;
  method: string;
  /** 1 request, 2 reply. */
  type: 1 | 2;
  text: string;
}

const SDP = [
  'v=0',
  'o=- 5166469074 8605 IN IP4 192.0.2.10',
  's=-',
  'c=IN IP4 192.0.2.10',
  't=0 0',
  'm=audio 10866 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=sendrecv',
  '',
].join('\r\n');

export function sipRequest(method: string, callId: string, extraHeaders: readonly string[] = [], withSdp = false): TestSip {
  const body = withSdp ? SDP : '';
  const lines = [
    `${method} sip:bob@example.com SIP/2.0`,
    `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-${callId.slice(0, 8)};rport`,
    'Max-Forwards: 70',
    `From: "Alice" <sip:alice@example.com>;tag=ft-${callId.slice(0, 6)}`,
    'To: <sip:bob@example.com>',
    `Call-ID: ${callId}`,
    `CSeq: 1 ${method}`,
    'Contact: <sip:alice@192.0.2.10:5060>',
    'User-Agent: sipcapture-test',
    ...extraHeaders,
    ...(withSdp ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
  return { callId, method, type: 1, text: lines.join('\r\n') };
}

export function sipReply(code: number, reason: string, cseqMethod: string, callId: string): TestSip {
  const lines = [
    `SIP/2.0 ${code} ${reason}`,
    `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-${callId.slice(0, 8)};rport`,
    `From: "Alice" <sip:alice@example.com>;tag=ft-${callId.slice(0, 6)}`,
    'To: <sip:bob@example.com>;tag=tt-1',
    `Call-ID: ${callId}`,
    `CSeq: 1 ${cseqMethod}`,
    'Content-Length: 0',
    '',
    '',
  ];
  return { callId, method: cseqMethod, type: 2, text: lines.join('\r\n') };
}

let hepSeq = 0;
/**
 * One HEP packet (v3 unless asked) carrying an OPTIONS with a unique Call-ID starting with
 * `prefix`, 192.0.2.10:5060 → 198.51.100.20:5060, stamped now, capture id 1.
 */
export function uniqueOptionsHep(prefix: string, opts: { authKey?: string; version?: 1 | 2 | 3 } = {}): { callId: string; packet: Buffer } {
  const callId = `${prefix}-${++hepSeq}-${Math.random().toString(36).slice(2, 8)}`;
  const packet = encodeHep({
    version: opts.version ?? 3,
    srcIp: '192.0.2.10',
    dstIp: '198.51.100.20',
    srcPort: 5060,
    dstPort: 5060,
    tsSec: Math.floor(Date.now() / 1000),
    tsUsec: 0,
    captureId: 1,
    payload: sipRequest('OPTIONS', callId).text,
    ...(opts.authKey === undefined ? {} : { authKey: opts.authKey }),
  });
  return { callId, packet };
}

