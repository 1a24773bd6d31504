import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseCaptureMode } from '../../src/config/capture-mode.js';
import type { CaptureMode } from '../../src/config/types.js';
import { oneProblem, problems, valid } from './helpers.js';

function ok(text: string): CaptureMode {
  const r = parseCaptureMode(text);
  assert.ok(r.ok, `expected ${text} to parse, got ${r.ok ? '' : r.problems.join('; ')}`);
  return r.mode;
}

function bad(text: string): string[] {
  const r = parseCaptureMode(text);
  assert.ok(!r.ok, `expected ${text} to fail`);
  return r.problems;
}

describe('capture_mode: the admin guide examples', () => {
  test('mode1 (hash, trailing ";", which Kamailio itself rejects)', () => {
    assert.deepEqual(
      ok('mode1=>db_url=mysql://user:passwd@host/dbname1;table_name=homer_capture1|homer_capture2;mt_mode=hash;hash_source=call_id;'),
      { name: 'mode1', db_url: 'mysql://user:passwd@host/dbname1', table_name: ['homer_capture1', 'homer_capture2'], mt_mode: 'hash', hash_source: 'call_id' },
    );
  });
  test('mode2 (rand, no hash_source: call_id)', () => {
    assert.deepEqual(ok('mode2=>db_url=mysql://user:passwd@host/dbname2;table_name=homer_capture3|homer_capture4;mt_mode=rand;'), {
      name: 'mode2',
      db_url: 'mysql://user:passwd@host/dbname2',
      table_name: ['homer_capture3', 'homer_capture4'],
      mt_mode: 'rand',
      hash_source: 'call_id',
    });
  });
  test('without the trailing ";" (the only form Kamailio accepts)', () => {
    assert.equal(ok('m=>db_url=sqlite://x.db;table_name=t;mt_mode=round_robin').mt_mode, 'round_robin');
  });
});

describe('capture_mode: tolerated superset', () => {
  const expected = { name: 'm', db_url: 'sqlite://x.db', table_name: ['a', 'b'], mt_mode: 'hash', hash_source: 'to_user' };
  test('parameters in any order, hash_source first or in the middle (Kamailio: only last)', () => {
    assert.deepEqual(ok('m=>hash_source=to_user;mt_mode=hash;table_name=a|b;db_url=sqlite://x.db'), expected);
    assert.deepEqual(ok('m=>db_url=sqlite://x.db;hash_source=to_user;mt_mode=hash;table_name=a|b'), expected);
  });
  test('hash_source in any case', () => {
    assert.equal(ok('m=>db_url=sqlite://x.db;table_name=a;mt_mode=hash;hash_source=CALL_ID').hash_source, 'call_id');
    assert.equal(ok('m=>db_url=sqlite://x.db;table_name=a;mt_mode=hash;hash_source=From_User').hash_source, 'from_user');
  });
  test('whitespace around the name, =>, names, = and values', () => {
    assert.deepEqual(ok('  \tm  => db_url = sqlite://x.db ;\n table_name = a | b ; mt_mode=hash ; hash_source=to_user ;  '), expected);
  });
  test('table lists: split on | and whitespace, empties dropped', () => {
    assert.deepEqual(ok('m=>db_url=sqlite://x;table_name=a||b|;mt_mode=rand').table_name, ['a', 'b']);
    assert.deepEqual(ok('m=>db_url=sqlite://x;table_name=a b\tc;mt_mode=rand').table_name, ['a', 'b', 'c']);
    assert.deepEqual(ok('m=>db_url=sqlite://x;table_name=calls_%Y%m%d;mt_mode=rand').table_name, ['calls_%Y%m%d']);
  });
  test('quoted values, ";" inside quotes', () => {
    assert.equal(ok(`m=>db_url="postgres://u:p;w@h/db";table_name='a|b';mt_mode="rand"`).db_url, 'postgres://u:p;w@h/db');
  });
  test('empty segments', () => {
    assert.equal(ok('m=>;;db_url=sqlite://x;;table_name=a;mt_mode=rand;;').name, 'm');
  });
});

