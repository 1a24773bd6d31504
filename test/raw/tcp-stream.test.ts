import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TcpFlag, TcpReassembler, type TcpDropKind } from '../../src/raw/tcp-stream.js';
import { INVITE, sip } from './_packets.js';

function setup(limits = {}) {
  const messages: string[] = [];
  const drops: Array<[TcpDropKind, number]> = [];
  const r = new TcpReassembler<string>(
    limits,
    (_meta, data, start, end) => messages.push(data.toString('latin1', start, end)),
    (kind, _d, count) => drops.push([kind, count]),
  );
  return { r, messages, drops };
}

const ISN = 0xfffffff0; // wraps around 2^32 inside the test stream
const meta = (): string => 'flow';
const seg = (r: TcpReassembler<string>, seq: number, payload: Buffer, flags = TcpFlag.ACK | TcpFlag.PSH, key = 'k', now = 0): boolean =>
  r.segment(key, meta, seq >>> 0, flags, payload, 0, payload.length, now);

const m1 = INVITE('v=0\r\no=- 1 1 IN IP4 198.18.0.2\r\ns=-\r\n');
const m2 = sip('SIP/2.0 200 OK');
const m3 = sip('BYE sip:bob@example.invalid SIP/2.0', 'x'.repeat(3000));
const stream = Buffer.concat([m1, m2, m3]);

/** Feeds `stream` cut at `cuts` (offsets), in the given segment order. */
function feed(r: TcpReassembler<string>, cuts: number[], order?: number[]): void {
  const bounds = [0, ...cuts, stream.length];
  const segs = bounds.slice(0, -1).map((from, i) => [from, bounds[i + 1] ?? from] as const);
  seg(r, ISN - 1, Buffer.alloc(0), TcpFlag.SYN);
  for (const i of order ?? segs.map((_, k) => k)) {
    const s = segs[i];
    if (s === undefined) continue;
    seg(r, ISN + s[0], stream.subarray(s[0], s[1]));
  }
}

