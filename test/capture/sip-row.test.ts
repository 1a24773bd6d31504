import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSipRow, formatRowDate, hashSourceString, hashSourcesOf, type SipRowOptions } from '../../src/capture/sip-row.js';
import { SIP_CAPTURE_COLUMNS, type SipCaptureRow } from '../../src/capture/rows.js';
import { parseSip, type SipMessage } from '../../src/sip/parser.js';
import { topohCodec } from '../../src/sip/topoh.js';
import { WORKED_OPTS, WORKED_REPLY, WORKED_REQUEST, captured, request, sip } from '../sip/fixtures.js';

function parsed(buf: Buffer): SipMessage {
  const p = parseSip(buf);
  assert.ok(p.ok, p.ok ? '' : p.error.message);
  return p.message;
}

function row(buf: Buffer, opts: SipRowOptions = WORKED_OPTS, over: Parameters<typeof captured>[1] = {}): SipCaptureRow {
  const r = buildSipRow(captured(buf, over), parsed(buf), opts);
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.row;
}

function rejected(buf: Buffer, opts: SipRowOptions = WORKED_OPTS): { reason: string; message: string } {
  const r = buildSipRow(captured(buf), parsed(buf), opts);
  assert.ok(!r.ok, 'expected the row to be rejected');
  return r;
}

describe('worked example, request (observed on 5.6.3)', () => {
  const r = row(WORKED_REQUEST);
  const expected: Omit<SipCaptureRow, 'msg'> = {
    date: '2023-11-14 22:13:20',
    micro_ts: 1700000000123456,
    method: 'INVITE',
    reply_reason: '',
    ruri: 'sip:bob;x=1@example.com:5070;transport=tcp',
    ruri_user: 'bob;x=1',
    ruri_domain: 'example.com',
    from_user: 'alice',
    from_domain: 'atlanta.example.com',
    from_tag: 'ft1',
    to_user: '+4930123;npdi',
    to_domain: 'example.com',
    to_tag: '',
    pid_user: '+4912345',
    contact_user: 'other',
    auth_user: 'puser',
    callid: 'cid-0001@10.0.0.1 ',
    callid_aleg: 'aleg-0',
    via_1: 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-abc123;rport, SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKzz',
    via_1_branch: 'z9hG4bK-abc123',
    cseq: '1 INVITE',
    diversion: '<sip:div@x.com>;reason=unconditional',
    reason: 'Q.850;cause=16',
    content_type: 'application/sdp; charset=x',
    auth: '',
    user_agent: 'Test UA 1.0',
    source_ip: '10.0.0.1',
    source_port: 5060,
    destination_ip: '10.0.0.2',
    destination_port: 5080,
    contact_ip: '1.1.1.1',
    contact_port: 0,
    originator_ip: '',
    originator_port: 0,
    correlation_id: 'cid-0001@10.0.0.1 ',
    custom_field1: 'aa:bb',
    custom_field2: '1.2.3.4',
    custom_field3: '999',
    proto: 1,
    family: 2,
    rtp_stat: 'stat-plain',
    type: 1,
    node: 'homer01:2001',
  };
  for (const [col, value] of Object.entries(expected)) {
    test(`column ${col}`, () => {
      assert.equal(r[col as keyof SipCaptureRow], value);
    });
  }
  test('column msg = the payload bytes', () => {
    assert.ok(r.msg.equals(WORKED_REQUEST));
  });
  test('all 44 columns are filled, none null', () => {
    assert.equal(SIP_CAPTURE_COLUMNS.length, 44);
    for (const col of SIP_CAPTURE_COLUMNS) assert.notEqual(r[col], undefined, col);
    assert.equal(Object.keys(r).length, 44);
  });
});

