import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { assertValidTableName, isValidTableName, tableNameProblem } from '../../src/route/table-name.js';

describe('table name validation', () => {
  test('accepts Homer names and 63-character names', () => {
    for (const ok of ['sip_capture', 'sip_capture_call_20261122', '_x', 'A', 'rtcp_capture', 'a'.repeat(63), 'T1_2']) {
      assert.equal(isValidTableName(ok), true, ok);
      assert.equal(tableNameProblem(ok), undefined);
    }
  });

  test('rejects injection attempts and anything that is not a bare identifier', () => {
    const bad = [
      '',
      'a'.repeat(64),
      '1table',
      'sip_capture; DROP TABLE users',
      'sip_capture--',
      'x"y',
      'x`y',
      "x'y",
      'a b',
      'a\tb',
      'a\0b',
      'sip_capture_call_ 1',
      'x%',
      'public.sip_capture',
      'tëst',
      'x\ny',
      'x)',
      '[x]',
    ];
    for (const name of bad) {
      assert.equal(isValidTableName(name), false, JSON.stringify(name));
      assert.equal(typeof tableNameProblem(name), 'string');
      assert.throws(() => assertValidTableName(name), TypeError);
    }
  });

  test('problem texts say why', () => {
    assert.match(tableNameProblem('') ?? '', /empty/);
    assert.match(tableNameProblem('a'.repeat(70)) ?? '', /70 characters/);
    assert.match(tableNameProblem('9a') ?? '', /digit/);
    assert.match(tableNameProblem('a;b') ?? '', /characters other than/);
  });
});
