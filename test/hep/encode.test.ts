import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeHep } from '../../src/hep/decode.js';
import { encodeHep, encodeHepV1, encodeHepV2, encodeHepV3 } from '../../src/hep/encode.js';
import type { HepEncodeOptions } from '../../src/hep/encode.js';
import type { HepDecodeResult, HepPacket } from '../../src/hep/types.js';
import { ipToBytes } from '../../src/net/address.js';
import { readGoldenCorpus } from './_helpers.js';

const SIP = 'INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: e@x\r\nContent-Length: 0\r\n\r\n';

function ok(r: HepDecodeResult): HepPacket {
  if (!r.ok) assert.fail(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.packet;
}

function code(r: HepDecodeResult): string {
  return r.ok ? 'ok' : r.error.code;
}

const base = { srcIp: '192.0.2.1', dstIp: '198.51.100.2', srcPort: 5060, dstPort: 5080, payload: SIP } satisfies HepEncodeOptions;

describe('encodeHep reproduces the golden corpus byte for byte', () => {
  const corpus = readGoldenCorpus();
  test(`${corpus.length} packets`, () => {
    assert.equal(corpus.length, 346);
    for (const e of corpus) {
      const hep = Buffer.from(e.hep_hex, 'hex');
      const m = e.meta;
      const headerLength = hep.length - m.sip_len;
      const opts: HepEncodeOptions = {
        version: m.hep,
        srcIp: m.src_ip,
        dstIp: m.dst_ip,
        srcPort: m.src_port,
        dstPort: m.dst_port,
        ipProto: m.ip_proto,
        protoType: m.proto_type,
        payload: hep.subarray(headerLength),
        ...(m.ts_sec === null ? {} : { tsSec: m.ts_sec, tsUsec: m.ts_usec ?? 0 }),
        ...(m.capture_id === null ? {} : { captureId: m.capture_id }),
        ...(m.correlation_id === null ? {} : { correlationId: m.correlation_id }),
      };
      assert.equal(encodeHep(opts).toString('hex'), e.hep_hex, `${e.set} ${m.label ?? ''}`);
    }
  });
});

describe('encode → decode round trips', () => {
  const ipv4 = fc.ipV4();
  const ipv6 = fc.ipV6();
  const addrPair = fc.oneof(fc.tuple(ipv4, ipv4), fc.tuple(ipv6, ipv6));
  const port = fc.integer({ min: 0, max: 0xffff });
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const payload = fc.uint8Array({ minLength: 1, maxLength: 600 }).map((a) => Buffer.from(a));

  test('v3 with random fields, optional chunks and compression', () => {
    fc.assert(
      fc.property(
        addrPair,
        port,
        port,
        fc.option(u32, { nil: undefined }),
        u32,
        fc.option(u32, { nil: undefined }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        payload,
        fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
        fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
        fc.constantFrom(false, true, 'zlib' as const, 'gzip' as const, 'raw' as const),
        (addrs, srcPort, dstPort, tsSec, tsUsec, captureId, protoType, ipProto, body, correlationId, authKey, compress) => {
          const [srcIp, dstIp] = addrs;
          const buf = encodeHepV3({ srcIp, dstIp, srcPort, dstPort, tsSec, tsUsec, captureId, protoType, ipProto, payload: body, correlationId, authKey, compress });
          assert.equal(buf.readUInt16BE(4), buf.length);
          const p = ok(decodeHep(buf));
          assert.equal(p.version, 3);
          assert.equal(p.family, srcIp.includes(':') ? 10 : 2);
          assert.deepEqual(ipToBytes(p.srcIp), ipToBytes(srcIp));
          assert.deepEqual(ipToBytes(p.dstIp), ipToBytes(dstIp));
          assert.equal(p.srcPort, srcPort);
          assert.equal(p.dstPort, dstPort);
          assert.equal(p.tsSec, tsSec ?? 0);
          assert.equal(p.tsUsec, tsSec === undefined ? 0 : tsUsec);
          assert.equal(p.captureId, captureId ?? 0);
          assert.equal(p.protoType, protoType);
          assert.equal(p.ipProto, ipProto);
          assert.deepEqual(p.payload, body);
          assert.equal(p.compressed, compress !== false);
          assert.equal(p.correlationId, correlationId ?? null);
          assert.equal(p.authKey, authKey ?? null);
        },
      ),
      { numRuns: 400 },
    );
  });

  test('v1 and v2', () => {
    fc.assert(
      fc.property(fc.constantFrom(1 as const, 2 as const), addrPair, port, port, u32, u32, fc.integer({ min: 0, max: 0xffff }), payload, (version, [srcIp, dstIp], srcPort, dstPort, tsSec, tsUsec, captureId, body) => {
        const enc = version === 1 ? encodeHepV1 : encodeHepV2;
        const p = ok(decodeHep(enc({ srcIp, dstIp, srcPort, dstPort, tsSec, tsUsec, captureId, ipProto: 6, payload: body })));
        assert.equal(p.version, version);
        assert.deepEqual(ipToBytes(p.srcIp), ipToBytes(srcIp));
        assert.deepEqual(ipToBytes(p.dstIp), ipToBytes(dstIp));
        assert.equal(p.srcPort, srcPort);
        assert.equal(p.dstPort, dstPort);
        assert.equal(p.ipProto, 6);
        assert.equal(p.tsSec, version === 2 ? tsSec : 0);
        assert.equal(p.tsUsec, version === 2 ? tsUsec : 0);
        assert.equal(p.captureId, version === 2 ? captureId : 0);
        assert.deepEqual(p.payload, body);
      }),
      { numRuns: 300 },
    );
  });

  test('v2 layout: little-endian time block, default header-length byte', () => {
    const buf = encodeHepV2({ ...base, tsSec: 0x01020304, tsUsec: 0x0a0b0c0d, captureId: 0x1234 });
    assert.equal(buf[1], 16);
    assert.equal(buf.subarray(16, 28).toString('hex'), '040302010d0c0b0a34120000');
    assert.equal(encodeHepV2({ ...base, srcIp: '::1', dstIp: '::2' })[1], 40);
  });

  test('extra and vendor chunks are appended and come back', () => {
    const p = ok(decodeHep(encodeHep({ ...base, extraChunks: [{ vendor: 8, type: 0x80, data: 'conv' }, { vendor: 0, type: 0x13, data: Buffer.from('node1') }] })));
    const last = p.chunks.slice(-2).map((c) => [c.vendor, c.type, c.data.toString()]);
    assert.deepEqual(last, [[8, 0x80, 'conv'], [0, 0x13, 'node1']]);
  });

  test('bad input throws (tool, not a receive path)', () => {
    assert.throws(() => encodeHep({ ...base, srcIp: 'nope' }), TypeError);
    assert.throws(() => encodeHepV2({ ...base, dstIp: '::1' }), TypeError);
    assert.throws(() => encodeHep({ ...base, srcPort: 70000 }), RangeError);
  });
});

describe('malformation knobs produce the intended decode errors', () => {
  const cases: Array<[string, HepEncodeOptions, string]> = [
    ['omit proto type', { ...base, malformed: { omitChunks: [0x0b] } }, 'missing_chunk'],
    ['omit payload', { ...base, malformed: { omitChunks: [0x0f] } }, 'missing_chunk'],
    ['omit compressed payload', { ...base, compress: true, malformed: { omitChunks: [0x10] } }, 'missing_chunk'],
    ['duplicate src port', { ...base, malformed: { duplicateChunks: [0x07] } }, 'ok'],
    ['total too big', { ...base, malformed: { totalLength: 9999 } }, 'bad_length'],
    ['total 3', { ...base, malformed: { totalLength: 3 } }, 'bad_length'],
    ['chunk length 3', { ...base, malformed: { chunkLengths: { 0x07: 3 } } }, 'bad_chunk_length'],
    ['chunk length 9 on a u16', { ...base, malformed: { chunkLengths: { 0x07: 9 } } }, 'bad_chunk_size'],
    ['family 10 for IPv4', { ...base, malformed: { familyValue: 10 } }, 'address_family_mismatch'],
    ['EEP1', { ...base, malformed: { magic: 'EEP1' } }, 'ok'],
    ['mixed families', { ...base, dstIp: '2001:db8::1' }, 'address_family_mismatch'],
    ['no family chunk', { ...base, familyChunk: false }, 'ok'],
    ['truncated', { ...base, malformed: { truncateTo: 20 } }, 'bad_length'],
    ['v1 bad family', { ...base, version: 1, malformed: { familyValue: 7 } }, 'bad_family'],
    ['v2 truncated header', { ...base, version: 2, malformed: { truncateTo: 27 } }, 'too_short'],
    ['v2 odd header-length byte', { ...base, version: 2, malformed: { headerLengthByte: 0 } }, 'ok'],
  ];
  for (const [name, opts, expected] of cases) {
    test(name, () => {
      assert.equal(code(decodeHep(encodeHep(opts))), expected);
    });
  }

  test('duplicate chunks are written twice', () => {
    const p = ok(decodeHep(encodeHep({ ...base, malformed: { duplicateChunks: [0x07, 0x0f] } })));
    assert.equal(p.chunks.filter((c) => c.type === 0x07).length, 2);
    assert.equal(p.chunks.filter((c) => c.type === 0x0f).length, 2);
  });
});
