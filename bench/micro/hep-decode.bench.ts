/**
 * Micro-benchmark for the HEP layer: decode v3 (1 KiB INVITE), decode v2, framer throughput.
 * Plain script: `node --import tsx bench/micro/hep-decode.bench.ts` (or the compiled dist/bench/…).
 */
import { decodeHep } from '../../src/hep/decode.js';
import { encodeHepV2, encodeHepV3 } from '../../src/hep/encode.js';
import { HepStreamFramer } from '../../src/hep/framer.js';

const INVITE_HEAD = [
  'INVITE sip:bob@example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'From: "Alice" <sip:alice@example.com>;tag=1928301774',
  'To: <sip:bob@example.com>',
  'Call-ID: a84b4c76e66710@pc33.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@192.0.2.10:5060>',
  'User-Agent: bench/1.0',
  'Content-Type: application/sdp',
].join('\r\n');
const SDP = 'v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 97\r\n';

/** A SIP INVITE padded (with an X- header) so that the whole HEP3 packet is 1024 bytes. */
function invite(targetHepLength: number, overhead: number): string {
  const build = (pad: number): string => {
    const body = SDP + 'a='.padEnd(pad + 2, 'x') + '\r\n';
    return `${INVITE_HEAD}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  };
  let pad = 0;
  while (Buffer.byteLength(build(pad)) + overhead < targetHepLength) pad++;
  return build(pad);
}

const common = { srcIp: '192.0.2.10', dstIp: '198.51.100.20', srcPort: 5060, dstPort: 5060, tsSec: 1795348800, tsUsec: 123456, captureId: 2001 };
const emptyV3 = encodeHepV3({ ...common, payload: '' }).length;
const v3 = encodeHepV3({ ...common, payload: invite(1024, emptyV3) });
const v2 = encodeHepV2({ ...common, payload: invite(1024, 28) });
const v3z = encodeHepV3({ ...common, payload: invite(1024, emptyV3), compress: true });

function bench(name: string, bytesPerOp: number, fn: () => void): void {
  const warm = Date.now() + 200;
  while (Date.now() < warm) fn();
  let ops = 0;
  const start = process.hrtime.bigint();
  const deadline = start + 1_000_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 1000; i++) fn();
    ops += 1000;
    now = process.hrtime.bigint();
  }
  const seconds = Number(now - start) / 1e9;
  const rate = ops / seconds;
  const mbps = (rate * bytesPerOp) / 1e6;
  console.log(`${name.padEnd(36)} ${Math.round(rate).toLocaleString('en').padStart(12)} ops/s  ${mbps.toFixed(0).padStart(6)} MB/s`);
}

let sink = 0;
const check = (ok: boolean): void => {
  if (!ok) throw new Error('decode failed in benchmark');
  sink++;
};

bench(`decode HEPv3 ${v3.length} B INVITE`, v3.length, () => {
  const r = decodeHep(v3);
  check(r.ok);
});
bench(`decode HEPv2 ${v2.length} B INVITE`, v2.length, () => {
  const r = decodeHep(v2);
  check(r.ok);
});
bench(`decode HEPv3 compressed (${v3z.length} B)`, v3z.length, () => {
  const r = decodeHep(v3z);
  check(r.ok);
});

// Framer: 64 frames per 64 KiB-ish segment, segments cut at an odd size so frames straddle.
const stream = Buffer.concat(Array.from({ length: 64 }, () => v3));
const segment = 1460;
const framer = new HepStreamFramer();
bench(`framer ${stream.length} B stream / ${segment} B segments`, stream.length, () => {
  let frames = 0;
  for (let at = 0; at < stream.length; at += segment) {
    for (const e of framer.push(stream.subarray(at, at + segment))) if (e.kind === 'frame') frames++;
  }
  check(frames === 64);
});
const framerWhole = new HepStreamFramer();
bench(`framer ${stream.length} B stream in one push`, stream.length, () => {
  check(framerWhole.push(stream).length === 64);
});

if (sink === 0) console.log('unreachable');
