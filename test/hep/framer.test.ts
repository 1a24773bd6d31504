import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeHep } from '../../src/hep/decode.js';
import { encodeHepV3 } from '../../src/hep/encode.js';
import { HepStreamFramer } from '../../src/hep/framer.js';
import type { HepFrameEvent, HepFramerError } from '../../src/hep/framer.js';

function frame(i: number, bodyLength = 40): Buffer {
  return encodeHepV3({
    srcIp: '192.0.2.1',
    dstIp: '192.0.2.2',
    srcPort: 5060,
    dstPort: 5060 + i,
    tsSec: 1795348800 + i,
    payload: `SIP ${i} `.padEnd(bodyLength, String.fromCharCode(0x61 + (i % 26))),
  });
}

interface Collected {
  frames: Buffer[];
  errors: HepFramerError[];
  order: string[];
}

function collect(events: Iterable<HepFrameEvent>, into: Collected): void {
  for (const e of events) {
    if (e.kind === 'frame') {
      into.frames.push(Buffer.from(e.frame)); // copy: views may alias the pushed chunk
      into.order.push('frame');
    } else {
      into.errors.push(e);
      into.order.push(`error:${e.code}`);
    }
  }
}

function run(pieces: readonly Buffer[], framer = new HepStreamFramer()): Collected {
  const out: Collected = { frames: [], errors: [], order: [] };
  for (const p of pieces) collect(framer.push(p), out);
  collect(framer.end(), out);
  return out;
}

const F = [frame(0, 30), frame(1, 55), frame(2, 12)];
const STREAM = Buffer.concat(F);

describe('HepStreamFramer: frames', () => {
  test('coalesced frames in one chunk come back as views, not copies', () => {
    const framer = new HepStreamFramer();
    const events = framer.push(STREAM);
    assert.equal(events.length, 3);
    events.forEach((e, i) => {
      assert.ok(e.kind === 'frame');
      assert.deepEqual(e.frame, F[i]);
      assert.equal(e.frame.buffer, STREAM.buffer, 'view into the pushed chunk');
    });
    assert.equal(framer.buffered, 0);
    assert.deepEqual(framer.end(), []);
  });

  test('split at every byte boundary', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      const r = run([STREAM.subarray(0, i), STREAM.subarray(i)]);
      assert.deepEqual(r.errors, [], `split at ${i}`);
      assert.deepEqual(r.frames, F, `split at ${i}`);
    }
  });

  test('split at every pair of byte boundaries', () => {
    for (let i = 0; i <= STREAM.length; i += 1) {
      for (let j = i; j <= STREAM.length; j += 3) {
        const r = run([STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)]);
        assert.equal(r.errors.length, 0, `split at ${i}/${j}`);
        assert.deepEqual(r.frames, F, `split at ${i}/${j}`);
      }
    }
  });

  test('1-byte pushes', () => {
    const framer = new HepStreamFramer();
    const out: Collected = { frames: [], errors: [], order: [] };
    for (let i = 0; i < STREAM.length; i++) {
      collect(framer.push(STREAM.subarray(i, i + 1)), out);
      assert.ok(framer.buffered <= framer.maxFrame + 6);
    }
    assert.deepEqual(out.frames, F);
    assert.deepEqual(out.errors, []);
  });

  test('empty pushes are harmless', () => {
    const r = run([Buffer.alloc(0), STREAM.subarray(0, 3), Buffer.alloc(0), STREAM.subarray(3)]);
    assert.deepEqual(r.frames, F);
  });

  test('a frame that spans chunks is copied once into a buffer of its own length', () => {
    const framer = new HepStreamFramer();
    assert.equal(framer.push(STREAM.subarray(0, 10)).length, 0);
    assert.equal(framer.buffered, 10);
    assert.equal(framer.pendingBytes, 10);
    const events = framer.push(STREAM.subarray(10));
    assert.equal(events.length, 3);
    const first = events[0]!;
    assert.ok(first.kind === 'frame');
    assert.notEqual(first.frame.buffer, STREAM.buffer);
    assert.equal(first.frame.length, F[0]!.length);
    const second = events[1]!;
    assert.ok(second.kind === 'frame');
    assert.equal(second.frame.buffer, STREAM.buffer, 'later frames in the chunk are views');
  });

  test('every frame decodes', () => {
    const r = run([STREAM.subarray(0, 50), STREAM.subarray(50)]);
    r.frames.forEach((f, i) => {
      const d = decodeHep(f);
      assert.ok(d.ok);
      assert.equal(d.packet.dstPort, 5060 + i);
    });
  });

  test('a 6-byte frame (header only) is a frame; the decoder rejects it', () => {
    const empty = Buffer.from('HEP3\x00\x06', 'latin1');
    const r = run([Buffer.concat([empty, F[0]!])]);
    assert.equal(r.frames.length, 2);
    assert.equal(decodeHep(r.frames[0]!).ok, false);
  });

  test('a maximum-size frame', () => {
    const big = frame(3, 65000);
    assert.ok(big.length > 65000 && big.length <= 65535);
    const r = run([big.subarray(0, 1000), big.subarray(1000, 40000), big.subarray(40000)]);
    assert.deepEqual(r.frames, [big]);
  });
});

