import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHep } from '../../src/hep/decode.js';
import { hepToCapturedMessage } from '../../src/hep/to-captured.js';
import { readGoldenCorpus } from './_helpers.js';

// Every packet of the Kamailio 5.6.3 corpus: the decoder must return what the generator put in
// (meta), and the CapturedMessage must agree with the columns Kamailio wrote (kamailio_row).
describe('golden corpus (Kamailio 5.6.3)', () => {
  const corpus = readGoldenCorpus();

  test('has all 346 packets of every set', () => {
    assert.equal(corpus.length, 346);
    assert.deepEqual([...new Set(corpus.map((e) => e.set))].sort(), ['d1', 'd2', 'd3', 's3']);
  });

  test('every hep_hex decodes to its meta', () => {
    for (const [i, e] of corpus.entries()) {
      const where = `line ${i + 1} (${e.set} ${e.meta.label ?? ''})`;
      const buf = Buffer.from(e.hep_hex, 'hex');
      const r = decodeHep(buf);
      if (!r.ok) assert.fail(`${where}: ${r.error.code} ${r.error.message}`);
      const p = r.packet;
      const m = e.meta;
      assert.equal(buf.length, m.hep_len, where);
      assert.equal(p.version, m.hep, where);
      assert.equal(p.family, m.family, where);
      assert.equal(p.ipProto, m.ip_proto, where);
      assert.equal(p.srcIp, m.src_ip, where);
      assert.equal(p.dstIp, m.dst_ip, where);
      assert.equal(p.srcPort, m.src_port, where);
      assert.equal(p.dstPort, m.dst_port, where);
      assert.equal(p.tsSec, m.ts_sec ?? 0, where);
      assert.equal(p.tsUsec, m.ts_usec ?? 0, where);
      assert.equal(p.captureId, m.capture_id ?? 0, where);
      assert.equal(p.correlationId, m.correlation_id, where);
      assert.equal(p.protoType, m.proto_type, where);
      assert.equal(p.payload.length, m.sip_len, where);
      assert.equal(p.compressed, false, where);
    }
  });

  test('CapturedMessage agrees with the row Kamailio stored', () => {
    const receivedAtUs = 1_900_000_000_000_000;
    let oipDiffs = 0;
    for (const [i, e] of corpus.entries()) {
      const where = `line ${i + 1} (${e.set})`;
      const r = decodeHep(Buffer.from(e.hep_hex, 'hex'));
      assert.ok(r.ok, where);
      const c = hepToCapturedMessage(r.packet, 'udp:127.0.0.1:9060', receivedAtUs);
      const row = e.kamailio_row;
      assert.equal(c.srcIp, row.source_ip, where);
      assert.equal(c.srcPort, row.source_port, where);
      assert.equal(c.dstIp, row.destination_ip, where);
      assert.equal(c.dstPort, row.destination_port, where);
      assert.equal(c.proto, row.proto, where);
      assert.equal(c.family, row.family, where);
      assert.equal(c.source, 'hep');
      assert.equal(c.receivedAtUs, receivedAtUs);
      if (c.hepTime === null) {
        // No HEP timestamp: Kamailio used its receive time and a node without ':captid'.
        assert.equal(row.node, 'homer01', where);
      } else {
        assert.equal(row.node, `homer01:${c.hepTime.captureId}`, where);
        assert.equal(row.micro_ts, c.hepTime.sec * 1_000_000 + c.hepTime.usec, where);
      }
      if (c.correlationId !== null) assert.equal(row.correlation_id, c.correlationId, where);
      // msg: identical, except where Kamailio's X-OIP bug wrote one NUL over the ':' (not copied).
      const stored = Buffer.from(row.msg_hex, 'hex');
      assert.equal(stored.length, c.payload.length, where);
      if (!stored.equals(c.payload)) {
        const diff = [...stored.keys()].filter((k) => stored[k] !== c.payload[k]);
        assert.equal(diff.length, 1, where);
        assert.equal(stored[diff[0]!], 0, where);
        assert.equal(c.payload[diff[0]!], 0x3a, where);
        oipDiffs++;
      }
    }
    assert.ok(oipDiffs > 0 && oipDiffs < corpus.length, `X-OIP differences: ${oipDiffs}`);
  });
});
