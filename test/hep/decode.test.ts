import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { decodeHep } from '../../src/hep/decode.js';
import type { HepDecodeResult, HepPacket } from '../../src/hep/types.js';

// Vectors here are built byte by byte, independently of src/hep/encode.ts.

const SIP = 'OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nCall-ID: v@x\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:bob@example.com>\r\nContent-Length: 0\r\n\r\n';
const SIP_BYTES = Buffer.from(SIP);

type RawChunk = [vendor: number, type: number, data: Buffer];

const u8 = (v: number): Buffer => Buffer.from([v]);
const u16 = (v: number): Buffer => Buffer.from([v >> 8, v & 0xff]);
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};
const hex = (h: string): Buffer => Buffer.from(h, 'hex');

function rawChunk([vendor, type, data]: RawChunk, lengthField?: number): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt16BE(vendor, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt16BE(lengthField ?? data.length + 6, 4);
  return Buffer.concat([h, data]);
}

function rawV3(chunks: readonly RawChunk[], opts: { magic?: string; total?: number; trailer?: Buffer } = {}): Buffer {
  const body = Buffer.concat(chunks.map((c) => rawChunk(c)));
  const h = Buffer.alloc(6);
  h.write(opts.magic ?? 'HEP3', 0, 'latin1');
  h.writeUInt16BE(opts.total ?? body.length + 6, 4);
  return Buffer.concat([h, body, opts.trailer ?? Buffer.alloc(0)]);
}

/** A complete IPv4 SIP packet's chunks, as captagent writes them. */
function baseChunks(payload: Buffer = SIP_BYTES): RawChunk[] {
  return [
    [0, 0x01, u8(2)],
    [0, 0x02, u8(17)],
    [0, 0x03, hex('c0000201')],
    [0, 0x04, hex('c6336402')],
    [0, 0x07, u16(5060)],
    [0, 0x08, u16(5080)],
    [0, 0x09, u32(1795348800)],
    [0, 0x0a, u32(123456)],
    [0, 0x0b, u8(1)],
    [0, 0x0c, u32(2001)],
    [0, 0x0f, payload],
  ];
}

