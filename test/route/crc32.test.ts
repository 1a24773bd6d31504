import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';

describe('crc32 (IEEE, zlib-compatible)', () => {
  // mt_mode=hash: CRC-32 → table index for n = 2, 3, 4 (the values Kamailio picks for ASCII)
  const vectors: [string, number, [number, number, number]][] = [
    ['hash-0@host', 1762993816, [0, 1, 0]],
    ['hash-1@host', 2722755901, [1, 1, 1]],
    ['cid-0001@10.0.0.1', 2654155425, [1, 0, 1]],
    ['a84b4c76e66710@pc33.atlanta.com', 1786046826, [0, 0, 2]],
  ];
  for (const [input, expected, [m2, m3, m4]] of vectors) {
    test(`${input} → ${expected}`, () => {
      assert.equal(crc32(input), expected);
      assert.equal(crc32(Buffer.from(input)), expected);
      assert.deepEqual([crc32(input) % 2, crc32(input) % 3, crc32(input) % 4], [m2, m3, m4]);
    });
  }

  test('standard check value and edge cases', () => {
    assert.equal(crc32('123456789'), 0xcbf43926);
    assert.equal(crc32(''), 0);
    assert.equal(crc32(new Uint8Array(0)), 0);
    assert.equal(crc32(new Uint8Array([0])), 0xd202ef8d);
    assert.equal(crc32(new Uint8Array([0xff, 0xff, 0xff, 0xff])), 0xffffffff);
  });

  test('non-ASCII strings hash their UTF-8 bytes (unsigned, unlike Kamailio)', () => {
    const s = 'müller@bücher.example';
    assert.equal(crc32(s), crc32(Buffer.from(s, 'utf8')));
    assert.ok(crc32(s) >= 0 && crc32(s) <= 0xffffffff);
    assert.equal(crc32('€'), crc32(new Uint8Array([0xe2, 0x82, 0xac])));
  });
});
