import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { firstIdentityUri, pidUser } from '../../src/sip/identity.js';
import { parseSip } from '../../src/sip/parser.js';
import { request } from './fixtures.js';

function pid(extra: string[]): string {
  const p = parseSip(request(extra));
  assert.ok(p.ok);
  return pidUser(p.message);
}

describe('pid_user: PAI → PPI → RPID', () => {
  test('first identity of the first PAI; tel URIs', () => {
    assert.equal(pid(['P-Asserted-Identity: "PAI" <tel:+4912345>, <sip:pai2@x.com>']), '+4912345');
    assert.equal(pid(['P-Asserted-Identity: <sip:p1@x.com>', 'P-Asserted-Identity: <sip:p2@x.com>']), 'p1');
    assert.equal(pid(['P-Asserted-Identity: sip:bare@x.com']), 'bare');
  });
  test('PAI wins over a PPI present in the same message', () => {
    assert.equal(pid(['P-Preferred-Identity: <sip:ppi@x.com>', 'P-Asserted-Identity: <sip:pai@x.com>']), 'pai');
  });
  test('PPI when there is no PAI; RPID when neither', () => {
    assert.equal(pid(['P-Preferred-Identity: <sip:ppi@x.com>']), 'ppi');
    assert.equal(pid(['Remote-Party-ID: "R" <sip:rpid@x.com>;party=calling;screen=yes']), 'rpid');
    assert.equal(pid([]), '');
  });
  test('a PAI whose URI does not parse gives empty: no fall-through to PPI', () => {
    assert.equal(pid(['P-Asserted-Identity: <http://nope>', 'P-Preferred-Identity: <sip:ppi@x.com>']), '');
  });
  test('a PAI header that does not parse (any of them) falls through to PPI, then RPID', () => {
    assert.equal(pid(['P-Asserted-Identity: <sip:pai@x.com', 'P-Preferred-Identity: <sip:ppi@x.com>']), 'ppi');
    assert.equal(pid(['P-Asserted-Identity: <sip:p1@x.com>', 'P-Asserted-Identity: <bad', 'P-Preferred-Identity: <sip:ppi@x.com>']), 'ppi');
    assert.equal(pid(['P-Asserted-Identity: <bad', 'P-Preferred-Identity: <bad', 'Remote-Party-ID: <sip:r@x.com>']), 'r');
  });
  test('PPI: a bad second PPI header makes the PPI unusable', () => {
    assert.equal(pid(['P-Preferred-Identity: <sip:ppi@x.com>', 'P-Preferred-Identity: <bad', 'Remote-Party-ID: <sip:r@x.com>']), 'r');
  });
  test('a bad RPID gives empty', () => {
    assert.equal(pid(['Remote-Party-ID: <sip:r@x.com']), '');
  });
  test('identity lists: stops after a comma-separated list; any bad element fails the header', () => {
    const b = Buffer.from('<sip:a@x>, "B" <tel:+1>, <sip:c@y>');
    const u = firstIdentityUri(b, 0, b.length);
    assert.ok(u);
    assert.equal(b.toString('latin1', u[0], u[1]), 'sip:a@x');
    const bad = Buffer.from('<sip:a@x>, <sip:c@y');
    assert.equal(firstIdentityUri(bad, 0, bad.length), null);
  });
});