describe('TCP reassembly and SIP framing', () => {
  test('several messages in one segment', () => {
    const { r, messages, drops } = setup();
    feed(r, []);
    assert.deepEqual(messages, [m1, m2, m3].map((m) => m.toString('latin1')));
    assert.deepEqual(drops, []);
  });

  test('one message across many segments (every byte a segment boundary somewhere)', () => {
    const { r, messages } = setup();
    const cuts: number[] = [];
    for (let i = 7; i < stream.length; i += 97) cuts.push(i);
    feed(r, cuts);
    assert.equal(messages.length, 3);
    assert.equal(messages[2], m3.toString('latin1'));
  });

  test('out-of-order segments wait for the gap', () => {
    const { r, messages, drops } = setup();
    const cuts = [100, 700, 1500, 2500];
    feed(r, cuts, [0, 2, 4, 3, 1]);
    assert.deepEqual(messages, [m1, m2, m3].map((m) => m.toString('latin1')));
    assert.deepEqual(drops, []);
    assert.ok(r.counters.outOfOrder >= 3);
  });

  test('retransmissions (whole and partial) are not delivered twice', () => {
    const { r, messages, drops } = setup();
    seg(r, ISN - 1, Buffer.alloc(0), TcpFlag.SYN);
    seg(r, ISN, stream.subarray(0, 200));
    assert.equal(seg(r, ISN, stream.subarray(0, 200)), false); // exact retransmission
    seg(r, ISN + 100, stream.subarray(100, m1.length + 50)); // overlaps old data, brings new
    seg(r, ISN + m1.length + 50, stream.subarray(m1.length + 50));
    seg(r, ISN, stream); // everything again
    assert.equal(messages.length, 3);
    assert.deepEqual(
      drops.map((d) => d[0]),
      ['tcp_retransmission', 'tcp_retransmission'],
    );
  });

  test('mid-stream pickup resynchronises on the next start line', () => {
    const { r, messages, drops } = setup();
    // No SYN seen; the first segment starts inside m1's body.
    const from = m1.length - 10;
    seg(r, 5000, stream.subarray(from));
    assert.deepEqual(messages, [m2, m3].map((m) => m.toString('latin1')));
    assert.deepEqual(drops, [['tcp_not_sip', 1]]);
  });

  test('keep-alive CRLFs between messages are skipped silently', () => {
    const { r, messages, drops } = setup();
    seg(r, 1, Buffer.concat([Buffer.from('\r\n\r\n'), m2, Buffer.from('\r\n'), m2]));
    assert.equal(messages.length, 2);
    assert.deepEqual(drops, []);
  });

  test('a lost segment: the gap is given up after the out-of-order bound, framing resumes', () => {
    const { r, messages, drops } = setup({ maxOutOfOrderBytes: 1000 });
    seg(r, ISN - 1, Buffer.alloc(0), TcpFlag.SYN);
    seg(r, ISN, stream.subarray(0, 100)); // start of m1, then m1's rest is lost
    const after = m1.length; // m2 and m3 arrive, but beyond the gap
    for (let off = after; off < stream.length; off += 500) seg(r, ISN + off, stream.subarray(off, Math.min(stream.length, off + 500)));
    assert.deepEqual(messages, [m2, m3].map((m) => m.toString('latin1')));
    assert.deepEqual(
      drops.map((d) => d[0]),
      ['tcp_gap', 'tcp_incomplete'],
    );
  });

  test('many tiny out-of-order segments: the gap is given up after maxOutOfOrderSegments, work stays linear', () => {
    // Every other byte after a hole: before the segment bound, 20,000 of these took ~20 s.
    const { r, messages, drops } = setup({ maxOutOfOrderSegments: 64 });
    seg(r, ISN - 1, Buffer.alloc(0), TcpFlag.SYN);
    const started = performance.now();
    for (let i = 0; i < 20_000; i++) seg(r, ISN + 2 + 2 * i, Buffer.from('x'));
    const ms = performance.now() - started;
    assert.ok(ms < 2000, `20,000 segments took ${ms.toFixed(0)} ms`);
    assert.equal(messages.length, 0);
    const kinds = new Set(drops.map((d) => d[0]));
    assert.ok(kinds.has('tcp_gap'), JSON.stringify([...kinds]));
    // Once the bound is hit every new segment gives up one gap: ~one tcp_gap per segment.
    assert.ok(drops.filter((d) => d[0] === 'tcp_gap').length > 19_000);
  });

  test('out-of-order segments are put back in sequence order, duplicates ignored', () => {
    const { r, messages, drops } = setup();
    const cuts = [50, 100, 400, 401, 402, 900, 1500, 2500];
    feed(r, cuts, [8, 3, 5, 1, 3, 7, 2, 6, 4, 8, 0]);
    assert.deepEqual(messages, [m1, m2, m3].map((m) => m.toString('latin1')));
    assert.deepEqual(drops, []);
  });

  test('bounded: oversized message and too many streams', () => {
    const { r, drops } = setup({ maxMessageBytes: 1000 });
    seg(r, 1, m3.subarray(0, 1500)); // m3 is > 3000 bytes
    assert.deepEqual(drops.map((d) => d[0]), ['tcp_oversize']);
    const many = setup({ maxStreams: 2 });
    for (let i = 0; i < 4; i++) seg(many.r, 1, m2.subarray(0, 50), TcpFlag.ACK, `s${i}`);
    assert.equal(many.r.streamCount, 2);
    assert.deepEqual(many.drops.map((d) => d[0]), ['tcp_evicted', 'tcp_evicted']);
  });

  test('idle streams expire; FIN and RST end a stream', () => {
    const { r, drops } = setup({ idleTimeoutMs: 1000 });
    seg(r, 1, m2.subarray(0, 50), TcpFlag.ACK, 'a', 0);
    r.expire(999);
    assert.equal(r.streamCount, 1);
    r.expire(1000);
    assert.equal(r.streamCount, 0);
    assert.deepEqual(drops.map((d) => d[0]), ['tcp_incomplete']);
    seg(r, 1, m2, TcpFlag.ACK | TcpFlag.FIN, 'b');
    assert.equal(r.streamCount, 0, 'FIN after a complete message');
    seg(r, 1, m2.subarray(0, 10), TcpFlag.ACK, 'c');
    seg(r, 11, Buffer.alloc(0), TcpFlag.RST, 'c');
    assert.equal(r.streamCount, 0);
  });

  test('Content-Length missing means no body; a bad one resyncs', () => {
    const { r, messages, drops } = setup();
    const noCl = Buffer.from('OPTIONS sip:a@example.invalid SIP/2.0\r\nVia: x\r\nCall-ID: 1\r\n\r\n');
    const bad = Buffer.from('OPTIONS sip:a@example.invalid SIP/2.0\r\nContent-Length: x\r\n\r\n');
    seg(r, 1, Buffer.concat([noCl, bad, m2]));
    assert.deepEqual(messages, [noCl.toString('latin1'), m2.toString('latin1')]);
    assert.deepEqual(drops.map((d) => d[0]), ['tcp_bad_content_length']);
  });
});
