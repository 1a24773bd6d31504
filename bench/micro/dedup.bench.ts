/**
 * Cost of dedup per packet (src/pipeline/dedup.ts) next to SIP parsing, on 1 KB INVITEs, and
 * memory per remembered packet. Best of 30 rounds, so a busy shared machine disturbs it less;
 * compare the ratio, not the absolute times.
 *
 *   node --expose-gc --import tsx bench/micro/dedup.bench.ts   (or node --expose-gc dist/bench/micro/dedup.bench.js)
 */
import type { CapturedMessage } from '../../src/capture/message.js';
import { DedupTable } from '../../src/pipeline/dedup.js';
import { parseSip } from '../../src/sip/parser.js';

const HEAD = 'INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1;rport\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n';
const N = 20_000;

function message(i: number, payload: Buffer): CapturedMessage {
  return {
    payload,
    family: 2,
    proto: 1,
    srcIp: '192.0.2.10',
    srcPort: 5060,
    dstIp: '198.51.100.20',
    dstPort: 5060,
    hepTime: { sec: 1, usec: 0, captureId: 1 },
    correlationId: null,
    protoType: 1,
    receivedAtUs: 1e15 + i * 20,
    source: 'hep',
    listener: 'bench',
  };
}

const msgs = Array.from({ length: N }, (_, i) => message(i, Buffer.from(`${HEAD}Call-ID: c${i}@x\r\nX-Pad: ${'p'.repeat(1024 - HEAD.length - 30)}\r\n\r\n`)));
const best = new Map<string, number>();
let sink = 0;
function time(name: string, fn: () => void): void {
  const t0 = process.hrtime.bigint();
  fn();
  const ns = Number(process.hrtime.bigint() - t0) / N;
  best.set(name, Math.min(best.get(name) ?? Infinity, ns));
}
const keyTable = new DedupTable({ mode: 'all', windowMs: 1000, maxEntries: 200_000 });
for (let r = 0; r < 30; r++) {
  time('keyOf (hash only)', () => {
    for (const m of msgs) sink += keyTable.keyOf(m) & 1;
  });
  time('isDuplicate (hash + table)', () => {
    const t = new DedupTable({ mode: 'all', windowMs: 1000, maxEntries: 200_000 });
    for (const m of msgs) sink += t.isDuplicate(m) ? 1 : 0;
  });
  time('parseSip', () => {
    for (const m of msgs) sink += parseSip(m.payload).ok ? 1 : 0;
  });
}
console.log(`payload ${msgs[0]!.payload.length} bytes, best of 30 rounds of ${N} packets`);
for (const [k, v] of best) console.log(`  ${k.padEnd(28)} ${(v / 1000).toFixed(2)} µs/packet`);
console.log(`  isDuplicate / parseSip       ${((best.get('isDuplicate (hash + table)') ?? 0) / (best.get('parseSip') ?? 1)).toFixed(2)}`);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc !== undefined) {
  const m = message(0, Buffer.from('INVITE sip:x SIP/2.0\r\n\r\n'));
  gc();
  const before = process.memoryUsage();
  const t = new DedupTable({ mode: 'all', windowMs: 1e9, maxEntries: 1_000_000 });
  for (let i = 0; i < 1_000_000; i++) {
    m.srcPort = i & 0xffff;
    m.dstPort = i >>> 16;
    sink += t.isDuplicate(m) ? 1 : 0;
  }
  gc();
  const after = process.memoryUsage();
  const heap = (after.heapUsed - before.heapUsed) / t.size;
  const ring = (after.arrayBuffers - before.arrayBuffers) / t.size;
  console.log(`memory: ${t.size} entries, ${heap.toFixed(0)} B heap + ${ring.toFixed(0)} B ring per entry`);
} else {
  console.log('memory: run with --expose-gc');
}
if (sink < 0) console.log(sink);
