import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HdrType, parseSip, type SipMessage, type SipParseResult } from '../../src/sip/parser.js';
import { routeFactsOf } from '../../src/route/facts.js';
import { WORKED_REPLY, WORKED_REQUEST, request, sip } from './fixtures.js';

function ok(buf: Buffer): SipMessage {
  const p = parseSip(buf);
  assert.ok(p.ok, p.ok ? '' : `${p.error.code}: ${p.error.message}`);
  return p.message;
}

function err(buf: Buffer | string): string {
  const p: SipParseResult = parseSip(typeof buf === 'string' ? Buffer.from(buf, 'latin1') : buf);
  assert.ok(!p.ok, 'expected a parse error');
  assert.equal(typeof p.error.message, 'string');
  return p.error.code;
}

describe('first line', () => {
  test('request: method as written, R-URI', () => {
    const m = ok(WORKED_REQUEST);
    assert.equal(m.type, 1);
    assert.equal(m.isRequest, true);
    assert.equal(m.method(), 'INVITE');
    assert.equal(m.ruri(), 'sip:bob;x=1@example.com:5070;transport=tcp');
    assert.equal(m.reason(), '');
  });
  test('reply: status code and reason phrase (spaces inside and at the end kept)', () => {
    const m = ok(WORKED_REPLY);
    assert.equal(m.type, 2);
    assert.equal(m.method(), '486');
    assert.equal(m.statusCode(), 486);
    assert.equal(m.reason(), 'Busy Here Now');
    assert.equal(m.ruri(), '');
    assert.equal(ok(request([], 'SIP/2.0 200 OK  ')).reason(), 'OK  ');
    assert.equal(ok(request([], 'SIP/2.0 200 ')).reason(), '');
  });
  test('unknown and lower-case methods are kept as written', () => {
    assert.equal(ok(request([], 'FOO sip:a@b SIP/2.0')).method(), 'FOO');
    assert.equal(ok(request([], 'invite sip:a@b SIP/2.0')).method(), 'invite');
  });
  test('leading CR/LF/NUL/blanks before the first line are skipped', () => {
    const m = ok(Buffer.concat([Buffer.from('\r\n\u0000 \t'), request()]));
    assert.equal(m.method(), 'INVITE');
  });
  test('bad first lines', () => {
    assert.equal(err('INVITE'), 'too_short');
    assert.equal(err('INVITE sip:a@b\r\n'), 'too_short');
    assert.equal(err(request([], 'INVITE sip:a@b')), 'bad_first_line');
    // Kamailio accepts an empty R-URI here (two spaces); the row is then dropped as bad_ruri
    assert.equal(ok(request([], 'INVITE  SIP/2.0')).ruri(), '');
    assert.equal(err(request([], 'INVITE\tsip:a@b SIP/2.0')), 'bad_first_line');
    assert.equal(err(request([], 'INVITE sip:a@b SIP/2.0 x')), 'bad_first_line');
    assert.equal(err(request([], 'SIP/2.0 20 OK')), 'bad_first_line');
    assert.equal(err(request([], 'SIP/2.0 2x0 OK')), 'bad_first_line');
    assert.equal(err(request([], 'SIP/2.0 200')), 'bad_first_line');
    assert.equal(err('INVITE sip:a@b.c SIP/2.0'), 'bad_first_line');
    assert.equal(err('SIP/2.0 200 OK no line end'), 'bad_first_line');
    // a first line alone parses, then the required headers are missing
    assert.equal(err('INVITE sip:a@b.c SIP/2.0\r\n'), 'missing_required_header');
  });
  test('non-SIP requests are not SIP', () => {
    assert.equal(err(request([], 'GET /index.html HTTP/1.1')), 'not_sip');
  });
});

