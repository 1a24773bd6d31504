/**
 * The pure parts of the hook API: float2int as Kamailio computes it, `$hep()` names
 * and values, for HEP3 chunks and for HEP v1/v2 header fields.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHep } from '../../src/hep/decode.js';
import { encodeHep } from '../../src/hep/encode.js';
import type { HepPacket } from '../../src/hep/types.js';
import { atof, atoi, float2int, hepKey, hepValue } from '../../src/hook/api.js';

function decoded(p: Buffer): HepPacket {
  const r = decodeHep(p);
  assert.ok(r.ok);
  return r.packet;
}

describe('float2int', () => {
  const cases: [string | number, string | number, number][] = [
    ['10.5', '1', 10], // the admin guide's example
    ['-3.7', '2', -7], // truncated toward 0
    ['4.1', '100', 409], // 409.99999999999994, as C computes it
    ['0.4', '2', -1], // 0 becomes -1
    ['abc', '5', -1], // atof("abc") = 0
    ['7', 'x', -1], // atoi("x") = 0
    ['  2.5e1xyz', ' 3 apples', 75], // leading whitespace, trailing garbage ignored
    ['.5', '4', 2],
    ['+1.9', '-1', -1],
    ['1e10', '1', -2147483648], // out of int range: x86 gives INT_MIN
    ['inf', '1', -2147483648],
    [10.5, 2, 21], // numbers are read as their text
    ['3', '2.9', 6], // atoi stops at the point
  ];
  for (const [f, i, want] of cases) test(`float2int(${JSON.stringify(f)}, ${JSON.stringify(i)}) = ${want}`, () => assert.equal(float2int(f, i), want));

  test('atof / atoi read a prefix like C', () => {
    assert.equal(atof('12.5kg'), 12.5);
    assert.equal(atof('-0.25'), -0.25);
    assert.equal(atof(''), 0);
    assert.ok(Number.isNaN(atof('nan')));
    assert.equal(atoi('42abc'), 42);
    assert.equal(atoi(' -17'), -17);
    assert.equal(atoi('4294967297'), 1); // wraps like a 32-bit int
  });
});

describe('$hep() names', () => {
  test('accepted: version, 0x + 3 hex digits, 5 decimal digits, numbers > 0', () => {
    assert.equal(hepKey('version'), 'version');
    assert.equal(hepKey('0x00b'), 11);
    assert.equal(hepKey('0x011'), 17);
    assert.equal(hepKey('00011'), 11);
    assert.equal(hepKey(0x0002), 2);
  });
  test('refused like Kamailio ("unknown hep name")', () => {
    for (const bad of ['0xb', '11', '0x000', '00000', 'Version', '0x0002', 0, -1, 1.5]) {
      assert.throws(() => hepKey(bad), /unknown hep name/, String(bad));
    }
  });
});

describe('$hep() values', () => {
  const v3 = decoded(
    encodeHep({
      srcIp: '192.0.2.1',
      dstIp: '198.51.100.2',
      srcPort: 5060,
      dstPort: 5080,
      tsSec: 1795348800,
      tsUsec: 17,
      captureId: 2001,
      protoType: 32,
      ipProto: 6,
      correlationId: 'cid-9',
      authKey: 'secret',
      payload: '{"mos":4.1}',
      extraChunks: [{ vendor: 0, type: 0x0012, data: Buffer.from([0, 42]) }],
    }),
  );
  test('HEP3: integers, addresses, strings, -1 for other types, undefined when absent', () => {
    assert.equal(hepValue(v3, 'version'), 3);
    assert.equal(hepValue(v3, 0x0001), 2);
    assert.equal(hepValue(v3, '0x002'), 6);
    assert.equal(hepValue(v3, 0x0003), '192.0.2.1');
    assert.equal(hepValue(v3, 0x0004), '198.51.100.2');
    assert.equal(hepValue(v3, 0x0005), undefined);
    assert.equal(hepValue(v3, 0x0007), 5060);
    assert.equal(hepValue(v3, '00008'), 5080);
    assert.equal(hepValue(v3, 0x0009), 1795348800);
    assert.equal(hepValue(v3, 0x000a), 17);
    assert.equal(hepValue(v3, 0x000b), 32);
    assert.equal(hepValue(v3, 0x000c), 2001);
    assert.equal(hepValue(v3, 0x000e), 'secret');
    assert.equal(hepValue(v3, 0x000f), '{"mos":4.1}');
    assert.equal(hepValue(v3, 0x0011), 'cid-9');
    assert.equal(hepValue(v3, 0x0012), -1); // VLAN: present, no Kamailio value (4294967295 there)
    assert.equal(hepValue(v3, 0x0013), undefined);
  });

  test('IPv6 chunks', () => {
    const p = decoded(encodeHep({ srcIp: '2001:db8::1', dstIp: '2001:db8::2', srcPort: 1, dstPort: 2, payload: 'x' }));
    assert.equal(hepValue(p, 0x0005), '2001:db8::1');
    assert.equal(hepValue(p, 0x0006), '2001:db8::2');
    assert.equal(hepValue(p, 0x0003), undefined);
    assert.equal(hepValue(p, 0x0001), 10);
  });

  test('HEP v1/v2 answer from their header fields', () => {
    const v2 = decoded(encodeHep({ version: 2, srcIp: '192.0.2.1', dstIp: '192.0.2.2', srcPort: 5060, dstPort: 5061, tsSec: 1795348800, tsUsec: 3, captureId: 9, payload: 'OPTIONS sip:a SIP/2.0\r\n\r\n' }));
    assert.equal(hepValue(v2, 'version'), 2);
    assert.equal(hepValue(v2, 0x0003), '192.0.2.1');
    assert.equal(hepValue(v2, 0x0008), 5061);
    assert.equal(hepValue(v2, 0x000c), 9);
    assert.equal(hepValue(v2, 0x000b), 1);
    assert.equal(hepValue(v2, 0x0011), undefined);
    const v1 = decoded(encodeHep({ version: 1, srcIp: '192.0.2.1', dstIp: '192.0.2.2', srcPort: 5060, dstPort: 5061, payload: 'OPTIONS sip:a SIP/2.0\r\n\r\n' }));
    assert.equal(hepValue(v1, 'version'), 1);
    assert.equal(hepValue(v1, 0x0009), undefined);
    assert.equal(hepValue(v1, 0x000f), 'OPTIONS sip:a SIP/2.0\r\n\r\n');
  });
});
