import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { KamailioProto } from '../../src/capture/message.js';
import { decodeHep } from '../../src/hep/decode.js';
import { encodeHep } from '../../src/hep/encode.js';
import type { HepEncodeOptions } from '../../src/hep/encode.js';
import { hepToCapturedMessage } from '../../src/hep/to-captured.js';
import type { HepPacket } from '../../src/hep/types.js';

const base = { srcIp: '2001:db8::1', dstIp: '2001:db8::2', srcPort: 5060, dstPort: 5070, payload: 'SIP' } satisfies HepEncodeOptions;

function packet(opts: HepEncodeOptions): HepPacket {
  const r = decodeHep(encodeHep(opts));
  assert.ok(r.ok);
  return r.packet;
}

describe('hepToCapturedMessage', () => {
  test('copies addresses, payload view, correlation id and listener', () => {
    const p = packet({ ...base, tsSec: 1795348800, tsUsec: 42, captureId: 7, correlationId: 'c-1', protoType: 100 });
    const c = hepToCapturedMessage(p, 'tcp:0.0.0.0:9061', 123);
    assert.deepEqual(
      { ...c, payload: c.payload.toString() },
      {
        payload: 'SIP',
        family: 10,
        proto: KamailioProto.UDP,
        srcIp: '2001:db8::1',
        srcPort: 5060,
        dstIp: '2001:db8::2',
        dstPort: 5070,
        hepTime: { sec: 1795348800, usec: 42, captureId: 7 },
        correlationId: 'c-1',
        protoType: 100,
        receivedAtUs: 123,
        source: 'hep',
        listener: 'tcp:0.0.0.0:9061',
      },
    );
    assert.equal(c.payload, p.payload);
  });

  test('tsSec 0 → hepTime null, even with a capture id', () => {
    assert.equal(hepToCapturedMessage(packet({ ...base, captureId: 9 }), 'l', 1).hepTime, null);
    assert.equal(hepToCapturedMessage(packet({ ...base, tsSec: 0, tsUsec: 5, captureId: 9 }), 'l', 1).hepTime, null);
    assert.equal(hepToCapturedMessage(packet({ ...base, srcIp: '192.0.2.1', dstIp: '192.0.2.2', version: 1 }), 'l', 1).hepTime, null);
  });

  test('timestamp without capture id → captureId 0 (node gets ":0")', () => {
    assert.deepEqual(hepToCapturedMessage(packet({ ...base, tsSec: 5 }), 'l', 1).hepTime, { sec: 5, usec: 0, captureId: 0 });
  });

  test('ip-proto mapping is the same for every version (docs/kamailio-differences.md H8)', () => {
    const cases: Array<[number, number]> = [
      [17, KamailioProto.UDP],
      [6, KamailioProto.TCP],
      [22, KamailioProto.TLS],
      [132, KamailioProto.SCTP],
      [1, KamailioProto.NONE],
      [255, KamailioProto.NONE],
    ];
    for (const version of [2, 3] as const) {
      for (const [ipProto, proto] of cases) {
        const p = packet({ ...base, version, ipProto });
        assert.equal(hepToCapturedMessage(p, 'l', 1).proto, proto, `v${version} ip-proto ${ipProto}`);
      }
    }
  });
});
