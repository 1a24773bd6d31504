import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALLOWED_STRFTIME_LETTERS,
  checkTableTemplate,
  maxExpandedLength,
  splitTableList,
  STRFTIME_CONVERSIONS,
  TABLE_NAME_MAX_LENGTH,
} from '../../src/config/table-template.js';
import { oneProblem, valid } from './helpers.js';

describe('table templates', () => {
  test('the allowed conversions', () => {
    assert.deepEqual([...ALLOWED_STRFTIME_LETTERS].sort(), ['C', 'G', 'H', 'I', 'M', 'S', 'U', 'V', 'W', 'Y', 'd', 'g', 'j', 'm', 's', 'u', 'w', 'y']);
    for (const l of ALLOWED_STRFTIME_LETTERS) assert.equal(checkTableTemplate(`t_%${l}`), undefined, l);
    assert.equal(STRFTIME_CONVERSIONS.Y!.width, 4);
  });
  test('Homer names are valid', () => {
    for (const t of ['sip_capture', 'sip_capture_call_%Y%m%d', 'sip_capture_rest_%Y%m%d_%H', 'T2', '_x']) assert.equal(checkTableTemplate(t), undefined, t);
  });
  test('refused conversions explain why', () => {
    assert.match(checkTableTemplate('t_%e')!, /"%e" pads with a space; use "%d" \(at offset 2; allowed: %Y/);
    assert.match(checkTableTemplate('t_%%')!, /"%%" yields "%"/);
    assert.match(checkTableTemplate('t_%F')!, /"%F" yields "-"/);
    assert.match(checkTableTemplate('t_%b')!, /"%b" is not an allowed strftime conversion/);
    assert.match(checkTableTemplate('t_%')!, /lone "%" \(at offset 2\)/);
  });
  test('characters outside A-Z a-z 0-9 _', () => {
    for (const t of ['a-b', 'a b', 'a.b', 'a;drop', 'tä', 'x"']) assert.match(checkTableTemplate(t)!, /is not allowed/, t);
    assert.equal(checkTableTemplate(''), 'a table name must not be empty');
    assert.match(checkTableTemplate('%Y_calls')!, /must start with a letter or "_" \(found "%"\)/);
    assert.match(checkTableTemplate('2024')!, /must start with a letter or "_"/);
  });
  test('expanded length ≤ 63', () => {
    assert.equal(maxExpandedLength('sip_%Y%m%d'), 12);
    assert.equal(maxExpandedLength('x%s'), 11);
    assert.equal(checkTableTemplate('x'.repeat(TABLE_NAME_MAX_LENGTH)), undefined);
    assert.match(checkTableTemplate('x'.repeat(56) + '%Y%m%d')!, /expands to up to 64 characters, more than 63/);
  });
  test('lists split on | and whitespace, empties dropped', () => {
    assert.deepEqual(splitTableList('a|b'), ['a', 'b']);
    assert.deepEqual(splitTableList('a||b|'), ['a', 'b']);
    assert.deepEqual(splitTableList(' a | b\tc '), ['a', 'b', 'c']);
    assert.deepEqual(splitTableList(''), []);
  });
  test('table_name in the configuration', () => {
    assert.deepEqual(valid({ table_name: 'homer_capture1|homer_capture2' }).captureModes.get('default')!.table_name, ['homer_capture1', 'homer_capture2']);
    oneProblem({ table_name: 'sip-capture' }, 'table_name: "sip-capture": character "-" at offset 3 is not allowed');
    oneProblem({ table_name: 'ok|bad-1' }, 'table_name: "ok|bad-1": "bad-1": character "-"');
  });
});
