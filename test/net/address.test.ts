import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { ipByteLength, ipToBytes, ipToText, ipv4ToText, ipv6ToText, writeIpBytes } from '../../src/net/address.js';

/** Expected texts produced by glibc 2.36 inet_ntop (bytes given as hex). */
const GLIBC_IPV6: ReadonlyArray<[string, string]> = [
  ['20010db8000000000001000000000002', '2001:db8::1:0:0:2'],
  ['00000000000000000000ffff01020304', '::ffff:1.2.3.4'],
  ['00000000000000000000000001020304', '::1.2.3.4'],
  ['00000000000000000000000000000000', '::'],
  ['00000000000000000000000000000001', '::1'],
  ['00010000000000000000000000000000', '1::'],
  ['20010db8000000000000000000000000', '2001:db8::'],
  ['00000000000000000000ffff00000000', '::ffff:0.0.0.0'],
  ['00000000000000000000ffff00000001', '::ffff:0.0.0.1'],
  ['00010000000000020000000000000003', '1:0:0:2::3'],
  ['00010000000000020000000000030004', '1::2:0:0:3:4'],
  ['fe800000000000000001000000000000', 'fe80::1:0:0:0'],
  ['00000000000000000000000100000000', '::1:0:0'],
  ['00000000000000010000000000000000', '0:0:0:1::'],
  ['00010002000300040005000600070008', '1:2:3:4:5:6:7:8'],
  ['00010000000200000003000000040000', '1:0:2:0:3:0:4:0'],
  ['00000000000000000000fffe01020304', '::fffe:102:304'],
  ['0000000000000000ffff000001020304', '::ffff:0:102:304'],
  ['abcd00000000000000000000000000ef', 'abcd::ef'],
  ['00000000000000000001000000000000', '::1:0:0:0'],
  ['00000000000000000000000000000002', '::2'],
  ['00000000000000000000000000000102', '::102'],
  ['00000000000000000000000100000002', '::1:0:2'],
  ['00000000000000000000ffffffffffff', '::ffff:255.255.255.255'],
  ['0064ff9b000000000000000001020304', '64:ff9b::102:304'],
  ['00000000000100000000000000000001', '0:0:1::1'],
];

describe('ipv6ToText (glibc inet_ntop)', () => {
  for (const [hex, text] of GLIBC_IPV6) {
    test(`${hex} → ${text}`, () => {
      assert.equal(ipv6ToText(Buffer.from(hex, 'hex'), 0), text);
    });
  }

  test('reads at an offset', () => {
    const buf = Buffer.concat([Buffer.from([9, 9, 9]), Buffer.from('20010db8000000000001000000000002', 'hex')]);
    assert.equal(ipv6ToText(buf, 3), '2001:db8::1:0:0:2');
    assert.equal(ipToText(10, buf, 3), '2001:db8::1:0:0:2');
  });

  test('text → bytes → text is stable for random addresses (sparse zero groups)', () => {
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const buf = Buffer.alloc(16);
        groups.forEach((g, i) => buf.writeUInt16BE(g, 2 * i));
        const text = ipv6ToText(buf, 0);
        assert.equal(isIP(text), 6, text);
        assert.equal(text, text.toLowerCase());
        assert.ok(!text.includes(':::'), text);
        assert.deepEqual(ipToBytes(text), buf, text);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('ipv4ToText', () => {
  test('dotted decimal at an offset', () => {
    assert.equal(ipv4ToText(Buffer.from([0, 192, 0, 2, 255]), 1), '192.0.2.255');
    assert.equal(ipToText(2, Buffer.from([10, 0, 0, 1]), 0), '10.0.0.1');
  });
});

describe('ipToBytes / writeIpBytes', () => {
  test('IPv4', () => {
    assert.deepEqual(ipToBytes('192.0.2.1'), Buffer.from([192, 0, 2, 1]));
    assert.equal(ipByteLength('198.51.100.7'), 4);
  });

  test('IPv6 forms', () => {
    for (const [hex, text] of GLIBC_IPV6) assert.deepEqual(ipToBytes(text), Buffer.from(hex, 'hex'), text);
    assert.deepEqual(ipToBytes('2001:DB8:0:0:0:0:0:1'), Buffer.from('20010db8000000000000000000000001', 'hex'));
    assert.deepEqual(ipToBytes('1:2:3:4:5:6:1.2.3.4'), Buffer.from('00010002000300040005000601020304', 'hex'));
    assert.equal(ipByteLength('::'), 16);
  });

  test('invalid texts', () => {
    const bad = ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.a', ':', ':::', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', '1:', ':1', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3', 'fe80::1%eth0', 'localhost'];
    for (const text of bad) {
      assert.equal(ipToBytes(text), null, text);
      assert.equal(ipByteLength(text), 0, text);
      assert.equal(isIP(text) === 0 || text.includes('%'), true, `node agrees ${text} is invalid`);
    }
  });

  test('writeIpBytes writes in place and refuses to overflow', () => {
    const out = Buffer.alloc(20, 0xee);
    assert.equal(writeIpBytes('::1', out, 4), 16);
    assert.deepEqual(out.subarray(4), Buffer.from('00000000000000000000000000000001', 'hex'));
    assert.equal(out[3], 0xee);
    assert.equal(writeIpBytes('::1', out, 5), 0);
    assert.equal(writeIpBytes('1.2.3.4', out, 17), 0);
  });

  test('agrees with node:net on random IPv4 texts', () => {
    fc.assert(
      fc.property(fc.ipV4(), (text) => {
        const bytes = ipToBytes(text);
        assert.ok(bytes !== null, text);
        assert.equal(ipv4ToText(bytes, 0), text);
      }),
      { numRuns: 500 },
    );
  });

  test('parses every IPv6 text fast-check generates', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const bytes = ipToBytes(text);
        assert.ok(bytes !== null && bytes.length === 16, text);
        // Canonical text parses back to the same bytes.
        assert.deepEqual(ipToBytes(ipv6ToText(bytes, 0)), bytes);
      }),
      { numRuns: 1000 },
    );
  });
});
