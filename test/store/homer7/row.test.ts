/**
 * HOMER 7 rows against heplify-server's documented formats (docs/homer7.md): protocol_header
 * keys and JSON types (captureId a string), data_header keys, sid, create_date, parent by CSeq
 * method, raw as text. The expected JSON is built here from the corpus's metadata (what the
 * generator put in each HEP packet) by heplify-server's rules, independently of row.ts, for every
 * golden packet with a HEP timestamp; three packets also have their whole data_header typed out.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSipRow, type SipRowOptions } from '../../../src/capture/sip-row.js';
import { buildReportRow } from '../../../src/capture/report-row.js';
import { decodeHep } from '../../../src/hep/decode.js';
import { encodeHep } from '../../../src/hep/encode.js';
import { hepToCapturedMessage } from '../../../src/hep/to-captured.js';
import { parseSip } from '../../../src/sip/parser.js';
import { homer7Row, jsonString } from '../../../src/store/homer7/row.js';
import { utf8TextBytes } from '../../../src/store/homer7/raw-text.js';
import { DEFAULT_DATA_HEADER } from '../../../src/config/homer7-fields.js';
import type { SipCaptureRow } from '../../../src/capture/rows.js';
import { KAMAILIO_CORPUS_OPTIONS, goldenCorpus } from '../../helpers/kamailio-corpus.js';

interface Meta {
  seq: number;
  ts_sec: number | null;
  ts_usec: number | null;
  capture_id: number | null;
  family: number;
  ip_proto: number;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  correlation_id: string | null;
  call_id: string;
  method: string;
  cseq_method: string;
}
interface CorpusLine {
  set: string;
  hep_hex: string;
  meta: Meta;
}

const lines = goldenCorpus<CorpusLine>();
// The corpus's Kamailio settings, without custom fields (heplify-server has none by default).
const OPTS: SipRowOptions = { ...KAMAILIO_CORPUS_OPTIONS, customFieldHeaders: ['', '', ''] };

function sipRowOf(hex: string): SipCaptureRow {
  const hep = decodeHep(Buffer.from(hex, 'hex'));
  assert.ok(hep.ok);
  const msg = hepToCapturedMessage(hep.packet, 'udp:test', 1_800_000_000_000_000);
  const parsed = parseSip(msg.payload);
  assert.ok(parsed.ok);
  const built = buildSipRow(msg, parsed.message, OPTS);
  assert.ok(built.ok);
  return built.row;
}

/** heplify-server's `AlegIDs` value: the X-CID header, matched by its exact name. */
function xcid(payload: string): string {
  return /^X-CID:[ \t]*(.*?)\r?$/m.exec(payload)?.[1] ?? '';
}

/** heplify-server's profile by CSeq method (decoder/sip.go). */
function heplifyParent(cseqMethod: string): string {
  if (['INVITE', 'ACK', 'BYE', 'CANCEL', 'UPDATE', 'PRACK', 'REFER', 'INFO', 'NOTIFY'].includes(cseqMethod)) return 'hep_proto_1_call';
  return cseqMethod === 'REGISTER' ? 'hep_proto_1_registration' : 'hep_proto_1_default';
}

/** What heplify-server writes as protocol_header for this packet (database/header.go). */
function heplifyProtocolHeader(m: Meta, payload: string): Record<string, unknown> {
  const usec = m.ts_usec ?? 0;
  return {
    protocolFamily: m.family,
    protocol: m.ip_proto,
    srcIp: m.src_ip,
    dstIp: m.dst_ip,
    srcPort: m.src_port,
    dstPort: m.dst_port,
    timeSeconds: m.ts_sec! + Math.floor(usec / 1e6),
    timeUseconds: usec % 1e6,
    payloadType: 1,
    captureId: String(m.capture_id ?? 0),
    correlation_id: m.correlation_id ?? (xcid(payload) || m.call_id),
  };
}