describe('worked example, reply (observed on 5.6.3)', () => {
  const r = row(WORKED_REPLY);
  test('method is the status code, reply_reason the phrase, no R-URI', () => {
    assert.equal(r.method, '486');
    assert.equal(r.reply_reason, 'Busy Here Now');
    assert.equal(r.ruri, '');
    assert.equal(r.ruri_user, '');
    assert.equal(r.ruri_domain, '');
    assert.equal(r.type, 2);
  });
  test('compact headers feed the columns', () => {
    assert.equal(r.to_tag, '9');
    assert.equal(r.from_tag, 'ft1');
    assert.equal(r.callid, 'cid-0002@10.0.0.1');
    assert.equal(r.content_type, 'application/sdp');
    assert.equal(r.via_1_branch, 'z9hG4bK-abc123');
  });
  test('star contact', () => {
    assert.equal(r.contact_user, '*');
    assert.equal(r.contact_ip, '');
    assert.equal(r.contact_port, 0);
  });
  test('lower-case `reason:` does not match Reason', () => {
    assert.equal(r.reason, '');
  });
  test('RPID is used when there is no PAI/PPI', () => {
    assert.equal(r.pid_user, 'rpid');
  });
});

describe('time, node and correlation id', () => {
  test('HEP time: micro_ts = sec*1e6+usec, node = capture_node:captid', () => {
    const r = row(request());
    assert.equal(r.micro_ts, 1700000000123456);
    assert.equal(r.node, 'homer01:2001');
    assert.equal(r.date, '2023-11-14 22:13:20');
  });
  test('usec ≥ 1e6 spills into the next second, and date follows micro_ts', () => {
    const r = row(request(), WORKED_OPTS, { hepTime: { sec: 1700000000, usec: 1_500_000, captureId: 7 } });
    assert.equal(r.micro_ts, 1700000001500000);
    assert.equal(r.date, '2023-11-14 22:13:21');
    assert.equal(r.node, 'homer01:7');
  });
  test('no HEP time: receive time and capture_node alone', () => {
    const r = row(request(), WORKED_OPTS, { hepTime: null, receivedAtUs: 1_750_000_000_000_001 });
    assert.equal(r.micro_ts, 1_750_000_000_000_001);
    assert.equal(r.node, 'homer01');
    assert.equal(r.date, '2025-06-15 15:06:40');
  });
  test('node is at most 99 bytes (Kamailio snprintf into 100)', () => {
    const r = row(request(), { ...WORKED_OPTS, captureNode: 'n'.repeat(120) });
    assert.equal(r.node, 'n'.repeat(99));
  });
  test('correlation_id: HEP chunk 0x11 when present, else the Call-ID', () => {
    assert.equal(row(request(), WORKED_OPTS, { correlationId: 'corr-1' }).correlation_id, 'corr-1');
    assert.equal(row(request()).correlation_id, 'cid-1@10.0.0.1');
  });
  test('date in the local zone when configured', () => {
    const us = 1700000000123456;
    const d = new Date(1700000000 * 1000);
    const pad = (n: number): string => String(n).padStart(2, '0');
    const local = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    assert.equal(formatRowDate(us, 'local'), local);
    assert.equal(formatRowDate(us, 'UTC'), '2023-11-14 22:13:20');
    assert.equal(formatRowDate(0, 'UTC'), '1970-01-01 00:00:00');
  });
});

describe('proto, family, addresses come from the CapturedMessage', () => {
  test('TCP over IPv6', () => {
    const r = row(request(), WORKED_OPTS, { proto: 2, family: 10, srcIp: '2001:db8::1', srcPort: 5070, dstIp: '2001:db8::2', dstPort: 5080 });
    assert.equal(r.proto, 2);
    assert.equal(r.family, 10);
    assert.equal(r.source_ip, '2001:db8::1');
    assert.equal(r.source_port, 5070);
    assert.equal(r.destination_ip, '2001:db8::2');
    assert.equal(r.destination_port, 5080);
  });
});