describe('HepStreamFramer: desync and recovery', () => {
  test('garbage between frames: one error with the byte count, later frames kept', () => {
    const junk = Buffer.from('garbage bytes\r\n');
    const r = run([Buffer.concat([F[0]!, junk, F[1]!, F[2]!])]);
    assert.deepEqual(r.frames, F);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.code, 'desync');
    assert.equal(r.errors[0]!.reason, 'bad_magic');
    assert.equal(r.errors[0]!.skipped, junk.length);
    assert.deepEqual(r.order, ['frame', 'error:desync', 'frame', 'frame']);
  });

  test('garbage split at every byte boundary gives the same result', () => {
    const junk = Buffer.from('xxHEPHE3HEP!junk');
    const stream = Buffer.concat([F[0]!, junk, F[1]!, F[2]!]);
    for (let i = 0; i <= stream.length; i++) {
      const r = run([stream.subarray(0, i), stream.subarray(i)]);
      assert.deepEqual(r.frames, F, `split at ${i}`);
      assert.equal(r.errors.length, 1, `split at ${i}`);
      assert.equal(r.errors[0]!.skipped, junk.length, `split at ${i}`);
    }
  });

  test('garbage in 1-byte pushes', () => {
    const junk = Buffer.from('HEHEP\x00HEP3\x00\x02zz');
    const stream = Buffer.concat([junk, F[0]!, F[1]!]);
    const r = run(Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1)));
    assert.deepEqual(r.frames, [F[0], F[1]]);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.skipped, junk.length);
  });

  test('garbage at the start', () => {
    const r = run([Buffer.concat([Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n'), F[0]!])]);
    assert.deepEqual(r.frames, [F[0]]);
    assert.equal(r.errors[0]!.skipped, 25);
  });

  test('length < 6 → bad_length, resynchronised', () => {
    const bad = Buffer.from('HEP3\x00\x03', 'latin1');
    const r = run([Buffer.concat([F[0]!, bad, F[1]!])]);
    assert.deepEqual(r.frames, [F[0], F[1]]);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.reason, 'bad_length');
    assert.equal(r.errors[0]!.skipped, 6);
  });

  test('length > maxFrame → oversized, resynchronised; the bad frame costs only itself', () => {
    const framer = new HepStreamFramer({ maxFrame: 200 });
    const big = frame(7, 300);
    const r = run([Buffer.concat([F[0]!, big, F[1]!, F[2]!])], framer);
    assert.deepEqual(r.frames, F);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.reason, 'oversized');
    assert.equal(r.errors[0]!.skipped, big.length);
  });

  test('a lying header (HEP3 + 0xFFFF) does not swallow the frames after it, whatever the segments', () => {
    const frames = Array.from({ length: 400 }, (_, i) => frame(i, 300));
    const liar = Buffer.from('HEP3\xff\xff', 'latin1');
    const stream = Buffer.concat([...frames.slice(0, 101), liar, ...frames.slice(101)]);
    for (const segment of [stream.length, 65_536, 1460, 333, 7]) {
      const pieces: Buffer[] = [];
      for (let off = 0; off < stream.length; off += segment) pieces.push(stream.subarray(off, off + segment));
      const r = run(pieces);
      assert.equal(r.frames.length, 400, `segments of ${segment}`);
      assert.deepEqual(r.frames, frames, `segments of ${segment}`);
      assert.deepEqual(
        r.errors.map((e) => [e.code, e.reason, e.skipped]),
        [['desync', 'bad_chunks', liar.length]],
        `segments of ${segment}`,
      );
    }
  });

  test('a lying header inside one segment, and one cut off by the end of the stream', () => {
    const liar = Buffer.from('HEP3\x01\x00', 'latin1'); // 256 bytes claimed, F[0..2] are 200
    const inside = run([Buffer.concat([liar, ...F, F[0]!, F[1]!, F[2]!])]);
    assert.equal(inside.frames.length, 6);
    assert.deepEqual(inside.errors.map((e) => [e.code, e.reason, e.skipped]), [['desync', 'bad_chunks', 6]]);

    const atEnd = run([Buffer.concat([F[0]!, Buffer.from('HEP3\xff\xff', 'latin1'), F[1]!, F[2]!])]);
    assert.deepEqual(atEnd.frames, F);
    assert.deepEqual(atEnd.errors.map((e) => [e.code, e.reason, e.skipped]), [['desync', 'bad_chunks', 6]]);
  });

  test('a stream of lying headers costs linear work: past the rescan credit, frames go on whole', () => {
    const liar = Buffer.concat([Buffer.from('HEP3\xff\xff', 'latin1'), Buffer.alloc(1, 0x7a)]);
    const stream = Buffer.concat(Array.from({ length: 40_000 }, () => liar));
    const framer = new HepStreamFramer();
    const t0 = performance.now();
    const out: Collected = { frames: [], errors: [], order: [] };
    for (let off = 0; off < stream.length; off += 1460) collect(framer.push(stream.subarray(off, off + 1460)), out);
    collect(framer.end(), out);
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `${ms.toFixed(0)} ms for ${stream.length} bytes of lying headers`);
    const accounted = out.frames.reduce((n, f) => n + f.length, 0) + out.errors.reduce((n, e) => n + e.skipped, 0);
    assert.equal(accounted, stream.length, 'every byte is a frame (the decoder counts it) or counted as skipped');
  });

  test('never buffers more than maxFrame + 6 bytes', () => {
    const framer = new HepStreamFramer({ maxFrame: 150 });
    const junk = Buffer.alloc(5000, 0x41);
    framer.push(junk);
    assert.ok(framer.buffered <= 156);
    assert.equal(framer.skipping, 5000);
    const stream = Buffer.concat([frame(1, 20), frame(2, 20)]);
    for (let i = 0; i < stream.length; i++) {
      framer.push(stream.subarray(i, i + 1));
      assert.ok(framer.buffered <= 156);
    }
    assert.equal(framer.skipping, 0);
    assert.equal(framer.buffered, 0);
  });

  test('stream ends during garbage or inside a frame', () => {
    const a = run([Buffer.concat([F[0]!, Buffer.from('zzzzzzzHE')])]);
    assert.deepEqual(a.frames, [F[0]]);
    assert.deepEqual(
      a.errors.map((e) => [e.code, e.skipped]),
      [['desync', 9]],
    );

    // Fewer than 6 bytes cannot be judged: they are a cut header.
    const short = run([Buffer.concat([F[0]!, Buffer.from('zzzHE')])]);
    assert.deepEqual(
      short.errors.map((e) => [e.code, e.skipped]),
      [['truncated', 5]],
    );

    const b = run([Buffer.concat([F[0]!, F[1]!.subarray(0, 20)])]);
    assert.deepEqual(b.frames, [F[0]]);
    assert.deepEqual(
      b.errors.map((e) => [e.code, e.skipped]),
      [['truncated', 20]],
    );

    const c = run([F[0]!.subarray(0, 4)]);
    assert.deepEqual(
      c.errors.map((e) => [e.code, e.skipped]),
      [['truncated', 4]],
    );
  });

  test('random garbage and random splits: every frame after the garbage is recovered', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 30 }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 97 }), { maxLength: 12 }),
        (junks, cuts) => {
          // Keep the junk free of an accidental HEP3 magic so the expectation is exact.
          const clean = junks.map((j) => Buffer.from(Buffer.from(j).toString('latin1').replaceAll('HEP3', 'HEPX'), 'latin1'));
          const parts = [clean[0]!, F[0]!, clean[1]!, F[1]!, clean[2]!, F[2]!];
          const stream = Buffer.concat(parts);
          const pieces: Buffer[] = [];
          let at = 0;
          for (const c of cuts) {
            pieces.push(stream.subarray(at, Math.min(stream.length, at + c)));
            at = Math.min(stream.length, at + c);
          }
          pieces.push(stream.subarray(at));
          const r = run(pieces);
          // Junk that happens to end with a magic prefix ('H', 'HE', 'HEP') fused with the next frame is still junk.
          assert.deepEqual(r.frames, F);
          const totalJunk = clean.reduce((s, j) => s + j.length, 0);
          assert.equal(r.errors.reduce((s, e) => s + e.skipped, 0), totalJunk);
          assert.equal(r.errors.length, clean.filter((j) => j.length > 0).length);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('any input: never throws, stays bounded, and accounts for every byte', () => {
    const header = fc.tuple(fc.integer({ min: 0, max: 300 })).map(([len]) => {
      const h = Buffer.from('HEP3\0\0', 'latin1');
      h.writeUInt16BE(len, 4);
      return h;
    });
    const piece = fc.oneof(header, fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a)), fc.constantFrom(...F));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 10 }), fc.integer({ min: 6, max: 400 }), (pieces, cuts, maxFrame) => {
        const stream = Buffer.concat(pieces);
        const framer = new HepStreamFramer({ maxFrame });
        let accounted = 0;
        const count = (events: readonly HepFrameEvent[]): void => {
          for (const e of events) {
            if (e.kind === 'frame') {
              assert.ok(e.frame.length >= 6 && e.frame.length <= maxFrame);
              assert.equal(e.frame.toString('latin1', 0, 4), 'HEP3');
              assert.equal(e.frame.readUInt16BE(4), e.frame.length);
              accounted += e.frame.length;
            } else {
              assert.ok(e.skipped > 0);
              accounted += e.skipped;
            }
          }
        };
        let at = 0;
        for (const c of [...cuts, stream.length]) {
          const end = Math.min(stream.length, at + c);
          count(framer.push(stream.subarray(at, end)));
          assert.ok(framer.buffered <= maxFrame + 6);
          at = end;
        }
        count(framer.push(stream.subarray(at)));
        count(framer.end());
        assert.equal(accounted, stream.length);
      }),
      { numRuns: 1000 },
    );
  });
});