describe('HOMER 7 rows of the golden corpus', () => {
  const timed = lines.filter((l) => l.meta.ts_sec !== null);
  test('every packet with a HEP time: parent, sid, create_date and protocol_header as heplify-server writes them', () => {
    assert.ok(timed.length > 300);
    for (const l of timed) {
      const row = sipRowOf(l.hep_hex);
      const h = homer7Row('sip', row, { dataHeader: DEFAULT_DATA_HEADER });
      const where = `${l.set} #${l.meta.seq}`;
      assert.equal(h.parent, heplifyParent(l.meta.cseq_method), where);
      assert.equal(h.sid, l.meta.call_id, where);
      assert.equal(h.createUs, l.meta.ts_sec! * 1e6 + (l.meta.ts_usec ?? 0), where);
      assert.deepEqual(JSON.parse(h.protocolHeader), heplifyProtocolHeader(l.meta, row.msg.toString('utf8')), where);
      const data = JSON.parse(h.dataHeader) as Record<string, unknown>;
      assert.deepEqual(Object.keys(data), [...DEFAULT_DATA_HEADER], where);
      for (const v of Object.values(data)) assert.equal(typeof v, 'string', where);
      assert.equal(data['callid'], l.meta.call_id, where);
      assert.equal(data['method'], l.meta.method, where);
      assert.match(String(data['cseq']), new RegExp(`^\\d+ ${l.meta.cseq_method}$`), where);
      assert.equal(h.raw.toString('utf8'), row.msg.toString('utf8'), where);
    }
  });

  test('whole data_header of an INVITE, a reply and a REGISTER', () => {
    const bySeq = (set: string, seq: number): SipCaptureRow => sipRowOf(lines.find((l) => l.set === set && l.meta.seq === seq)!.hep_hex);
    const cases: [SipCaptureRow, Record<string, string>][] = [
      [
        bySeq('s3', 0),
        {
          ruri_user: 'mallory',
          ruri_domain: 'example.com',
          from_user: 'heidi',
          from_tag: '9be50b0c',
          to_user: 'mallory',
          to_tag: '',
          callid: 'public-A-s3-1-29120450e3@192.0.2.102',
          cseq: '3469 INVITE',
          method: 'INVITE',
          user_agent: 'Linphone/5.2.0 (belle-sip/5.2.0)',
        },
      ],
      [
        bySeq('d3', 15),
        {
          ruri_user: '',
          ruri_domain: '',
          from_user: '+39264402422',
          from_tag: bySeq('d3', 15).from_tag,
          to_user: bySeq('d3', 15).to_user,
          to_tag: 'af89b26c8e29',
          callid: 'public-A-d3-1-d658db0963@192.0.2.36',
          cseq: '2596 INVITE',
          method: '180',
          user_agent: '',
        },
      ],
      [
        bySeq('s3', 7),
        {
          ruri_user: '',
          ruri_domain: 'example.com',
          from_user: 'judy',
          from_tag: '08edd37ede',
          to_user: 'judy',
          to_tag: '',
          callid: 'public-A-s3-2-9aa9f098c9@192.0.2.126',
          cseq: '6259 REGISTER',
          method: 'REGISTER',
          user_agent: 'PolycomVVX-VVX_411-UA/6.4.3.5018',
        },
      ],
    ];
    for (const [row, want] of cases) assert.deepEqual(JSON.parse(homer7Row('sip', row, { dataHeader: DEFAULT_DATA_HEADER }).dataHeader), want);
    // the reply's correlation id is the HEP chunk
    assert.equal(JSON.parse(homer7Row('sip', bySeq('d3', 15), { dataHeader: DEFAULT_DATA_HEADER }).protocolHeader).correlation_id, 'corr-public-A-d3-1-d658db0963@192.0.2.36');
  });

  test('configured data_header names, including the ones read from the message itself', () => {
    const row = sipRowOf(lines.find((l) => l.set === 's3' && l.meta.seq === 0)!.hep_hex);
    const payload = Buffer.concat([row.msg.subarray(0, row.msg.indexOf('\r\n') + 2), Buffer.from('Server: edge-7\r\nExpires: 3600\r\n'), row.msg.subarray(row.msg.indexOf('\r\n') + 2)]);
    const data = JSON.parse(homer7Row('sip', { ...row, msg: payload }, { dataHeader: ['from_domain', 'contact_domain', 'callid_aleg', 'server', 'expires', 'pid_user'] }).dataHeader);
    assert.deepEqual(data, {
      from_domain: 'sip.example.com',
      contact_domain: '192.0.2.102',
      callid_aleg: 'public-A-s3-aleg-1-68dc1852@192.0.2.102',
      server: 'edge-7',
      expires: '3600',
      pid_user: 'heidi',
    });
  });
});