describe('msg column', () => {
  test('is a copy: reusing the receive buffer does not change the row', () => {
    const rx = Buffer.from(request());
    const r = row(rx);
    rx.fill(0);
    assert.ok(r.msg.equals(request()));
  });
  test('X-OIP never modifies the stored message (Kamailio writes a NUL over the colon)', () => {
    const buf = request(['X-OIP: 192.168.1.5:5099']);
    const r = row(buf);
    assert.equal(r.originator_ip, '192.168.1.5');
    assert.equal(r.originator_port, 5099);
    assert.ok(r.msg.equals(request(['X-OIP: 192.168.1.5:5099'])));
  });
});

describe('bytes and sizes', () => {
  test('non-UTF-8 bytes: parsed as bytes; text columns decode as UTF-8 (invalid bytes become U+FFFD)', () => {
    const payload = Buffer.concat([
      Buffer.from(
        'MESSAGE sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: bin\r\nCSeq: 1 MESSAGE\r\nUser-Agent: caf\u00e9 ',
        'utf8',
      ),
      Buffer.from([0xff, 0x41]),
      Buffer.from('\r\n\r\n'),
    ]);
    const r = row(payload);
    assert.equal(r.user_agent, 'caf\u00e9 \ufffdA');
    assert.ok(r.msg.equals(payload), 'msg keeps the raw bytes');
  });
  test('a 64 KB message builds a row', () => {
    const filler = Array.from({ length: 700 }, (_, i) => `X-Filler-${i}: ${'v'.repeat(80)}`);
    const buf = request([...filler, 'User-Agent: big', 'X-CID0: aleg-big']);
    assert.ok(buf.length > 64 * 1024);
    const r = row(buf);
    assert.equal(r.user_agent, 'big');
    assert.equal(r.callid_aleg, 'aleg-big');
    assert.equal(r.msg.length, buf.length);
  });
});

describe('rejections and capture_bad_msgs', () => {
  const BAD = { ...WORKED_OPTS, captureBadMsgs: true };
  test('a bad R-URI: dropped, or kept with empty user/domain with capture_bad_msgs', () => {
    const buf = request([], 'INVITE sip:bob@exa_mple.com SIP/2.0');
    assert.equal(rejected(buf).reason, 'bad_ruri');
    const r = row(buf, BAD);
    assert.deepEqual([r.ruri, r.ruri_user, r.ruri_domain, r.from_user], ['sip:bob@exa_mple.com', '', '', 'alice']);
  });
  test('a bad From URI: dropped, or empty user/domain with capture_bad_msgs (tag kept)', () => {
    const buf = sip([
      'OPTIONS sip:bob@example.com SIP/2.0',
      'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1',
      'From: <sip:alice@>;tag=f9',
      'To: <sip:bob@example.com>',
      'Call-ID: x1',
      'CSeq: 1 OPTIONS',
    ]);
    assert.equal(rejected(buf).reason, 'bad_from');
    const r = row(buf, BAD);
    assert.equal(r.from_user, '');
    assert.equal(r.from_domain, '');
    assert.equal(r.from_tag, 'f9');
  });
  test('a From body that does not parse: dropped, or all From columns empty', () => {
    const buf = sip([
      'OPTIONS sip:bob@example.com SIP/2.0',
      'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1',
      'From: <sip:alice@a.com;tag=f9',
      'To: <sip:bob@example.com>',
      'Call-ID: x1',
      'CSeq: 1 OPTIONS',
    ]);
    assert.equal(rejected(buf).reason, 'bad_from');
    const r = row(buf, BAD);
    assert.deepEqual([r.from_user, r.from_domain, r.from_tag], ['', '', '']);
  });
  test('a bad To URI: dropped, or empty with capture_bad_msgs', () => {
    const buf = sip([
      'OPTIONS sip:bob@example.com SIP/2.0',
      'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1',
      'From: <sip:alice@a.com>;tag=f9',
      'To: <http://bob@example.com>;tag=t1',
      'Call-ID: x1',
      'CSeq: 1 OPTIONS',
    ]);
    assert.equal(rejected(buf).reason, 'bad_to');
    const r = row(buf, BAD);
    assert.deepEqual([r.to_user, r.to_domain, r.to_tag], ['', '', 't1']);
  });
  test('a bad Contact: dropped, or empty contact columns', () => {
    for (const contact of ['Contact: <sip:a@1.1.1.1>, ', 'Contact: <sip:a@>', 'Contact: <sip:a@h;p="x>']) {
      const buf = request([contact]);
      assert.equal(rejected(buf).reason, 'bad_contact', contact);
      const r = row(buf, BAD);
      assert.deepEqual([r.contact_user, r.contact_ip, r.contact_port], ['', '', 0], contact);
    }
  });
  test('a bad header after the required ones: dropped, or the headers before it are used', () => {
    const buf = request(['User-Agent: ua-1', 'Bad Header: x', 'Reason: after']);
    const rj = rejected(buf);
    assert.equal(rj.reason, 'bad_headers');
    assert.match(rj.message, /cannot parse headers/);
    const r = row(buf, BAD);
    assert.equal(r.user_agent, 'ua-1');
    assert.equal(r.reason, '');
  });
  test('PAI/PPI/RPID or Authorization failures never drop the row', () => {
    const r = row(request(['P-Asserted-Identity: <sip:a@b', 'Authorization: Basic Zm9v']));
    assert.equal(r.pid_user, '');
    assert.equal(r.auth_user, '');
  });
});

