import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { authUser } from '../../src/sip/auth-user.js';
import { parseSip } from '../../src/sip/parser.js';
import { request } from './fixtures.js';

function au(extra: string[]): string {
  const p = parseSip(request(extra));
  assert.ok(p.ok);
  return authUser(p.message);
}

describe('auth_user', () => {
  test('Proxy-Authorization is preferred over Authorization', () => {
    assert.equal(
      au(['Authorization: Digest username="auser", realm="r"', 'Proxy-Authorization: Digest username="puser@realm.com", realm="realm.com"']),
      'puser',
    );
    assert.equal(au(['Authorization: Digest username="auser", realm="r", nonce="n"']), 'auser');
  });
  test('user@domain → user; sip:user@domain → user; short names untouched', () => {
    assert.equal(au(['Authorization: Digest username="sip:bob@realm", realm="r"']), 'bob');
    assert.equal(au(['Authorization: Digest username="a@", realm="r"']), 'a@');
    assert.equal(au(['Authorization: Digest username="ab@c", realm="r"']), 'ab');
    assert.equal(au(['Authorization: Digest username="x:y", realm="r"']), 'y');
  });
  test('unquoted username, any parameter order, case-insensitive scheme and names', () => {
    assert.equal(au(['Authorization: digest realm="r", USERNAME=tok, nonce="n"']), 'tok');
    assert.equal(au(['Authorization: Digest realm="r",nonce="n",  username = "sp"']), 'sp');
    assert.equal(au(['Authorization: Digest realmx="r", username="after-other"']), 'after-other');
  });
  test('a non-Digest scheme or a parse error gives empty', () => {
    assert.equal(au(['Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l']), '');
    assert.equal(au(['Authorization: Digest']), '');
    assert.equal(au(['Authorization: Digest username="unterminated']), '');
    assert.equal(au(['Authorization: Digest username="u", realm=']), '');
    assert.equal(au(['Authorization: Digest username="u",']), '');
    assert.equal(au(['Authorization: Digest junk']), '');
    assert.equal(au(['Authorization: Digest realm="r"']), '');
    assert.equal(au([]), '');
  });
});