describe('HOMER 7 rows of RTCP, logs and reports', () => {
  test('sid is the correlation id; data_header {node, proto}; payloadType is the HEP type', () => {
    for (const [protoType, parent, proto] of [
      [5, 'hep_proto_5_default', 'rtcp'],
      [100, 'hep_proto_100_default', 'log'],
      [35, 'hep_proto_35_default', 'rtcpxr'],
      [34, 'hep_proto_35_default', 'rtpagent'],
      [32, 'hep_proto_35_default', '32'],
    ] as const) {
      const hep = decodeHep(
        encodeHep({ srcIp: '2001:db8::1', dstIp: '2001:db8::2', srcPort: 5004, dstPort: 5006, tsSec: 1795348801, tsUsec: 999_999, captureId: 77, protoType, ipProto: 6, correlationId: 'cid-1', payload: '{"x":1}' }),
      );
      assert.ok(hep.ok);
      const msg = hepToCapturedMessage(hep.packet, 'udp:test', 0);
      const target = protoType === 5 ? { kind: 'rtcp', type: 3 } : protoType === 100 ? { kind: 'logs', type: 5 } : { kind: 'report', type: protoType === 32 ? 2 : protoType };
      const built = buildReportRow(msg, target.type, OPTS);
      assert.ok(built.ok);
      const h = homer7Row(target.kind as 'rtcp', built.row, { dataHeader: DEFAULT_DATA_HEADER });
      assert.equal(h.parent, parent);
      assert.equal(h.sid, 'cid-1');
      assert.deepEqual(JSON.parse(h.protocolHeader), {
        protocolFamily: 10,
        protocol: 6,
        srcIp: '2001:db8::1',
        dstIp: '2001:db8::2',
        srcPort: 5004,
        dstPort: 5006,
        timeSeconds: 1795348801,
        timeUseconds: 999_999,
        payloadType: protoType,
        captureId: '77',
        correlation_id: 'cid-1',
      });
      assert.deepEqual(JSON.parse(h.dataHeader), { node: '77', proto });
    }
  });
});

describe('raw and JSON text', () => {
  test('raw: NUL and every byte that does not start valid UTF-8 are removed, one byte at a time (heplify-server toUTF8)', () => {
    const input = Buffer.concat([Buffer.from('ab\0c'), Buffer.from([0xff, 0xc3, 0xa9, 0xed, 0xa0, 0x80, 0xe2, 0x82]), Buffer.from('d'), Buffer.from([0xf0, 0x9f, 0x98, 0x80, 0xc0, 0xaf])]);
    assert.equal(utf8TextBytes(input).toString('utf8'), 'abcéd\u{1F600}');
    // a real U+FFFD is valid text and stays
    const fffd = Buffer.from('x\uFFFDy');
    assert.equal(utf8TextBytes(fffd), fffd);
  });

  test('JSON strings never hold what jsonb refuses (NUL, lone surrogates)', () => {
    assert.equal(jsonString('plain'), '"plain"');
    assert.equal(jsonString('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(jsonString('a\0b'), '"ab"');
    assert.equal(JSON.parse(jsonString('x\ud800y')), 'x\ufffdy');
    assert.equal(JSON.parse(jsonString('\u{1F600}')), '\u{1F600}');
  });
});
