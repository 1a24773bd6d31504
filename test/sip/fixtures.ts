/** Shared SIP test messages: Kamailio's worked example and small builders. */
import type { CapturedMessage } from '../../src/capture/message.js';
import type { SipRowOptions } from '../../src/capture/sip-row.js';

/** Joins header lines with CRLF and ends the header block. */
export function sip(lines: readonly string[], body = ''): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'utf8');
}

/** The minimal valid request, with extra header lines inserted before Content-Length. */
export function request(extra: readonly string[] = [], firstLine = 'INVITE sip:bob@example.com SIP/2.0'): Buffer {
  return sip([
    firstLine,
    'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1',
    'From: <sip:alice@example.com>;tag=f1',
    'To: <sip:bob@example.com>',
    'Call-ID: cid-1@10.0.0.1',
    'CSeq: 1 INVITE',
    ...extra,
    'Content-Length: 0',
  ]);
}

/** The worked example request (as observed on Kamailio 5.6.3). */
export const WORKED_REQUEST = sip([
  'INVITE sip:bob;x=1@example.com:5070;transport=tcp SIP/2.0',
  'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-abc123;rport, SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKzz',
  'Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK-second',
  'From: "Alice" <sip:alice:secret@atlanta.example.com;user=phone>;tag=ft1',
  'To: <sip:+4930123;npdi@example.com>',
  'Call-ID:   cid-0001@10.0.0.1 ',
  'CSeq: 1 INVITE',
  'Contact: <sip:alice@10.0.0.1:5062;transport=udp>, <sip:other@1.1.1.1>',
  'P-Asserted-Identity: "PAI" <tel:+4912345>, <sip:pai2@x.com>',
  'P-Preferred-Identity: <sip:ppi@x.com>',
  'Proxy-Authorization: Digest username="puser@realm.com", realm="realm.com", nonce="abc", uri="sip:bob@example.com", response="0123"',
  'Authorization: Digest username="auser", realm="realm.com", nonce="abc", uri="sip:bob@example.com", response="0123"',
  'Diversion: <sip:div@x.com>;reason=unconditional',
  'Reason: Q.850;cause=16',
  'Content-Type: application/sdp; charset=x',
  'User-Agent: Test UA 1.0',
  'x-cid1: aleg-second',
  'X-CID1: aleg-1',
  'X-CID0: aleg-0',
  'X-RTP-Stat: stat-plain',
  'P-RTP-Stat: stat-p',
  'Mac: aa:bb',
  'IP: 1.2.3.4',
  'Port: 999',
  'Content-Length: 0',
]);

/** The worked example reply: compact headers, RPID, a lower-case `reason:` header. */
export const WORKED_REPLY = sip([
  'SIP/2.0 486 Busy Here Now',
  'v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-abc123;rport=5060',
  'f: "Alice" <sip:alice@atlanta.example.com>;tag=ft1',
  't: <sip:bob@example.com>;tag=9',
  'i: cid-0002@10.0.0.1',
  'CSeq: 1 INVITE',
  'm: *',
  'c: application/sdp',
  'Remote-Party-ID: "R" <sip:rpid@x.com>;party=calling',
  'reason: SIP;cause=486',
  'l: 0',
]);

/** HEP3 over UDP, 10.0.0.1:5060 → 10.0.0.2:5080, ts 1700000000.123456, capture id 2001. */
export function captured(payload: Buffer, over: Partial<CapturedMessage> = {}): CapturedMessage {
  return {
    payload,
    family: 2,
    proto: 1,
    srcIp: '10.0.0.1',
    srcPort: 5060,
    dstIp: '10.0.0.2',
    dstPort: 5080,
    hepTime: { sec: 1700000000, usec: 123456, captureId: 2001 },
    correlationId: null,
    protoType: 1,
    receivedAtUs: 1_750_000_000_000_001,
    source: 'hep',
    listener: 'udp:127.0.0.1:9060',
    ...over,
  };
}

/** Kamailio defaults plus the worked example's `callid_aleg_header="X-CID0;X-CID1"`. */
export const WORKED_OPTS: SipRowOptions = {
  captureNode: 'homer01',
  callidAlegHeaders: ['X-CID0', 'X-CID1'],
  customFieldHeaders: ['Mac', 'IP', 'Port'],
  topoh: null,
  captureBadMsgs: false,
  dateTimeZone: 'UTC',
};