describe('capture_mode: errors', () => {
  test('missing "=>" reports the offset like Kamailio (x9=db_url=… at 3)', () => {
    assert.deepEqual(bad('x9=db_url=sqlite://x;table_name=a;mt_mode=rand'), ['expected "=>" after the mode name "x9" at offset 3, found "d"']);
    assert.match(bad('x9 db_url=a')[0]!, /at offset 3, found "d"/);
    assert.match(bad('x9= >db_url=a')[0]!, /at offset 3, found " "/);
    assert.match(bad('x9')[0]!, /at offset 2, found the end of the text/);
  });
  test('missing name', () => {
    assert.match(bad('=>db_url=x')[0]!, /mode name is missing at offset 0/);
    assert.match(bad('   ')[0]!, /mode name is missing at offset 3/);
  });
  test('bad characters in the name', () => {
    assert.match(bad('a/b=>db_url=x')[0]!, /character "\/" at offset 1 is not allowed in a mode name/);
  });
  test('"default" is reserved', () => {
    assert.match(bad('default=>db_url=sqlite://x;table_name=a;mt_mode=rand').join(), /reserved/);
  });
  test('required parameters, as in Kamailio', () => {
    assert.deepEqual(bad('m=>table_name=a;mt_mode=rand'), ['db_url is not set (required, as in Kamailio)']);
    assert.match(bad('m=>db_url=sqlite://x;mt_mode=rand').join(), /table_name is not set/);
    assert.match(bad('m=>db_url=sqlite://x;table_name=a').join(), /mt_mode is not set/);
    assert.match(bad('m=>db_url=sqlite://x;table_name=|;mt_mode=rand').join(), /table_name is not set/);
    assert.equal(bad('m=>').length, 3);
  });
  test('mt_mode is case-sensitive (HASH is rejected, as in Kamailio)', () => {
    assert.deepEqual(bad('m=>db_url=sqlite://x;table_name=a;mt_mode=HASH'), [
      'mt_mode at offset 42: "HASH" is not allowed (allowed: rand, round_robin, hash) — mt_mode is case-sensitive, as in Kamailio: use hash',
    ]);
  });
  test('bad hash_source', () => {
    assert.match(bad('m=>db_url=sqlite://x;table_name=a;mt_mode=hash;hash_source=callid').join(), /hash_source at offset 59: "callid" is not allowed .* did you mean call_id\?/);
  });
  test('unknown parameter: an error with a suggestion (Kamailio ignores it)', () => {
    const p = bad('m=>db_url=sqlite://x;tabel_name=a;mt_mode=rand');
    assert.match(p[0]!, /^unknown parameter "tabel_name" at offset 21 — did you mean table_name\? .*Kamailio ignores unknown names silently/);
    assert.match(p[1]!, /table_name is not set/);
  });
  test('a parameter given twice', () => {
    assert.match(bad('m=>db_url=sqlite://x;table_name=a;mt_mode=rand;mt_mode=hash').join(), /"mt_mode" is given twice \(again at offset 47\)/);
  });
  test('syntax errors stop with an offset', () => {
    assert.match(bad('m=>db_url')[0]!, /expected "=" after the parameter name "db_url" at offset 9/);
    assert.match(bad('m=>=x')[0]!, /expected a parameter name at offset 3, found "="/);
    assert.match(bad('m=>db_url="sqlite://x')[0]!, /quote opened at offset 10 is never closed/);
    assert.match(bad('m=>db_url="sqlite://x" y;table_name=a')[0]!, /expected ";" after the quoted value of "db_url" at offset 23/);
  });
  test('db_url scheme and table names are checked', () => {
    assert.match(bad('m=>db_url=text:///tmp/db;table_name=a;mt_mode=rand').join(), /db_url at offset 10 uses the scheme "text"/);
    assert.match(bad('m=>db_url=sqlite://x;table_name=a-b;mt_mode=rand').join(), /"a-b": character "-"/);
  });
  test('several problems are reported together', () => {
    assert.equal(bad('m=>db_url=foo://x;table_name=a%;mt_mode=Rand;hash_source=x').length, 4);
  });
});

describe('capture_mode in the configuration', () => {
  test('a single string or an array; modes are in captureModes after default', () => {
    const one = valid({ capture_mode: 'a=>db_url=sqlite://a.db;table_name=t;mt_mode=rand' });
    assert.deepEqual([...one.captureModes.keys()], ['default', 'a']);
    assert.deepEqual(one.capture_mode, ['a=>db_url=sqlite://a.db;table_name=t;mt_mode=rand']);
    const two = valid({
      capture_mode: ['a=>db_url=sqlite://a.db;table_name=t;mt_mode=rand', 'b=>db_url=postgres://u:p@h/db;table_name=x|y;mt_mode=round_robin;'],
    });
    assert.deepEqual([...two.captureModes.keys()], ['default', 'a', 'b']);
    assert.equal(two.captureModes.get('a')!.db_url, 'sqlite:///tmp/a.db', 'sqlite paths are resolved against the config folder');
    assert.equal(two.captureModes.get('b')!.db_url, 'postgres://u:p@h/db');
  });
  test('errors name the key, the value (password masked, same length) and the offset', () => {
    const p = oneProblem(
      { capture_mode: ['a=>db_url=sqlite://a.db;table_name=t;mt_mode=rand', 'b=>db_url=mysql://u:secret@h/db;table_name=t;mt_mode=hsh'] },
      'capture_mode[1]: "b=>db_url=mysql://u:******@h/db;table_name=t;mt_mode=hsh": mt_mode at offset 53: "hsh"',
    );
    assert.ok(!p.includes('secret'));
    const ps = problems({ capture_mode: 'b=>db_url=mysql://u:secret@h/db;mt_mode=hsh' });
    assert.equal(ps.length, 2);
    assert.ok(ps.every((x) => x.startsWith('capture_mode: ')));
    assert.match(ps[1]!, /mt_mode at offset 40: "hsh" is not allowed .*did you mean hash\?/);
  });
  test('duplicate mode names are an error (Kamailio keeps the last)', () => {
    oneProblem(
      { capture_mode: ['a=>db_url=sqlite://a.db;table_name=t;mt_mode=rand', 'a=>db_url=sqlite://b.db;table_name=t;mt_mode=rand'] },
      'capture_mode[1]:',
      'already defined by capture_mode[0]',
    );
  });
  test('wrong types', () => {
    oneProblem({ capture_mode: 5 }, 'capture_mode: 5 is an integer; expected a string or an array of strings');
    oneProblem({ capture_mode: ['a', 1] }, 'expected a string or an array of strings');
  });
});
