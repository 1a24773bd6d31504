import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { expandRoutes, HOMER5_RULES, modesUsedByRules, validateRoutes } from '../../src/config/routes.js';
import { oneProblem, problems, valid } from './helpers.js';

const MODE = 'calls=>db_url=sqlite://c.db;table_name=c1|c2;mt_mode=hash';

describe('routes presets', () => {
  test('homer5 = the Homer 5 example route[STORE]', () => {
    assert.deepEqual(expandRoutes('homer5'), [
      { method: ['REGISTER'], table: 'sip_capture_registration_%Y%m%d' },
      { method: ['INVITE', 'UPDATE', 'BYE', 'ACK', 'PRACK', 'REFER', 'CANCEL'], table: 'sip_capture_call_%Y%m%d' },
      { method: ['NOTIFY'], event: 'refer;', table: 'sip_capture_call_%Y%m%d' },
      { method: ['INFO'], table: 'sip_capture_call_%Y%m%d' },
      { table: 'sip_capture_rest_%Y%m%d' },
    ]);
    assert.deepEqual([...modesUsedByRules(HOMER5_RULES)], ['default']);
  });
  test('default = one rule, no table', () => {
    assert.deepEqual(expandRoutes('default'), [{}]);
    assert.deepEqual(valid().routeRules, [{}]);
    assert.equal(valid().routes, 'default');
  });
  test('expanded rules are copies', () => {
    const r = expandRoutes('homer5');
    r[0]!.method!.push('X');
    assert.deepEqual(HOMER5_RULES[0]!.method, ['REGISTER']);
  });
  test('unknown preset', () => {
    oneProblem({ routes: 'homer' }, 'routes: "homer" is not a preset (allowed: "homer5", "default", or an array of rules) — did you mean homer5?');
    oneProblem({ routes: 5 }, 'routes: expected "homer5", "default" or an array of rules, got an integer 5');
    oneProblem({ routes: [] }, 'routes: [] has no rules');
  });
});

describe('route rules', () => {
  test('every key', () => {
    const rules = [
      { method: ['OPTIONS'], store: false },
      { method: 'INVITE|BYE', type: 'request', table: 'calls_%Y%m%d', capture_mode: 'calls' },
      { type: 'reply', event: '^refer' },
      { method: ['NOTIFY'], has_to_tag: true, table: 'calls_%Y%m%d' },
      { table: '', capture_mode: 'default' },
      {},
    ];
    const r = validateRoutes(rules);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.routes, [
      { method: ['OPTIONS'], store: false },
      { method: ['INVITE', 'BYE'], type: 'request', table: 'calls_%Y%m%d', capture_mode: 'calls' },
      { type: 'reply', event: '^refer' },
      { method: ['NOTIFY'], has_to_tag: true, table: 'calls_%Y%m%d' },
      { capture_mode: 'default' },
      {},
    ]);
    const c = valid({ capture_mode: MODE, routes: rules });
    assert.equal(c.routeRules.length, 6);
    assert.deepEqual([...modesUsedByRules(c.routeRules)].sort(), ['calls', 'default']);
  });
  test('each bad value is reported with its path', () => {
    const ps = problems({
      routes: [
        { method: [] },
        { method: ['INV ITE'] },
        { type: 'response' },
        { event: '(' },
        { table: 'a-b' },
        { table: 'x_%e' },
        { store: 'no' },
        { capture_mode: '' },
        { tabel: 'x' },
        'x',
        { has_to_tag: 'yes' },
      ],
    });
    assert.equal(ps.length, 11, ps.join('\n'));
    assert.match(ps[0]!, /^routes\[0\]\.method: \[\]: expected a non-empty array of method names/);
    assert.match(ps[1]!, /^routes\[1\]\.method: .*"INV ITE" is not a SIP method name/);
    assert.match(ps[2]!, /^routes\[2\]\.type: "response" is not allowed \(allowed: "request", "reply"\)/);
    assert.match(ps[3]!, /^routes\[3\]\.event: "\(" is not a valid regular expression/);
    assert.match(ps[4]!, /^routes\[4\]\.table: "a-b": character "-" at offset 1 is not allowed/);
    assert.match(ps[5]!, /^routes\[5\]\.table: "x_%e": "%e" pads with a space; use "%d"/);
    assert.match(ps[6]!, /^routes\[6\]\.store: "no": expected true or false/);
    assert.match(ps[7]!, /^routes\[7\]\.capture_mode: expected a capture mode name/);
    assert.match(ps[8]!, /^routes\[8\]\.tabel: unknown rule key — did you mean table\? \(allowed: method, type, event, has_to_tag, table, capture_mode, shard, store, forward\)/);
    assert.match(ps[9]!, /^routes\[9\]: expected an object/);
    assert.match(ps[10]!, /^routes\[10\]\.has_to_tag: "yes": expected true \(in-dialog: a To tag is present\) or false/);
  });
  test('capture modes must exist', () => {
    oneProblem(
      { capture_mode: MODE, routes: [{ capture_mode: 'call' }] },
      'routes[0].capture_mode: "call" is not a defined capture mode (defined: default, calls) — did you mean calls?',
    );
  });
  test('a broken capture mode is reported once, not again by the routes using it', () => {
    const ps = problems({ capture_mode: 'calls=>db_url=sqlite://c.db;mt_mode=hash', routes: [{ capture_mode: 'calls' }] });
    assert.equal(ps.length, 1);
    assert.match(ps[0]!, /^capture_mode: .*table_name is not set/);
  });
});

describe('the default capture mode', () => {
  test('a broken default used by routes is a start-up error (Kamailio only warns: docs/kamailio-differences.md C2)', () => {
    const ps = problems({ routes: 'homer5' }, false);
    assert.deepEqual(ps, [
      'db_url: "" — the default capture mode needs a database URL because routes "homer5" stores through it (allowed sqlite://PATH, postgres://…, mysql://…; or route every rule to a named capture_mode)',
    ]);
    oneProblem({ table_name: ' | ' }, 'table_name: " | " — the default capture mode needs at least one table because routes "default" stores through it');
    assert.match(problems({ routes: [{ method: ['INVITE'] }] }, false)[0]!, /a route rule without capture_mode stores through it/);
  });
  test('not needed when every storing rule names another mode', () => {
    const c = validateNoDefault({ capture_mode: MODE, routes: [{ method: ['OPTIONS'], store: false }, { capture_mode: 'calls' }] });
    assert.deepEqual([...c.captureModes.keys()], ['calls']);
  });
  test('built from db_url, table_name, mt_mode and hash_source', () => {
    const c = valid({ table_name: 'a|b', mt_mode: 'hash', hash_source: 'TO_USER' });
    assert.deepEqual(c.captureModes.get('default'), { name: 'default', db_url: 'sqlite://:memory:', table_name: ['a', 'b'], mt_mode: 'hash', hash_source: 'to_user' });
  });
});

function validateNoDefault(raw: Record<string, unknown>) {
  return valid({ db_url: '', ...raw });
}
