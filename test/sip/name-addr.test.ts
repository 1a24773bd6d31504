import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNameAddr } from '../../src/sip/name-addr.js';

function na(s: string, allowComma = false): { ok: boolean; uri: string; display: string; tag: string; rest: string } {
  const b = Buffer.from(s, 'latin1');
  const r = parseNameAddr(b, 0, b.length, allowComma);
  return {
    ok: r.ok,
    uri: b.toString('latin1', r.uriStart, r.uriEnd),
    display: b.toString('latin1', r.displayStart, r.displayEnd),
    tag: b.toString('latin1', r.tagStart, r.tagEnd),
    rest: b.toString('latin1', r.end),
  };
}

describe('name-addr / addr-spec (parse_addr_spec)', () => {
  test('tag with angle brackets', () => {
    const r = na('"Alice" <sip:alice@a.com>;tag=ft1\r\n');
    assert.equal(r.ok, true);
    assert.equal(r.uri, 'sip:alice@a.com');
    assert.equal(r.display, '"Alice"');
    assert.equal(r.tag, 'ft1');
  });
  test('tag without angle brackets: params after ";" are header params', () => {
    const r = na('sip:alice@a.com;tag=ft2\r\n');
    assert.equal(r.uri, 'sip:alice@a.com');
    assert.equal(r.tag, 'ft2');
  });
  test('token display name', () => {
    const r = na('Bob Smith <sip:bob@b.com>\r\n');
    assert.equal(r.display, 'Bob Smith');
    assert.equal(r.uri, 'sip:bob@b.com');
    assert.equal(r.tag, '');
  });
  test('tag name is case-insensitive; the last tag wins; other params ignored', () => {
    assert.equal(na('<sip:a@b>;TAG=x1\r\n').tag, 'x1');
    assert.equal(na('<sip:a@b>;tag=x1;tag=x2\r\n').tag, 'x2');
    assert.equal(na('<sip:a@b>;tagx=1;foo=tag\r\n').tag, '');
    assert.equal(na('<sip:a@b>;tag\r\n').tag, '');
    assert.equal(na('<sip:a@b>;tag="q1"\r\n').tag, 'q1');
  });
  test('stops at the next header (end = start of the next line)', () => {
    const r = na('<sip:a@b>;tag=9\r\nCall-ID: x\r\n');
    assert.equal(r.ok, true);
    assert.equal(r.rest, 'Call-ID: x\r\n');
  });
  test('folded body continues', () => {
    const r = na('"A"\r\n <sip:a@b>;tag=7\r\nX: y');
    assert.equal(r.ok, true);
    assert.equal(r.uri, 'sip:a@b');
    assert.equal(r.tag, '7');
  });
  test('UTF-8 display names', () => {
    const b = Buffer.from('"Zoë Ångström" <sip:zoe@z.de>;tag=u1\r\n', 'utf8');
    const r = parseNameAddr(b, 0, b.length, false);
    assert.equal(r.ok, true);
    assert.equal(b.toString('utf8', r.displayStart, r.displayEnd), '"Zoë Ångström"');
  });
  test('comma lists (PAI) stop at the comma', () => {
    const r = na('"PAI" <tel:+4912345>, <sip:pai2@x.com>', true);
    assert.equal(r.ok, true);
    assert.equal(r.uri, 'tel:+4912345');
    assert.equal(r.rest, ', <sip:pai2@x.com>');
  });
  test('a comma is part of a tag value when commas do not separate', () => {
    assert.equal(na('<sip:a@b>;tag=a,b\r\n').tag, 'a,b');
  });
  test('empty parameter values are kept as empty, as Kamailio stores them', () => {
    assert.deepEqual([na('<sip:bob@b>;tag=\r\n').ok, na('<sip:bob@b>;tag=\r\n').tag], [true, '']);
    assert.equal(na('"A" <sip:a@b>;foo=;tag=7\r\n').tag, '7');
    assert.deepEqual([na('sip:bob@b;tag=\r\n').ok, na('sip:bob@b;tag=\r\n').uri], [true, 'sip:bob@b']);
  });
  test('blanks just inside the angle brackets are not part of the URI', () => {
    for (const s of ['< sip:bob@b >', '<sip:bob@b >', '< sip:bob@b>', '<\tsip:bob@b\t>']) assert.equal(na(`${s};tag=1\r\n`).uri, 'sip:bob@b', s);
    assert.equal(na('<  >\r\n').ok, false);
  });
  test('errors', () => {
    for (const bad of ['<sip:a@b\r\n', '"unterminated <sip:a@b>\r\n', '<sip:a@b> junk\r\n', '<sip:a@b>;;tag=1\r\n', '<sip:a@b>;tag="x\\"y"\r\n', '\r\n', '>', '<sip:a@b>;tag=1 2\r\n']) {
      assert.equal(na(bad).ok, false, JSON.stringify(bad));
    }
  });
});
