/**
 * Micro-benchmark: parseSip + buildSipRow for a ~1 KiB INVITE and a 200 OK.
 * Run: node --import tsx bench/micro/sip-parse.bench.ts   (or node dist/bench/micro/sip-parse.bench.js)
 */
import { buildSipRow, type SipRowOptions } from '../../src/capture/sip-row.js';
import type { CapturedMessage } from '../../src/capture/message.js';
import { parseSip } from '../../src/sip/parser.js';
import { KAMAILIO_CORPUS_OPTIONS } from '../../test/helpers/kamailio-corpus.js';

const SDP = [
  'v=0',
  'o=- 5166469074 8605 IN IP4 192.0.2.102',
  's=-',
  'c=IN IP4 192.0.2.102',
  't=0 0',
  'm=audio 10866 RTP/AVP 0 8 9 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=sendrecv',
  '',
].join('\r\n');

const INVITE = Buffer.from(
  [
    'INVITE sip:mallory@example.com SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.102:5060;branch=z9hG4bK9b20e877ba641525;rport',
    'Max-Forwards: 70',
    'From: "Heidi" <sip:heidi@sip.example.com>;tag=9be50b0c',
    'To: <sip:mallory@example.com>',
    'Call-ID: public-A-s3-1-29120450e3@192.0.2.102',
    'CSeq: 3469 INVITE',
    'Contact: <sip:heidi@192.0.2.102:5060>',
    'P-Asserted-Identity: <sip:heidi@sip.example.com>',
    'X-CID: public-A-s3-aleg-1-68dc1852@192.0.2.102',
    'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, MESSAGE, SUBSCRIBE',
    'Supported: replaces, timer, 100rel',
    'User-Agent: Linphone/5.2.0 (belle-sip/5.2.0)',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(SDP)}`,
    '',
    SDP,
  ].join('\r\n'),
);

const OK200 = Buffer.from(
  [
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP 192.0.2.102:5060;branch=z9hG4bK9b20e877ba641525;rport=5060;received=192.0.2.102',
    'From: "Heidi" <sip:heidi@sip.example.com>;tag=9be50b0c',
    'To: <sip:mallory@example.com>;tag=as7d9f0',
    'Call-ID: public-A-s3-1-29120450e3@192.0.2.102',
    'CSeq: 3469 INVITE',
    'Contact: <sip:mallory@198.51.100.33:5060>',
    'Server: Asterisk PBX 20.5.0',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
);

const OPTS: SipRowOptions = KAMAILIO_CORPUS_OPTIONS;

function captured(payload: Buffer): CapturedMessage {
  return {
    payload,
    family: 2,
    proto: 1,
    srcIp: '192.0.2.102',
    srcPort: 5060,
    dstIp: '198.51.100.33',
    dstPort: 5060,
    hepTime: { sec: 1795348800, usec: 0, captureId: 2001 },
    correlationId: null,
    protoType: 1,
    receivedAtUs: 1795348800000000,
    source: 'hep',
    listener: 'bench',
  };
}

let sink = 0;

function run(name: string, payload: Buffer, withRow: boolean): void {
  const msg = captured(payload);
  const once = (): void => {
    const p = parseSip(payload);
    if (!p.ok) throw new Error(`${name}: ${p.error.message}`);
    if (withRow) {
      const r = buildSipRow(msg, p.message, OPTS);
      if (!r.ok) throw new Error(`${name}: ${r.message}`);
      sink += r.row.callid.length;
    } else {
      sink += p.message.headerCount;
    }
  };
  for (let i = 0; i < 20_000; i++) once(); // warm-up
  const iterations = 200_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) once();
  const ns = Number(process.hrtime.bigint() - t0);
  const opsPerSec = (iterations * 1e9) / ns;
  const what = withRow ? 'parse+row' : 'parse    ';
  console.log(`${name.padEnd(12)} ${String(payload.length).padStart(5)} B  ${what}  ${Math.round(opsPerSec).toLocaleString('en-US').padStart(10)} ops/s  ${(ns / iterations / 1000).toFixed(2)} µs/op`);
}

run('INVITE+SDP', INVITE, false);
run('INVITE+SDP', INVITE, true);
run('200 OK', OK200, false);
run('200 OK', OK200, true);
if (sink === 0) console.log('(sink)');
