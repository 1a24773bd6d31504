import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UriType, parseUri } from '../../src/sip/uri.js';

function uri(s: string): { user: string; host: string; port: number; portText: string; type: number } | null {
  const b = Buffer.from(s, 'latin1');
  const u = parseUri(b, 0, b.length);
  if (u === null) return null;
  return {
    user: b.toString('latin1', u.userStart, u.userEnd),
    host: b.toString('latin1', u.hostStart, u.hostEnd),
    port: u.port,
    portText: b.toString('latin1', u.portStart, u.portEnd),
    type: u.type,
  };
}

describe('parse_uri rules', () => {
  test('user keeps user parameters; host without port', () => {
    assert.deepEqual(uri('sip:+4930123;npdi@h'), { user: '+4930123;npdi', host: 'h', port: 0, portText: '', type: UriType.SIP });
    assert.equal(uri('sip:bob;x=1@example.com')?.user, 'bob;x=1');
    assert.equal(uri('sip:bob;x=1@example.com:5070;transport=tcp')?.host, 'example.com');
  });
  test(':password is removed from the user', () => {
    const u = uri('sip:alice:secret@h.example.com');
    assert.equal(u?.user, 'alice');
    assert.equal(u?.host, 'h.example.com');
  });
  test('user=phone cuts the user at its first ";" (phone2tel)', () => {
    assert.equal(uri('sip:+4930;user=phone@b.com;user=phone')?.user, '+4930');
    assert.equal(uri('sip:+4930;user=phone@b.com;user=phone')?.host, 'b.com');
    assert.equal(uri('sip:+4930;npdi@b.com;user=phone')?.user, '+4930');
    assert.equal(uri('sip:+4930;npdi@b.com;user=phone')?.type, UriType.TEL);
    // the value is compared case-sensitively
    assert.equal(uri('sip:+4930;npdi@b.com;user=Phone')?.user, '+4930;npdi');
    // user=phone inside the user part alone does not count
    assert.equal(uri('sip:+4930;user=phone@b.com')?.user, '+4930;user=phone');
  });
  test('tel URIs: the number is the user, the host is empty', () => {
    assert.deepEqual(uri('tel:+123;phone-context=x.com'), { user: '+123', host: '', port: 0, portText: '', type: UriType.TEL });
    assert.equal(uri('tel:+4912345')?.user, '+4912345');
  });
  test('IPv6 references keep their brackets', () => {
    const u = uri('sip:alice@[2001:db8::1]:5062;transport=udp');
    assert.equal(u?.host, '[2001:db8::1]');
    assert.equal(u?.port, 5062);
    assert.equal(uri('sip:[2001:db8::1]')?.host, '[2001:db8::1]');
    assert.equal(uri('sip:[2001:db8::1]')?.user, '');
  });
  test('port: digits after the host, 0 if absent', () => {
    assert.equal(uri('sip:a@h:5060')?.port, 5060);
    assert.equal(uri('sip:a@h')?.port, 0);
    assert.equal(uri('sip:h:5080;lr')?.port, 5080);
    assert.equal(uri('sip:h:5080;lr')?.host, 'h');
    assert.equal(uri('sip:h:5080;lr')?.user, '');
    assert.equal(uri('sip:a@h:')?.port, 0);
    assert.equal(uri('sip:a@h:99999')?.port, 99999);
  });
  test('a host alone (user empty)', () => {
    assert.equal(uri('sip:a')?.host, 'a');
    assert.equal(uri('sip:a')?.user, '');
  });
  test('no decoding and no case changes', () => {
    const u = uri('SIP:Al%20ice@Example.COM');
    assert.equal(u?.user, 'Al%20ice');
    assert.equal(u?.host, 'Example.COM');
  });
  test('sips and urn schemes', () => {
    assert.equal(uri('sips:bob@secure.example.com')?.type, UriType.SIPS);
    assert.equal(uri('sips:bob@secure.example.com')?.host, 'secure.example.com');
    assert.equal(uri('urn:service:sos')?.type, UriType.URN);
  });
  test('urn: user = the namespace id, host = the rest, as Kamailio 5.6.3 stores them', () => {
    assert.deepEqual(uri('urn:service:sos'), { user: 'service', host: 'sos', port: 0, portText: '', type: UriType.URN });
    assert.deepEqual([uri('urn:uuid:f81d4fae-7dec')?.user, uri('urn:uuid:f81d4fae-7dec')?.host], ['uuid', 'f81d4fae-7dec']);
    // Kamailio fails on a second ':' (docs/kamailio-differences.md R12); we split at the first
    assert.deepEqual([uri('urn:a:b:c')?.user, uri('urn:a:b:c')?.host], ['a', 'b:c']);
    assert.deepEqual([uri('urn:nocolon')?.user, uri('urn:nocolon')?.host], ['', 'nocolon']);
  });
  test('errors', () => {
    for (const bad of [
      '',
      'sip:',
      'http://example.com',
      'sipx:a@b',
      'sip:a@',
      'sip:a@b@c',
      'sip:a@exa_mple.com',
      'sip:a@-host',
      'sip:a@[2001:db8::1',
      'sip:a@[::1]x',
      'sip:a@h:50a0',
      'sip:a@h:123456',
      'sip:a:b:c@h',
      'sip:[a]b@h',
      'sip:a@h;x@y',
    ]) {
      assert.equal(uri(bad), null, bad);
    }
  });
  test('works on a sub-range of a larger buffer', () => {
    const b = Buffer.from('xx<sip:carol@c.net:7>yy');
    const u = parseUri(b, 3, 20);
    assert.ok(u);
    assert.equal(b.toString('latin1', u.userStart, u.userEnd), 'carol');
    assert.equal(u.port, 7);
  });
  test('non-UTF-8 bytes in the user part are kept as bytes', () => {
    const b = Buffer.concat([Buffer.from('sip:'), Buffer.from([0xe9, 0xff]), Buffer.from('@h.com')]);
    const u = parseUri(b, 0, b.length);
    assert.ok(u);
    assert.deepEqual([...b.subarray(u.userStart, u.userEnd)], [0xe9, 0xff]);
  });
});
