import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { checkSipStartLine, contentLength, findHeaderEnd, looksLikeSip, SipCheck } from '../../src/raw/sip-check.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const check = (s: string): number => checkSipStartLine(b(s), 0, Buffer.byteLength(s, 'latin1'));

describe('SIP start line', () => {
  test('requests and replies are SIP', () => {
    assert.equal(check('INVITE sip:a@b SIP/2.0\r\n'), SipCheck.SIP);
    assert.equal(check('OPTIONS sip:a@b;transport=tcp SIP/2.0\n'), SipCheck.SIP);
    assert.equal(check('x-custom.method sip:a SIP/2.0\r\n'), SipCheck.SIP);
    assert.equal(check('SIP/2.0 200 OK\r\n'), SipCheck.SIP);
    assert.equal(check('sip/2.0 486 Busy\r\n'), SipCheck.SIP, 'version is case-insensitive like Kamailio');
  });

  test('everything else is not SIP', () => {
    for (const s of [
      'HEP3\x00\x10',
      'GET / HTTP/1.1\r\n',
      'HTTP/1.1 200 OK\r\n',
      'SIP/2.0 2x0 OK\r\n',
      'INVITE  SIP/2.0\r\n',
      ' INVITE sip:a SIP/2.0\r\n',
      'INVITE sip:a SIP/3.0\r\n',
      'INVITE sip:a\r\n',
      '\x80\x00RTP',
      'hello world this is a long line that never ends with a version\r\n',
    ]) {
      assert.equal(check(s), SipCheck.NOT_SIP, JSON.stringify(s));
    }
  });

  test('incomplete lines ask for more (streams)', () => {
    for (const s of ['S', 'SIP/2', 'SIP/2.0 ', 'SIP/2.0 20', 'INV', 'INVITE sip:a@b', 'INVITE sip:a@b SIP/2.0']) {
      assert.equal(check(s), SipCheck.NEED_MORE, JSON.stringify(s));
    }
  });

  test('datagram check keeps Kamailio’s 32-byte minimum', () => {
    const short = b('ACK sip:a SIP/2.0\r\n\r\n');
    assert.ok(short.length < 32);
    assert.equal(looksLikeSip(short, 0, short.length), false);
    const ok = b('ACK sip:alice@example.invalid SIP/2.0\r\nVia: x\r\n\r\n');
    assert.equal(looksLikeSip(ok, 0, ok.length), true);
  });
});

describe('framing helpers', () => {
  test('header end with CRLF and bare LF', () => {
    const m = b('INVITE sip:a SIP/2.0\r\nA: 1\r\n\r\nbody');
    assert.equal(findHeaderEnd(m, 0, m.length), m.length - 4);
    const lf = b('INVITE sip:a SIP/2.0\nA: 1\n\nbody');
    assert.equal(findHeaderEnd(lf, 0, lf.length), lf.length - 4);
    const none = b('INVITE sip:a SIP/2.0\r\nA: 1\r\n');
    assert.equal(findHeaderEnd(none, 0, none.length), -1);
  });

  test('Content-Length: long and compact form, case, spaces, missing, bad', () => {
    const cl = (h: string): number => {
      const m = b(`INVITE sip:a SIP/2.0\r\n${h}\r\n\r\n`);
      return contentLength(m, 0, m.length);
    };
    assert.equal(cl('Content-Length: 12'), 12);
    assert.equal(cl('content-length:7'), 7);
    assert.equal(cl('CONTENT-LENGTH \t:  42'), 42);
    assert.equal(cl('l: 5'), 5);
    assert.equal(cl('Via: x\r\nL:3'), 3);
    assert.equal(cl('Content-Type: application/sdp'), 0, 'missing means 0');
    assert.equal(cl('Content-Length: abc'), -1);
    assert.equal(cl('X-Content-Length: 9'), 0, 'only the exact header name counts');
  });
});
