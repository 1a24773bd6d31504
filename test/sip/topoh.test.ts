import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { crc16x25, topohAlphabet, topohCodec } from '../../src/sip/topoh.js';
import { createHash } from 'node:crypto';

const DEFAULT_KEY = 'aL9.n8~Hm]Z';

describe('topoh (test vectors made with Kamailio\'s topoh module)', () => {
  test('CRC-16/X-25', () => {
    assert.equal(crc16x25(Buffer.from('123456789')), 0x906e);
    assert.equal(crc16x25(Buffer.from(DEFAULT_KEY)), 0x6609);
  });
  test('MD5(key‖key)', () => {
    assert.equal(createHash('md5').update(DEFAULT_KEY + DEFAULT_KEY).digest('hex'), '4b42b05f068152b702989d26acfdc4a0');
  });
  test('alphabets', () => {
    assert.equal(topohAlphabet(DEFAULT_KEY), 'y0GxFtSUVeTOMWzHPam.jKR93gCoNpkicrJBqIEhvYbnd175AfLl4u6wZs-X8Q2D');
    assert.equal(topohAlphabet('MyKey-123'), 'c62IKbEoi91Q5PGNBSTmveAzMkgFn8CuYx47VXUWaw3rqDHlLRJ.0j-pOysdZfht');
    assert.throws(() => topohAlphabet(''), RangeError);
  });
  const vectors: [string, string, string][] = [
    [DEFAULT_KEY, 'orig-callid-xyz@1.2.3.4', '!!:oweYgLuB3RfdCRP1kUI-PxF7MJZlOBP*'],
    [DEFAULT_KEY, 'ab', '!!:3RV*'],
    [DEFAULT_KEY, 'abcd', '!!:3ReBgy**'],
    [DEFAULT_KEY, 'x', '!!:ky**'],
    ['MyKey-123', 'custom-key-cid@h', '!!:Mpe.8EfDQADXCTj7gAScgc**'],
  ];
  for (const [key, plain, masked] of vectors) {
    test(`mask/unmask ${plain}`, () => {
      const c = topohCodec(key, '!!:');
      assert.equal(c.mask(plain), masked);
      assert.equal(c.unmask(masked)?.toString('utf8'), plain);
    });
  }
  test('a UTF-8 key uses signed key bytes (round trip)', () => {
    const c = topohCodec('clé-Ωkey', '!!:');
    assert.equal(c.unmask(c.mask('utf8-key-cid@h'))?.toString(), 'utf8-key-cid@h');
  });
  test('unmask rules', () => {
    const c = topohCodec(DEFAULT_KEY, '!!:');
    assert.equal(c.unmask('plain-callid@host'), null, 'no prefix');
    assert.equal(c.unmask('!!:'), null, 'not longer than the prefix');
    assert.equal(c.unmask('!!:notvalid$$'), null, 'character outside the alphabet');
    assert.equal(c.unmask('!!:3R*V'), null, 'a * inside');
    assert.equal(c.unmask('!!:**'), null, 'output length ≤ 0');
    assert.equal(c.unmask(c.mask('y'.repeat(255)))?.length, 255);
    assert.equal(c.unmask(c.mask('y'.repeat(256))), null, '5.6.3: 256-byte buffer');
    const noPrefix = topohCodec(DEFAULT_KEY, '');
    assert.equal(noPrefix.unmask(noPrefix.mask('abc'))?.toString(), 'abc');
  });
});
