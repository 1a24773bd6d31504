/** The bytes a forward destination gets: auth key rewriting, v1/v2 as HEP3, raw capture as HEP3. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KamailioProto, type CapturedMessage } from '../../src/capture/message.js';
import { decodeHep } from '../../src/hep/decode.js';
import { encodeHep } from '../../src/hep/encode.js';
import { hep3Of, hep3OfCaptured, withAuthKey } from '../../src/hep/relay.js';
import { captureIdOf } from '../../src/forward/forward-set.js';

const base = { srcIp: '192.0.2.1', dstIp: '2001:db8::2', srcPort: 5060, dstPort: 5080, tsSec: 1_700_000_000, tsUsec: 42, captureId: 9, payload: 'OPTIONS sip:a SIP/2.0\r\n\r\n' };

test('withAuthKey replaces, adds or removes chunk 0x000e and keeps every other chunk in order', () => {
  const v = { vendor: 0x0032, type: 7, data: 'vendor' };
  const p = encodeHep({ ...base, dstIp: '198.51.100.2', authKey: 'old', extraChunks: [v] });
  const replaced = decodeHep(withAuthKey(p, 'new'));
  const removed = decodeHep(withAuthKey(p, null));
  assert.ok(replaced.ok && removed.ok);
  assert.equal(replaced.packet.authKey, 'new');
  assert.equal(removed.packet.authKey, null);
  const others = (chunks: { vendor: number; type: number; data: Buffer }[]): string[] => chunks.filter((c) => !(c.vendor === 0 && c.type === 0x0e)).map((c) => `${c.vendor}/${c.type}/${c.data.toString('hex')}`);
  const orig = decodeHep(p);
  assert.ok(orig.ok);
  assert.deepEqual(others(replaced.packet.chunks), others(orig.packet.chunks));
  assert.deepEqual(others(removed.packet.chunks), others(orig.packet.chunks));
  assert.equal(withAuthKey(p, null).length, p.length - 6 - 3);
});

test('hep3Of keeps every field of HEP v1 and v2', () => {
  for (const version of [1, 2] as const) {
    const orig = decodeHep(encodeHep({ ...base, dstIp: '198.51.100.2', version, ipProto: 6 }));
    assert.ok(orig.ok);
    const conv = decodeHep(hep3Of(orig.packet, 'k'));
    assert.ok(conv.ok);
    assert.equal(conv.packet.version, 3);
    for (const k of ['family', 'srcIp', 'dstIp', 'srcPort', 'dstPort', 'ipProto', 'tsSec', 'tsUsec', 'captureId', 'protoType'] as const) assert.equal(conv.packet[k], orig.packet[k], `v${version} ${k}`);
    assert.ok(conv.packet.payload.equals(orig.packet.payload));
    assert.equal(conv.packet.authKey, 'k');
  }
});

test('raw capture becomes HEP3 with its addresses, time, capture id and node name', () => {
  const msg: CapturedMessage = {
    payload: Buffer.from(base.payload),
    family: 10,
    proto: KamailioProto.TCP,
    srcIp: '2001:db8::1',
    srcPort: 5060,
    dstIp: '2001:db8::2',
    dstPort: 5061,
    hepTime: null,
    correlationId: null,
    protoType: 1,
    receivedAtUs: 1_700_000_000_123_456,
    source: 'ipip',
    listener: 'ipip',
  };
  const d = decodeHep(hep3OfCaptured(msg, captureIdOf('homer01'), 'homer01', null));
  assert.ok(d.ok);
  assert.deepEqual(
    [d.packet.family, d.packet.srcIp, d.packet.dstIp, d.packet.srcPort, d.packet.dstPort, d.packet.ipProto, d.packet.tsSec, d.packet.tsUsec, d.packet.captureId],
    [10, '2001:db8::1', '2001:db8::2', 5060, 5061, 6, 1_700_000_000, 123_456, 1],
  );
  assert.ok(d.packet.chunks.some((c) => c.type === 0x13 && c.data.toString() === 'homer01'));
  assert.equal(captureIdOf('node'), 0);
});