function ok(r: HepDecodeResult): HepPacket {
  if (!r.ok) assert.fail(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.packet;
}

function err(r: HepDecodeResult, code: string, chunkType?: number): void {
  assert.equal(r.ok, false, 'expected an error');
  if (r.ok) return;
  assert.equal(r.error.code, code, r.error.message);
  assert.ok(r.error.message.length > 0);
  if (chunkType !== undefined) assert.equal(r.error.chunkType, chunkType, r.error.message);
}

describe('HEP v1', () => {
  test('IPv4', () => {
    const buf = Buffer.concat([hex('01100211' + '13c4' + '13d8' + 'c0000201' + 'c6336402'), SIP_BYTES]);
    const p = ok(decodeHep(buf));
    assert.equal(p.version, 1);
    assert.equal(p.family, 2);
    assert.equal(p.ipProto, 17);
    assert.equal(p.srcIp, '192.0.2.1');
    assert.equal(p.dstIp, '198.51.100.2');
    assert.equal(p.srcPort, 5060);
    assert.equal(p.dstPort, 5080);
    assert.equal(p.tsSec, 0);
    assert.equal(p.tsUsec, 0);
    assert.equal(p.captureId, 0);
    assert.equal(p.protoType, 1);
    assert.deepEqual(p.payload, SIP_BYTES);
    assert.equal(p.compressed, false);
    assert.equal(p.correlationId, null);
    assert.equal(p.authKey, null);
    assert.deepEqual(p.chunks, []);
    // A view, not a copy.
    assert.equal(p.payload.buffer, buf.buffer);
    assert.equal(p.payload.byteOffset, buf.byteOffset + 16);
  });

  test('IPv6', () => {
    const buf = Buffer.concat([
      hex('0128' + '0a06' + '1f40' + '13c4' + '20010db8000000000000000000000001' + '00000000000000000000ffffc0000201'),
      SIP_BYTES,
    ]);
    const p = ok(decodeHep(buf));
    assert.equal(p.family, 10);
    assert.equal(p.ipProto, 6);
    assert.equal(p.srcIp, '2001:db8::1');
    assert.equal(p.dstIp, '::ffff:192.0.2.1');
    assert.equal(p.srcPort, 8000);
    assert.equal(p.dstPort, 5060);
    assert.deepEqual(p.payload, SIP_BYTES);
  });
});

describe('HEP v2', () => {
  // tv_sec 1795349000 = 0x6b02da08 LE, tv_usec 123456 = 0x0001e240 LE, capture id 0x1234 LE, 2 bytes padding.
  const TIME_BLOCK = '08da026b' + '40e20100' + '3412' + '0000';

  test('IPv4: little-endian time block and padding', () => {
    const buf = Buffer.concat([hex('02100211' + '8a77' + '13c4' + 'c00002aa' + 'c6336419' + TIME_BLOCK), SIP_BYTES]);
    const p = ok(decodeHep(buf));
    assert.equal(p.version, 2);
    assert.equal(p.srcIp, '192.0.2.170');
    assert.equal(p.dstIp, '198.51.100.25');
    assert.equal(p.srcPort, 35447);
    assert.equal(p.dstPort, 5060);
    assert.equal(p.tsSec, 1795349000);
    assert.equal(p.tsUsec, 123456);
    assert.equal(p.captureId, 0x1234);
    assert.equal(p.protoType, 1);
    assert.equal(p.payload.byteOffset - buf.byteOffset, 28);
    assert.deepEqual(p.payload, SIP_BYTES);
  });

  test('IPv6', () => {
    const buf = Buffer.concat([
      hex('02280a11' + '13c4' + '13c5' + 'fe800000000000000000000000000001' + '20010db8000000000001000000000002' + TIME_BLOCK),
      SIP_BYTES,
    ]);
    const p = ok(decodeHep(buf));
    assert.equal(p.family, 10);
    assert.equal(p.srcIp, 'fe80::1');
    assert.equal(p.dstIp, '2001:db8::1:0:0:2');
    assert.equal(p.tsSec, 1795349000);
    assert.equal(p.captureId, 0x1234);
    assert.equal(p.payload.byteOffset - buf.byteOffset, 52);
  });

  test('the header-length byte is ignored (senders vary)', () => {
    for (const hl of [0, 16, 28, 99, 255]) {
      const buf = Buffer.concat([hex('02' + hl.toString(16).padStart(2, '0') + '0211' + '13c4' + '13c4' + 'c0000201' + 'c0000202' + TIME_BLOCK), SIP_BYTES]);
      assert.deepEqual(ok(decodeHep(buf)).payload, SIP_BYTES, `hdr len ${hl}`);
    }
  });

  test('unknown ip-proto is kept as is', () => {
    const buf = Buffer.concat([hex('02100284' + '13c4' + '13c4' + 'c0000201' + 'c0000202' + TIME_BLOCK), SIP_BYTES]);
    assert.equal(ok(decodeHep(buf)).ipProto, 132);
  });
});

describe('HEP v1/v2 malformed', () => {
  test('shorter than the header → too_short', () => {
    const v1v4 = hex('01100211' + '13c4' + '13c4' + 'c0000201' + 'c0000202');
    const v2v6 = hex('02280a11' + '13c4' + '13c4' + '00'.repeat(32) + '00'.repeat(12));
    for (let n = 1; n < v1v4.length; n++) err(decodeHep(v1v4.subarray(0, n)), 'too_short');
    for (let n = 1; n < v2v6.length; n++) err(decodeHep(v2v6.subarray(0, n)), 'too_short');
    const v2v4 = hex('02100211' + '13c4' + '13c4' + 'c0000201' + 'c0000202' + '00'.repeat(11));
    err(decodeHep(v2v4), 'too_short'); // 27 bytes: the 28-byte v2 header is cut
  });

  test('header without payload → no_payload', () => {
    err(decodeHep(hex('01100211' + '13c4' + '13c4' + 'c0000201' + 'c0000202')), 'no_payload');
    err(decodeHep(hex('02100211' + '13c4' + '13c4' + 'c0000201' + 'c0000202' + '00'.repeat(12))), 'no_payload');
  });

  test('family other than 2 or 10 → bad_family', () => {
    for (const fam of [0, 1, 3, 23, 28, 255]) {
      const buf = Buffer.concat([hex('0110' + fam.toString(16).padStart(2, '0') + '11' + '13c4' + '13c4' + '00'.repeat(32)), SIP_BYTES]);
      err(decodeHep(buf), 'bad_family');
    }
  });
});

describe('HEP v3', () => {
  test('IPv4 with every common chunk', () => {
    const buf = rawV3([...baseChunks().slice(0, -1), [0, 0x0e, Buffer.from('myHep')], [0, 0x11, Buffer.from('corr-1@x')], [0, 0x0f, SIP_BYTES]]);
    const p = ok(decodeHep(buf));
    assert.equal(p.version, 3);
    assert.equal(p.family, 2);
    assert.equal(p.ipProto, 17);
    assert.equal(p.srcIp, '192.0.2.1');
    assert.equal(p.dstIp, '198.51.100.2');
    assert.equal(p.srcPort, 5060);
    assert.equal(p.dstPort, 5080);
    assert.equal(p.tsSec, 1795348800);
    assert.equal(p.tsUsec, 123456);
    assert.equal(p.captureId, 2001);
    assert.equal(p.protoType, 1);
    assert.equal(p.authKey, 'myHep');
    assert.equal(p.correlationId, 'corr-1@x');
    assert.equal(p.compressed, false);
    assert.deepEqual(p.payload, SIP_BYTES);
    assert.equal(p.payload.buffer, buf.buffer, 'payload is a view');
    assert.deepEqual(
      p.chunks.map((c) => [c.vendor, c.type, c.data.length]),
      [[0, 1, 1], [0, 2, 1], [0, 3, 4], [0, 4, 4], [0, 7, 2], [0, 8, 2], [0, 9, 4], [0, 10, 4], [0, 11, 1], [0, 12, 4], [0, 14, 5], [0, 17, 8], [0, 15, SIP_BYTES.length]],
    );
    for (const c of p.chunks) assert.equal(c.data.buffer, buf.buffer, 'chunk data is a view');
  });

  test('IPv6 addresses (chunks 5 and 6), family from the address chunks', () => {
    const chunks = baseChunks().filter(([, t]) => t !== 0x01 && t !== 0x03 && t !== 0x04);
    chunks.unshift([0, 0x05, hex('20010db8000000000000000000000001')], [0, 0x06, hex('00000000000000000000ffff01020304')]);
    const p = ok(decodeHep(rawV3(chunks)));
    assert.equal(p.family, 10);
    assert.equal(p.srcIp, '2001:db8::1');
    assert.equal(p.dstIp, '::ffff:1.2.3.4');
  });

  test('IPv6 with a matching family chunk', () => {
    const chunks: RawChunk[] = baseChunks().map(([v, t, d]): RawChunk =>
      t === 0x01 ? [v, t, u8(10)] : t === 0x03 ? [v, 0x05, hex('00000000000000000000000000000001')] : t === 0x04 ? [v, 0x06, hex('00000000000000000000000001020304')] : [v, t, d],
    );
    const p = ok(decodeHep(rawV3(chunks)));
    assert.equal(p.family, 10);
    assert.equal(p.srcIp, '::1');
    assert.equal(p.dstIp, '::1.2.3.4');
  });

  test('EEP1 magic is accepted as v3', () => {
    const p = ok(decodeHep(rawV3(baseChunks(), { magic: 'EEP1' })));
    assert.equal(p.version, 3);
    assert.deepEqual(p.payload, SIP_BYTES);
  });

  test('optional chunks absent: family, timestamps, capture id → 0', () => {
    const chunks = baseChunks().filter(([, t]) => ![0x01, 0x09, 0x0a, 0x0c].includes(t));
    const p = ok(decodeHep(rawV3(chunks)));
    assert.equal(p.tsSec, 0);
    assert.equal(p.tsUsec, 0);
    assert.equal(p.captureId, 0);
    assert.equal(p.family, 2);
  });

  test('bytes after the total length are ignored', () => {
    const exact = rawV3(baseChunks());
    const padded = rawV3(baseChunks(), { trailer: Buffer.from('GARBAGE\x00\x00\x00\x01\x00\x06') });
    const p = ok(decodeHep(padded));
    assert.deepEqual(p.payload, SIP_BYTES);
    assert.equal(p.chunks.length, ok(decodeHep(exact)).chunks.length);
  });

  test('vendor chunks are kept and not interpreted; unknown generic chunks are kept', () => {
    const chunks = baseChunks();
    chunks.splice(3, 0, [0x0008, 0x0003, Buffer.from('conv-id')], [0x0002, 0x0000, Buffer.alloc(0)], [0, 0x0012, u16(100)], [0, 0x0077, Buffer.from('x')]);
    const p = ok(decodeHep(rawV3(chunks)));
    assert.equal(p.srcIp, '192.0.2.1', 'vendor chunk type 3 is not a source address');
    const vendor = p.chunks.find((c) => c.vendor === 8);
    assert.ok(vendor);
    assert.equal(vendor.type, 3);
    assert.equal(vendor.data.toString(), 'conv-id');
    assert.ok(p.chunks.some((c) => c.vendor === 2 && c.type === 0 && c.data.length === 0));
    assert.ok(p.chunks.some((c) => c.vendor === 0 && c.type === 0x77));
  });

  test('duplicate chunks: the last one wins', () => {
    const chunks = baseChunks();
    chunks.push(
      [0, 0x03, hex('0a000001')],
      [0, 0x07, u16(7)],
      [0, 0x11, Buffer.from('first')],
      [0, 0x11, Buffer.from('second')],
      [0, 0x0f, Buffer.from('LAST')],
    );
    const p = ok(decodeHep(rawV3(chunks)));
    assert.equal(p.srcIp, '10.0.0.1');
    assert.equal(p.srcPort, 7);
    assert.equal(p.correlationId, 'second');
    assert.equal(p.payload.toString(), 'LAST');
  });

  test('a later 0x000f replaces an earlier 0x0010 and vice versa', () => {
    const z = deflateSync(SIP_BYTES);
    const a = ok(decodeHep(rawV3([...baseChunks(Buffer.from('plain')), [0, 0x10, z]])));
    assert.equal(a.compressed, true);
    assert.deepEqual(a.payload, SIP_BYTES);
    const chunks = baseChunks();
    chunks.splice(chunks.length - 1, 0, [0, 0x10, z]);
    const b = ok(decodeHep(rawV3(chunks)));
    assert.equal(b.compressed, false);
  });

  test('correlation id and auth key by chunk length (NUL kept, next chunk not appended), UTF-8', () => {
    const chunks = baseChunks();
    chunks.push([0, 0x11, Buffer.from('AB\0CD')], [0x4142, 0x0001, Buffer.from('zz')], [0, 0x0e, Buffer.from('kéy')]);
    const p = ok(decodeHep(rawV3(chunks)));
    assert.equal(p.correlationId, 'AB\0CD');
    assert.equal(p.authKey, 'kéy');
  });

  test('empty correlation id chunk gives an empty string (the chunk was sent)', () => {
    const p = ok(decodeHep(rawV3([...baseChunks(), [0, 0x11, Buffer.alloc(0)]])));
    assert.equal(p.correlationId, '');
  });

  test('proto types and ip protos pass through', () => {
    for (const [pt, ip] of [[5, 17], [32, 6], [99, 132], [100, 22], [250, 0]] as const) {
      const chunks = baseChunks().map(([v, t, d]): RawChunk => (t === 0x0b ? [v, t, u8(pt)] : t === 0x02 ? [v, t, u8(ip)] : [v, t, d]));
      const p = ok(decodeHep(rawV3(chunks)));
      assert.equal(p.protoType, pt);
      assert.equal(p.ipProto, ip);
    }
  });

  test('u32 fields use the full range', () => {
    const chunks = baseChunks().map(([v, t, d]): RawChunk => (t === 0x09 || t === 0x0a || t === 0x0c ? [v, t, hex('ffffffff')] : [v, t, d]));
    const p = ok(decodeHep(rawV3(chunks)));
    assert.equal(p.tsSec, 0xffffffff);
    assert.equal(p.tsUsec, 0xffffffff);
    assert.equal(p.captureId, 0xffffffff);
  });
});

describe('HEP v3 compressed payload (0x0010)', () => {
  const withCompressed = (data: Buffer): Buffer => rawV3([...baseChunks().slice(0, -1), [0, 0x10, data]]);

  for (const [name, fn] of [['zlib', deflateSync], ['gzip', gzipSync], ['raw deflate', deflateRawSync]] as const) {
    test(`${name} is detected and inflated`, () => {
      const p = ok(decodeHep(withCompressed(fn(SIP_BYTES))));
      assert.equal(p.compressed, true);
      assert.deepEqual(p.payload, SIP_BYTES);
    });
  }

  test('corrupt data → bad_compressed_payload', () => {
    const z = deflateSync(SIP_BYTES);
    err(decodeHep(withCompressed(z.subarray(0, z.length - 8))), 'bad_compressed_payload', 0x10);
    const g = gzipSync(SIP_BYTES);
    g.writeUInt8(g.readUInt8(g.length - 5) ^ 0xff, g.length - 5); // break the CRC
    err(decodeHep(withCompressed(g)), 'bad_compressed_payload');
    err(decodeHep(withCompressed(Buffer.from([0xff, 0xff, 0xff, 0xff]))), 'bad_compressed_payload');
  });

  test('output is bounded (zip bomb) and the bound is configurable', () => {
    const bomb = deflateSync(Buffer.alloc(2 * 1024 * 1024));
    assert.ok(bomb.length < 65000);
    err(decodeHep(withCompressed(bomb)), 'payload_too_large', 0x10);
    const p = ok(decodeHep(withCompressed(bomb), { maxInflatedLength: 4 * 1024 * 1024 }));
    assert.equal(p.payload.length, 2 * 1024 * 1024);
    err(decodeHep(withCompressed(deflateSync(SIP_BYTES)), { maxInflatedLength: 10 }), 'payload_too_large');
  });

  test('by default the bound is what an uncompressed HEP payload can be: 65,535 bytes', () => {
    const fits = Buffer.alloc(65_535, 0x41);
    assert.equal(ok(decodeHep(withCompressed(deflateSync(fits)))).payload.length, 65_535);
    const amplified = deflateSync(Buffer.alloc(65_536, 0x41));
    assert.ok(amplified.length < 1300, 'a small datagram');
    err(decodeHep(withCompressed(amplified)), 'payload_too_large', 0x10);
  });

  test('inflates to nothing → no_payload', () => {
    err(decodeHep(withCompressed(deflateSync(Buffer.alloc(0)))), 'no_payload');
  });
});

describe('HEP v3 malformed', () => {
  test('not HEP at all → bad_version; too few bytes → too_short', () => {
    err(decodeHep(Buffer.alloc(0)), 'too_short');
    err(decodeHep(Buffer.from('HEP')), 'too_short');
    err(decodeHep(Buffer.from('HEP3\x00')), 'too_short');
    err(decodeHep(Buffer.from('INVITE sip:a@b SIP/2.0\r\n')), 'bad_version');
    err(decodeHep(rawV3(baseChunks(), { magic: 'HEP2' })), 'bad_version');
    err(decodeHep(rawV3(baseChunks(), { magic: 'EEP3' })), 'bad_version');
    err(decodeHep(Buffer.from([0x03, 0x10, 0x02, 0x11, 0, 0, 0, 0])), 'bad_version');
  });

  test('total length < 6 or > received → bad_length', () => {
    for (const total of [0, 1, 5]) err(decodeHep(rawV3(baseChunks(), { total })), 'bad_length');
    const good = rawV3(baseChunks());
    err(decodeHep(rawV3(baseChunks(), { total: good.length + 1 })), 'bad_length');
    err(decodeHep(good.subarray(0, good.length - 1)), 'bad_length');
  });

  test('total length 6 (no chunks) → missing_chunk', () => {
    err(decodeHep(rawV3([])), 'missing_chunk');
  });

  test('chunk length < 6 → bad_chunk_length', () => {
    for (const len of [0, 1, 5]) {
      const chunks = baseChunks();
      const body = Buffer.concat([rawChunk(chunks[0]!), rawChunk([0, 0x12, u16(1)], len), ...chunks.slice(1).map((c) => rawChunk(c))]);
      const h = Buffer.from('HEP3\0\0');
      h.writeUInt16BE(body.length + 6, 4);
      err(decodeHep(Buffer.concat([h, body])), 'bad_chunk_length');
    }
  });

  test('a chunk reaching past the total length → bad_chunk_length', () => {
    const good = rawV3(baseChunks());
    const short = Buffer.from(good);
    short.writeUInt16BE(good.length - 1, 4); // payload now crosses the total
    err(decodeHep(short), 'bad_chunk_length', 0x0f);
    const longChunk = Buffer.from(good);
    // The first chunk (family, really 7 bytes) claims a length that runs past the total.
    longChunk.writeUInt16BE(good.length, 6 + 4);
    err(decodeHep(longChunk), 'bad_chunk_length', 0x01);
  });

  test('1–5 bytes left after the last chunk → bad_chunk_length', () => {
    for (let extra = 1; extra < 6; extra++) {
      const body = rawV3(baseChunks(), { trailer: Buffer.alloc(extra) });
      body.writeUInt16BE(body.length, 4);
      err(decodeHep(body), 'bad_chunk_length');
    }
  });

  test('fixed-size chunks with the wrong size → bad_chunk_size', () => {
    const sizes: Record<number, number> = { 1: 1, 2: 1, 3: 4, 4: 4, 5: 16, 6: 16, 7: 2, 8: 2, 9: 4, 10: 4, 11: 1, 12: 4, 13: 2, 0x12: 2, 0x16: 2, 0x17: 1, 0x18: 1, 0x20: 2, 0x21: 2, 0x23: 4, 0x27: 2, 0x28: 2 };
    for (const [typeText, size] of Object.entries(sizes)) {
      const type = Number(typeText);
      for (const wrong of [0, size - 1, size + 1]) {
        if (wrong < 0 || wrong === size) continue;
        const chunks = baseChunks();
        chunks.splice(1, 0, [0, type, Buffer.alloc(wrong, 1)]);
        err(decodeHep(rawV3(chunks)), 'bad_chunk_size', type);
      }
    }
  });

  test('variable-size chunks accept any size (MAC chunks are not checked)', () => {
    const chunks = baseChunks();
    chunks.push([0, 0x13, Buffer.from('node1')], [0, 0x14, Buffer.alloc(6)], [0, 0x15, Buffer.alloc(8)], [0, 0x0e, Buffer.alloc(0)], [0, 0x29, Buffer.from('g')]);
    ok(decodeHep(rawV3(chunks)));
  });

  test('each required chunk missing → missing_chunk naming it', () => {
    const cases: Array<[number, number]> = [
      [0x02, 0x02],
      [0x03, 0x03],
      [0x04, 0x04],
      [0x07, 0x07],
      [0x08, 0x08],
      [0x0b, 0x0b],
      [0x0f, 0x0f],
    ];
    for (const [drop, named] of cases) {
      const r = decodeHep(rawV3(baseChunks().filter(([, t]) => t !== drop)));
      err(r, 'missing_chunk', named);
      if (!r.ok) assert.match(r.error.message, new RegExp(`0x${named.toString(16).padStart(4, '0')}`));
    }
  });

  test('a required chunk sent only with a vendor id does not count', () => {
    const chunks = baseChunks().map(([v, t, d]): RawChunk => (t === 0x0b ? [0x0002, t, d] : [v, t, d]));
    err(decodeHep(rawV3(chunks)), 'missing_chunk', 0x0b);
  });

  test('address families disagree → address_family_mismatch', () => {
    const mixed = baseChunks().map(([v, t, d]): RawChunk => (t === 0x04 ? [v, 0x06, hex('20010db8000000000000000000000001')] : [v, t, d]));
    err(decodeHep(rawV3(mixed)), 'address_family_mismatch');
    for (const fam of [10, 0, 7]) {
      const chunks = baseChunks().map(([v, t, d]): RawChunk => (t === 0x01 ? [v, t, u8(fam)] : [v, t, d]));
      err(decodeHep(rawV3(chunks)), 'address_family_mismatch', 0x01);
    }
  });

  test('generic chunk type 0 → bad_chunk_type', () => {
    const chunks = baseChunks();
    chunks.splice(2, 0, [0, 0x0000, Buffer.from('x')]);
    err(decodeHep(rawV3(chunks)), 'bad_chunk_type', 0);
  });

  test('empty payload chunk → no_payload', () => {
    err(decodeHep(rawV3(baseChunks(Buffer.alloc(0)))), 'no_payload');
  });
});

describe('decodeHep never throws', () => {
  const good = rawV3([...baseChunks(), [0, 0x11, Buffer.from('c')]]);
  const goodV2 = Buffer.concat([hex('02100211' + '13c4' + '13c4' + 'c0000201' + 'c0000202' + '00'.repeat(12)), SIP_BYTES]);

  test('every truncation of valid v2 and v3 packets', () => {
    for (const pkt of [good, goodV2]) {
      for (let n = 0; n < pkt.length; n++) {
        const r = decodeHep(pkt.subarray(0, n));
        assert.equal(typeof r.ok, 'boolean');
      }
    }
  });

  test('every single-byte change of a valid v3 header region', () => {
    for (let i = 0; i < 120; i++) {
      for (const v of [0x00, 0x01, 0x05, 0x06, 0x0f, 0x10, 0xff]) {
        const pkt = Buffer.from(good);
        pkt[i] = v;
        const r = decodeHep(pkt);
        assert.equal(typeof r.ok, 'boolean');
      }
    }
  });

  test('random bytes and random chunk soups', () => {
    const chunkArb = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0x30 }), fc.uint8Array({ maxLength: 24 }));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
          fc.array(chunkArb, { maxLength: 20 }).map((cs) => rawV3(cs.map(([v, t, d]): RawChunk => [v === 3 ? 7 : 0, t, Buffer.from(d)]))),
          fc.tuple(fc.constantFrom(1, 2), fc.uint8Array({ maxLength: 80 })).map(([v, a]) => Buffer.concat([Buffer.from([v]), Buffer.from(a)])),
        ),
        (buf) => {
          const r = decodeHep(buf);
          if (r.ok) {
            assert.ok(r.packet.payload.length > 0);
            assert.ok(r.packet.family === 2 || r.packet.family === 10);
          } else {
            assert.ok(r.error.code.length > 0);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
