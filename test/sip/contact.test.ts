import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseContactBody } from '../../src/sip/contact.js';

function contact(body: string): { ok: boolean; star: boolean; uri: string } {
  const b = Buffer.from(body, 'latin1');
  const r = parseContactBody(b, 0, b.length);
  return { ok: r.ok, star: r.star, uri: b.toString('latin1', r.uriStart, r.uriEnd) };
}

describe('Contact', () => {
  test('the LAST contact of the header field is used (5.6.3 builds the list in reverse)', () => {
    assert.deepEqual(contact('<sip:alice@10.0.0.1:5062;transport=udp>, <sip:other@1.1.1.1>'), { ok: true, star: false, uri: 'sip:other@1.1.1.1' });
    assert.equal(contact('"A" <sip:a@h>;expires=60;q=0.5, "B" <sip:b@h>;+sip.instance="<urn:x>"').uri, 'sip:b@h');
  });
  test('one contact, with or without brackets and params', () => {
    assert.equal(contact('<sip:alice@10.0.0.1:5062>').uri, 'sip:alice@10.0.0.1:5062');
    assert.equal(contact('sip:alice@10.0.0.1;expires=3600').uri, 'sip:alice@10.0.0.1');
    assert.equal(contact('"Display, Name" <sip:d@h>').uri, 'sip:d@h');
  });
  test('star', () => {
    assert.deepEqual(contact('*'), { ok: true, star: true, uri: '' });
    assert.equal(contact('  *').star, true);
  });
  test('folded contacts', () => {
    assert.equal(contact('<sip:a@h>,\r\n <sip:b@h>').uri, 'sip:b@h');
  });
  test('errors', () => {
    for (const bad of ['', '   ', '<sip:a@h>, ', '<sip:a@h;p="x>', '<sip:a@h', 'sip:a@h>', '<sip:a@h>;', '<sip:a@h>;p="v', '<<sip:a@h>>', '"Name <sip:a@h>', '<>']) {
      assert.equal(contact(bad).ok, false, JSON.stringify(bad));
    }
  });
});
