import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RULES, HOMER5_RULES } from '../../src/config/routes.js';
import type { CaptureMode, HashSource, RouteRule } from '../../src/config/types.js';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { Router, type RouteResult } from '../../src/route/router.js';
import type { RouteFacts } from '../../src/route/facts.js';

const T = 1700000000; // 2023-11-14 22:13:20 UTC
const DAY = '20231114';

function modes(...list: Partial<CaptureMode>[]): Map<string, CaptureMode> {
  const m = new Map<string, CaptureMode>();
  m.set('default', { name: 'default', db_url: 'sqlite://:memory:', table_name: ['sip_capture'], mt_mode: 'rand', hash_source: 'call_id' });
  for (const p of list) {
    const full: CaptureMode = { name: 'x', db_url: 'sqlite://other.sqlite', table_name: ['t'], mt_mode: 'rand', hash_source: 'call_id', ...p };
    m.set(full.name, full);
  }
  return m;
}
const req = (method: string, event = '', hasToTag = false): RouteFacts => ({ type: 1, method, event, hasToTag });
const reply = (cseqMethod: string): RouteFacts => ({ type: 2, method: cseqMethod, event: '', hasToTag: true });
const hs = (call_id = 'cid-0001@10.0.0.1', from_user = 'alice', to_user = 'bob'): Record<HashSource, string> => ({ call_id, from_user, to_user });

function table(r: RouteResult): string {
  if ('drop' in r) throw new Error(`dropped: ${r.drop} ${r.detail}`);
  return r.table;
}

describe('Router: Homer 5 preset', () => {
  const router = new Router(HOMER5_RULES, modes());
  const cases: [string, RouteFacts, string][] = [
    ['REGISTER', req('REGISTER'), 'sip_capture_registration'],
    ['INVITE', req('INVITE'), 'sip_capture_call'],
    ['ACK', req('ACK'), 'sip_capture_call'],
    ['BYE', req('BYE'), 'sip_capture_call'],
    ['CANCEL', req('CANCEL'), 'sip_capture_call'],
    ['UPDATE', req('UPDATE'), 'sip_capture_call'],
    ['PRACK', req('PRACK'), 'sip_capture_call'],
    ['REFER', req('REFER'), 'sip_capture_call'],
    ['NOTIFY Event: refer;id=7', req('NOTIFY', 'refer;id=7'), 'sip_capture_call'],
    ['NOTIFY Event: presence', req('NOTIFY', 'presence'), 'sip_capture_rest'],
    ['NOTIFY without Event', req('NOTIFY'), 'sip_capture_rest'],
    ['INFO', req('INFO'), 'sip_capture_call'],
    ['OPTIONS', req('OPTIONS'), 'sip_capture_rest'],
    ['SUBSCRIBE', req('SUBSCRIBE'), 'sip_capture_rest'],
    ['MESSAGE', req('MESSAGE'), 'sip_capture_rest'],
    ['200 reply to INVITE (CSeq method)', reply('INVITE'), 'sip_capture_call'],
    ['486 reply to INVITE', reply('INVITE'), 'sip_capture_call'],
    ['200 reply to REGISTER', reply('REGISTER'), 'sip_capture_registration'],
    ['200 reply to OPTIONS', reply('OPTIONS'), 'sip_capture_rest'],
    ["lower-case invite matches INVITE, as Kamailio's case-insensitive $rm =~", req('invite'), 'sip_capture_call'],
    ['mixed-case Register matches REGISTER', req('Register'), 'sip_capture_registration'],
    ['XINVITE is another method', req('XINVITE'), 'sip_capture_rest'],
  ];
  for (const [name, facts, base] of cases) {
    test(`${name} → ${base}_${DAY}`, () => {
      const r = router.route(facts, hs(), T);
      assert.equal(table(r), `${base}_${DAY}`);
      assert.ok(!('drop' in r) && r.mode.name === 'default');
    });
  }

  test('the suffix is the packet date in UTC, not today', () => {
    assert.equal(table(router.route(req('INVITE'), hs(), 1704067199)), 'sip_capture_call_20231231');
    assert.equal(table(router.route(req('INVITE'), hs(), 1704067200)), 'sip_capture_call_20240101');
  });
});