describe('header index', () => {
  test('well-known headers, case-insensitive, compact forms', () => {
    const m = ok(WORKED_REPLY);
    assert.equal(m.firstBody(HdrType.VIA), 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-abc123;rport=5060');
    assert.equal(m.firstBody(HdrType.FROM), '"Alice" <sip:alice@atlanta.example.com>;tag=ft1');
    assert.equal(m.firstBody(HdrType.TO), '<sip:bob@example.com>;tag=9');
    assert.equal(m.firstBody(HdrType.CALLID), 'cid-0002@10.0.0.1');
    assert.equal(m.firstBody(HdrType.CONTACT), '*');
    assert.equal(m.firstBody(HdrType.CONTENT_TYPE), 'application/sdp');
    assert.equal(m.firstBody(HdrType.CONTENT_LENGTH), '0');
    assert.equal(m.firstBody(HdrType.RPID), '"R" <sip:rpid@x.com>;party=calling');
    const all = ok(request(['k: timer', 'e: gzip', 's: subj', 'o: refer;id=1', 'u: presence', 'a: *;audio', 'b: <sip:r@b>', 'x: 90', 'y: abc', 'r: <sip:t@x>', 'j: *;video', 'd: proxy']));
    assert.equal(all.firstBody(HdrType.SUPPORTED), 'timer');
    assert.equal(all.firstBody(HdrType.CONTENT_ENCODING), 'gzip');
    assert.equal(all.firstBody(HdrType.SUBJECT), 'subj');
    assert.equal(all.firstBody(HdrType.EVENT), 'refer;id=1');
    assert.equal(all.firstBody(HdrType.ALLOW_EVENTS), 'presence');
    assert.equal(all.firstBody(HdrType.ACCEPT_CONTACT), '*;audio');
    assert.equal(all.firstBody(HdrType.REFERRED_BY), '<sip:r@b>');
    assert.equal(all.firstBody(HdrType.SESSION_EXPIRES), '90');
    assert.equal(all.firstBody(HdrType.IDENTITY), 'abc');
    assert.equal(all.firstBody(HdrType.REFER_TO), '<sip:t@x>');
    assert.equal(all.firstBody(HdrType.REJECT_CONTACT), '*;video');
    assert.equal(all.firstBody(HdrType.REQUEST_DISPOSITION), 'proxy');
    const mixed = ok(request(['uSeR-aGeNt: UA', 'CONTENT-TYPE: text/plain', 'p-asserted-identity: <sip:p@q>']));
    assert.equal(mixed.firstBody(HdrType.USER_AGENT), 'UA');
    assert.equal(mixed.firstBody(HdrType.CONTENT_TYPE), 'text/plain');
    assert.equal(mixed.firstBody(HdrType.PAI), '<sip:p@q>');
  });
  test('the first header of a type wins; repeated headers are all indexed', () => {
    const m = ok(request(['User-Agent: first', 'User-Agent: second']));
    assert.equal(m.firstBody(HdrType.USER_AGENT), 'first');
    const i = m.first(HdrType.USER_AGENT);
    assert.equal(m.headerBody(m.nextOfType(i)), 'second');
    assert.equal(m.nextOfType(m.nextOfType(i)), -1);
  });
  test('body: after the colon and LWS; trailing CR/LF/NUL dropped, trailing blanks kept', () => {
    const m = ok(WORKED_REQUEST);
    assert.equal(m.firstBody(HdrType.CALLID), 'cid-0001@10.0.0.1 ');
    const t = ok(request(['X-Tab: value\t', 'X-Nul: v\u0000', 'X-Empty:', 'X-Blank:   ']));
    assert.equal(t.bodyByName('X-Tab'), 'value\t');
    assert.equal(t.bodyByName('X-Nul'), 'v');
    assert.equal(t.bodyByName('X-Empty'), '');
    assert.equal(t.bodyByName('X-Blank'), '');
  });
  test('blanks between the name and the colon', () => {
    const m = ok(request(['Subject \t: hello']));
    assert.equal(m.firstBody(HdrType.SUBJECT), 'hello');
    assert.equal(m.headerName(m.first(HdrType.SUBJECT)), 'Subject');
  });
  test('folded headers keep the folding inside the value', () => {
    const buf = sip([
      'INVITE sip:bob@example.com SIP/2.0',
      'Via: SIP/2.0/UDP 10.0.0.1:5060',
      ' ;branch=z9hG4bK-fold',
      'From: <sip:alice@example.com>;tag=f1',
      'To:',
      '\t<sip:bob@example.com>',
      'Call-ID: cid-fold',
      'CSeq: 1 INVITE',
      'Subject: first part',
      '  second part',
    ]);
    const m = ok(buf);
    assert.equal(m.firstBody(HdrType.VIA), 'SIP/2.0/UDP 10.0.0.1:5060\r\n ;branch=z9hG4bK-fold');
    assert.equal(m.firstBody(HdrType.TO), '<sip:bob@example.com>');
    assert.equal(m.firstBody(HdrType.SUBJECT), 'first part\r\n  second part');
    assert.equal(m.via1BranchStart > 0, true);
    assert.equal(buf.toString('latin1', m.via1BranchStart, m.via1BranchEnd), 'z9hG4bK-fold');
  });
  test('bare LF line ends', () => {
    const buf = Buffer.from(
      'OPTIONS sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK7\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>\nCall-ID: lf-1\nCSeq: 7 OPTIONS\nUser-Agent: lf ua \n\nbody',
    );
    const m = ok(buf);
    assert.equal(m.firstBody(HdrType.CALLID), 'lf-1');
    assert.equal(m.firstBody(HdrType.USER_AGENT), 'lf ua ');
    assert.equal(m.cseqMethod(), 'OPTIONS');
    assert.equal(m.headerCount, 6);
  });
  test('the header block ends at the empty line; the body is not indexed', () => {
    const m = ok(sip(['MESSAGE sip:b@c SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@b>;tag=1', 'To: <sip:b@c>', 'Call-ID: m1', 'CSeq: 1 MESSAGE'], 'X-Not-A-Header: 1\r\n'));
    assert.equal(m.lookupByName('X-Not-A-Header'), -1);
  });
  test('CSeq number and method', () => {
    const m = ok(request(['X: y']));
    assert.equal(m.firstBody(HdrType.CSEQ), '1 INVITE');
    assert.equal(m.cseqMethod(), 'INVITE');
    assert.equal(m.buf.toString('latin1', m.cseqNumberStart, m.cseqNumberEnd), '1');
  });
});

describe('lookupByName: get_hdr_by_name', () => {
  const m = ok(request(['reason: lower', 'REASON: upper', 'x-cid0: a', 'X-cid1: b', 'X-CID: c']));
  test('same length, first character case-sensitive, the rest case-insensitive', () => {
    assert.equal(m.bodyByName('Reason'), 'upper');
    assert.equal(m.bodyByName('REASON'), 'upper');
    assert.equal(m.bodyByName('reason'), 'lower');
    assert.equal(m.bodyByName('X-CID0'), null);
    assert.equal(m.bodyByName('X-CID1'), 'b');
    assert.equal(m.bodyByName('X-Cid'), 'c');
    assert.equal(m.bodyByName('X-CI'), null);
    assert.equal(m.bodyByName(''), null);
  });
  test('compact forms are matched by their own name only', () => {
    const c = ok(WORKED_REPLY);
    assert.equal(c.bodyByName('Call-ID'), null);
    assert.equal(c.bodyByName('i'), 'cid-0002@10.0.0.1');
  });
});

describe('required headers and bad headers', () => {
  const base = [
    'INVITE sip:bob@example.com SIP/2.0',
    'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1',
    'From: <sip:alice@example.com>;tag=f1',
    'To: <sip:bob@example.com>',
    'Call-ID: c1',
    'CSeq: 1 INVITE',
  ];
  for (const [i, name] of [[1, 'Via'], [2, 'From'], [3, 'To'], [4, 'Call-ID'], [5, 'CSeq']] as const) {
    test(`missing ${name}`, () => {
      const lines = base.filter((_, k) => k !== i);
      const p = parseSip(sip(lines));
      assert.ok(!p.ok);
      assert.equal(p.error.code, 'missing_required_header');
      assert.match(p.error.message, new RegExp(name));
    });
  }
  test('a bad header before the last required one rejects the message', () => {
    const lines = [...base];
    lines.splice(3, 0, 'Bad Header: x');
    assert.equal(err(sip(lines)), 'bad_header');
    assert.equal(err(sip([...base.slice(0, 2), 'no colon here', ...base.slice(2)])), 'bad_header');
    assert.equal(err(sip([...base.slice(0, 2), ' From: folded-start', ...base.slice(2)])), 'bad_header');
  });
  test('a bad header after all required ones: message accepted, headerError set, later headers not indexed', () => {
    const m = ok(sip([...base, 'User-Agent: x', 'Bad Header: y', 'Reason: z']));
    assert.match(m.headerError ?? '', /invalid header name/);
    assert.equal(m.firstBody(HdrType.USER_AGENT), 'x');
    assert.equal(m.bodyByName('Reason'), null);
    assert.equal(ok(sip(base)).headerError, null);
  });
  test('specialised bodies are checked: Via, CSeq, To, Content-Length', () => {
    const replace = (i: number, line: string): Buffer => sip(base.map((l, k) => (k === i ? line : l)));
    assert.equal(err(replace(1, 'Via: HTTP/1.1/UDP host')), 'bad_header');
    assert.equal(err(replace(1, 'Via: SIP/2.0/UDP')), 'bad_header');
    assert.equal(err(replace(1, 'Via: SIP/2.0/UDP h;branch')), 'bad_header');
    assert.equal(err(replace(5, 'CSeq: 1')), 'bad_header');
    assert.equal(err(replace(5, 'CSeq: 1 INVITE extra')), 'bad_header');
    assert.equal(err(replace(3, 'To: <sip:bob@example.com')), 'bad_header');
    assert.match(ok(sip([...base, 'Content-Length: x'])).headerError ?? '', /Content-Length/);
    assert.match(ok(sip([...base, 'l: 12 34'])).headerError ?? '', /Content-Length/);
    assert.equal(ok(sip([...base, 'Content-Length:  42 '])).firstBody(HdrType.CONTENT_LENGTH), '42 ');
  });
  test('lenient (capture_bad_msgs): bad headers are noted and indexed, lines that are not headers skipped', () => {
    const v6 = sip(base.map((l, k) => (k === 1 ? 'Via: SIP/2.0/UDP 2001:db8::1:5060;branch=z9hG4bK1' : l)));
    assert.equal(err(v6), 'bad_header');
    const p = parseSip(v6, { lenient: true });
    assert.ok(p.ok);
    assert.match(p.message.headerError ?? '', /bad Via/);
    assert.equal(p.message.firstBody(HdrType.VIA), 'SIP/2.0/UDP 2001:db8::1:5060;branch=z9hG4bK1');
    assert.equal(p.message.via1BranchStart, -1, 'no branch from a Via that does not parse');
    const junk = parseSip(sip([...base.slice(0, 2), 'no colon here', ...base.slice(2), 'User-Agent: ua']), { lenient: true });
    assert.ok(junk.ok);
    assert.equal(junk.message.firstBody(HdrType.USER_AGENT), 'ua', 'indexing goes on after the bad line');
    const badTo = parseSip(sip(base.map((l, k) => (k === 3 ? 'To: "Bob <sip:bob@example.com>' : l))), { lenient: true });
    assert.ok(badTo.ok);
    assert.equal(badTo.message.to.ok, false);
    const noCallId = parseSip(sip(base.filter((_, k) => k !== 4)), { lenient: true });
    assert.ok(!noCallId.ok, 'the required headers are still required');
  });
  test('a header without a line end at the end of the buffer is bad', () => {
    const text = `${base.join('\r\n')}\r\nSubject: no newline`;
    assert.match(ok(Buffer.from(text)).headerError ?? '', /line end/);
    assert.equal(err(Buffer.from(`${base.slice(0, 5).join('\r\n')}\r\nCSeq: 1 INVITE`)), 'bad_header');
  });
});

describe('bytes, sizes and odd inputs', () => {
  test('non-UTF-8 bytes are indexed as bytes (no decoding while parsing)', () => {
    const raw = Buffer.concat([
      Buffer.from('MESSAGE sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: bin\r\nCSeq: 1 MESSAGE\r\nX-Bin: '),
      Buffer.from([0xff, 0xfe, 0x80, 0x00, 0x41]),
      Buffer.from('\r\n\r\n'),
    ]);
    const m = ok(raw);
    const i = m.lookupByName('X-Bin');
    assert.deepEqual([...raw.subarray(m.headerBodyStart(i), m.headerBodyEnd(i))], [0xff, 0xfe, 0x80, 0x00, 0x41]);
  });
  test('a 64 KB message', () => {
    const filler = Array.from({ length: 700 }, (_, i) => `X-Filler-${i}: ${'v'.repeat(80)}`);
    const buf = request([...filler, 'User-Agent: big']);
    assert.ok(buf.length > 64 * 1024);
    const m = ok(buf);
    assert.equal(m.firstBody(HdrType.USER_AGENT), 'big');
    assert.equal(m.headerCount, 5 + 700 + 2);
    assert.equal(m.bodyByName('X-Filler-699'), 'v'.repeat(80));
  });
  test('parsing does not modify the buffer', () => {
    const buf = Buffer.from(WORKED_REQUEST);
    ok(buf);
    assert.ok(buf.equals(WORKED_REQUEST));
  });
  test('a view into a larger buffer', () => {
    const big = Buffer.concat([Buffer.from('garbage-before'), WORKED_REQUEST, Buffer.from('after')]);
    const view = big.subarray(14, 14 + WORKED_REQUEST.length);
    assert.equal(ok(view).firstBody(HdrType.CALLID), 'cid-0001@10.0.0.1 ');
  });
});

describe('routeFactsOf', () => {
  test('request: its method; reply: the CSeq method; Event body or empty; a To tag or not', () => {
    assert.deepEqual(routeFactsOf(ok(WORKED_REQUEST)), { type: 1, method: 'INVITE', event: '', hasToTag: false });
    assert.deepEqual(routeFactsOf(ok(WORKED_REPLY)), { type: 2, method: 'INVITE', event: '', hasToTag: true });
    const notify = ok(request(['Event: refer;id=7'], 'NOTIFY sip:bob@example.com SIP/2.0'));
    assert.deepEqual(routeFactsOf(notify), { type: 1, method: 'NOTIFY', event: 'refer;id=7', hasToTag: false });
    const toTag = (to: string): boolean => routeFactsOf(ok(sip(['BYE sip:b@c SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@b>;tag=1', to, 'Call-ID: x', 'CSeq: 2 BYE']))).hasToTag;
    assert.deepEqual([toTag('To: <sip:b@c>;tag=9'), toTag('To: <sip:b@c>;tag='), toTag('To: sip:b@c;tag=x')], [true, false, true]);
    assert.equal(routeFactsOf(ok(request(['o: presence']))).event, 'presence');
  });
});