describe('topoh unmask', () => {
  const codec = topohCodec('aL9.n8~Hm]Z', '!!:');
  const masked = codec.mask('orig-callid-xyz@1.2.3.4');
  const TOPOH = { ...WORKED_OPTS, topoh: { key: 'aL9.n8~Hm]Z', prefix: '!!:' } };
  const buf = sip([
    'BYE sip:bob@example.com SIP/2.0',
    'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1',
    'From: <sip:alice@a.com>;tag=f9',
    'To: <sip:bob@example.com>;tag=t9',
    `Call-ID: ${masked}`,
    'CSeq: 2 BYE',
  ]);
  test('the unmasked Call-ID is stored, and correlation_id defaults to it', () => {
    assert.equal(masked, '!!:oweYgLuB3RfdCRP1kUI-PxF7MJZlOBP*');
    const r = row(buf, TOPOH);
    assert.equal(r.callid, 'orig-callid-xyz@1.2.3.4');
    assert.equal(r.correlation_id, 'orig-callid-xyz@1.2.3.4');
  });
  test('without topoh_unmask the masked value is stored', () => {
    assert.equal(row(buf).callid, masked);
  });
  test('an undecodable value stays as it is', () => {
    const invalid = sip([
      'BYE sip:bob@example.com SIP/2.0',
      'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1',
      'From: <sip:alice@a.com>;tag=f9',
      'To: <sip:bob@example.com>;tag=t9',
      'Call-ID: !!:notvalid$$',
      'CSeq: 2 BYE',
    ]);
    const r = row(invalid, TOPOH);
    assert.equal(r.callid, '!!:notvalid$$');
  });
});

describe('hash sources', () => {
  test('call_id: leading whitespace skipped, cut at the first whitespace', () => {
    const r = row(WORKED_REQUEST);
    assert.equal(r.callid, 'cid-0001@10.0.0.1 ');
    assert.equal(hashSourceString(r, 'call_id'), 'cid-0001@10.0.0.1');
    assert.equal(hashSourceString({ callid: ' \tab cd', from_user: '', to_user: '' }, 'call_id'), 'ab');
    assert.equal(hashSourceString({ callid: 'a\u000bb', from_user: '', to_user: '' }, 'call_id'), 'a');
  });
  test('from_user / to_user as stored', () => {
    const r = row(WORKED_REQUEST);
    const src = hashSourcesOf(r);
    assert.equal(src('from_user'), 'alice');
    assert.equal(src('to_user'), '+4930123;npdi');
    assert.equal(src('call_id'), 'cid-0001@10.0.0.1');
  });
  test('an empty source stays empty (Kamailio: "hashing failed")', () => {
    assert.equal(hashSourceString({ callid: '   ', from_user: '', to_user: '' }, 'call_id'), '');
  });
});