describe('Router: rules and capture modes', () => {
  test('has_to_tag: in-dialog NOTIFY to the call table, the rest elsewhere', () => {
    const router = new Router(
      [
        { method: ['notify'], has_to_tag: true, table: 'calls' },
        { method: ['NOTIFY'], has_to_tag: false, table: 'subs' },
        { table: 'rest' },
      ],
      modes(),
    );
    assert.equal(table(router.route(req('NOTIFY', 'presence', true), hs(), T)), 'calls');
    assert.equal(table(router.route(req('NOTIFY', 'presence', false), hs(), T)), 'subs');
    assert.equal(table(router.route(req('INVITE', '', true), hs(), T)), 'rest');
  });

  test('default preset: the default mode and its list', () => {
    const router = new Router(DEFAULT_RULES, modes());
    const r = router.route(req('OPTIONS'), hs(), T);
    assert.equal(table(r), 'sip_capture');
  });

  test('default mode list with round_robin and strftime', () => {
    const m = modes();
    m.set('default', { name: 'default', db_url: 'sqlite://:memory:', table_name: ['a_%Y%m%d', 'b_%Y%m%d'], mt_mode: 'round_robin', hash_source: 'call_id' });
    const router = new Router([{}], m);
    assert.deepEqual(
      [0, 1, 2].map(() => table(router.route(req('INVITE'), hs(), T))),
      [`a_${DAY}`, `b_${DAY}`, `a_${DAY}`],
    );
  });

  test('hash mode places Call-IDs per spec vectors; rule capture_mode picks the mode', () => {
    const router = new Router(
      [{ method: ['INVITE'], capture_mode: 'h3' }, {}],
      modes({ name: 'h3', table_name: ['t0', 't1', 't2'], mt_mode: 'hash', hash_source: 'call_id' }),
    );
    const cases: [string, string][] = [
      ['hash-0@host', 't1'],
      ['hash-1@host', 't1'],
      ['cid-0001@10.0.0.1', 't0'],
      ['a84b4c76e66710@pc33.atlanta.com', 't0'],
    ];
    for (const [cid, t] of cases) {
      const r = router.route(req('INVITE'), hs(cid), T);
      assert.equal(table(r), t, cid);
      assert.ok(!('drop' in r) && r.mode.name === 'h3' && r.mode.db_url === 'sqlite://other.sqlite');
    }
    assert.equal(table(router.route(req('BYE'), hs(), T)), 'sip_capture');
  });

  test('empty hash source: table 0, flagged and counted, not dropped', () => {
    const router = new Router([{}], modes({ name: 'default', table_name: ['t0', 't1'], mt_mode: 'hash', hash_source: 'from_user' }));
    const r = router.route(req('INVITE'), hs('c', ''), T);
    assert.ok(!('drop' in r));
    assert.equal(r.table, 't0');
    assert.equal(r.hashFallback, true);
    assert.equal(r.mode.name, 'default');
    assert.equal(table(router.route(req('INVITE'), hs('c', 'hash-1@host'), T)), 't1');
    assert.equal(router.emptyHashSourceCount, 1);
  });

  test('a rule table wins over the mode list and keeps the mode (db_url)', () => {
    const router = new Router([{ table: 'mine_%Y', capture_mode: 'other' }], modes({ name: 'other', table_name: ['x1', 'x2'] }));
    const r = router.route(req('INVITE'), hs(), T);
    assert.equal(table(r), 'mine_2023');
    assert.ok(!('drop' in r) && r.mode.name === 'other');
  });

  test('type, method list and event regex must all hold; first match wins', () => {
    const rules: RouteRule[] = [
      { type: 'reply', method: ['INVITE'], table: 'replies' },
      { type: 'request', method: ['INVITE', 'ACK'], table: 'requests' },
      { event: '^(presence|dialog)$', table: 'events' },
      { table: 'rest' },
    ];
    const router = new Router(rules, modes());
    assert.equal(table(router.route(reply('INVITE'), hs(), T)), 'replies');
    assert.equal(table(router.route(req('INVITE'), hs(), T)), 'requests');
    assert.equal(table(router.route(reply('ACK'), hs(), T)), 'rest');
    assert.equal(table(router.route(req('PUBLISH', 'presence'), hs(), T)), 'events');
    assert.equal(table(router.route(req('PUBLISH', 'presence.winfo'), hs(), T)), 'rest');
  });

  test('store:false and no matching rule are counted as filtered', () => {
    const router = new Router([{ method: ['OPTIONS'], store: false }, { method: ['INVITE'] }], modes());
    const a = router.route(req('OPTIONS'), hs(), T);
    assert.ok('drop' in a && a.drop === DropReason.FILTERED && /store: false/.test(a.detail));
    const b = router.route(req('REGISTER'), hs(), T);
    assert.ok('drop' in b && b.drop === DropReason.FILTERED && /no route rule/.test(b.detail));
    assert.equal(table(router.route(req('INVITE'), hs(), T)), 'sip_capture');
  });

  test('a template that expands to an invalid name drops the row as bad_table_name', () => {
    const router = new Router([{ method: ['A'], table: '%Y_calls' }, { method: ['B'], table: 'day_%e' }], modes());
    const a = router.route(req('A'), hs(), T);
    assert.ok('drop' in a && a.drop === DropReason.BAD_TABLE_NAME && /digit/.test(a.detail) && /%Y_calls/.test(a.detail));
    const b1 = router.route(req('B'), hs(), 1704067200); // day 1 → "day_ 1"
    assert.ok('drop' in b1 && b1.drop === DropReason.BAD_TABLE_NAME);
    assert.equal(table(router.route(req('B'), hs(), T)), 'day_14');
  });

  test('configuration errors fail at construction', () => {
    assert.throws(() => new Router([{ capture_mode: 'nope' }], modes()), /unknown capture mode "nope"/);
    assert.throws(() => new Router([{ event: '(' }], modes()), /rule #1.*regular expression/);
    assert.throws(() => new Router([{}, { table: 'bad name' }], modes()), /rule #2/);
    assert.throws(() => new Router([{ table: 'x_%Q' }], modes()), /%Q/);
    assert.throws(() => new Router([{}], modes({ name: 'default', table_name: ['ok', 'a;b'] })), /capture mode default/);
    // store:false needs no capture mode.
    assert.doesNotThrow(() => new Router([{ capture_mode: 'nope', store: false }], modes()));
  });
});
