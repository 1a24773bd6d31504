import { test } from 'node:test';
import assert from 'node:assert/strict';
import { destinationOf } from '../../src/config/db-url.js';

test('destinationOf: where the rows go, without secrets, in one normal form', () => {
  const same = ['postgres://u:pw@DB.example:5432/capture', 'postgresql://u:other@db.example/capture', 'POSTGRES://u@db.example:5432/capture'];
  for (const url of same) assert.equal(destinationOf(url), 'postgres://u@db.example:5432/capture', url);
  assert.equal(destinationOf('mysql://root:x@127.0.0.1/homer'), 'mysql://root@127.0.0.1:3306/homer');
  assert.equal(destinationOf('sqlite:///var/lib/sipcapture/x.sqlite'), 'sqlite:///var/lib/sipcapture/x.sqlite');
  // Another database, server, port, user or schema is another destination.
  for (const other of ['postgres://u@db.example/other', 'postgres://u@db2.example/capture', 'postgres://u@db.example:5433/capture', 'postgres://v@db.example/capture']) {
    assert.notEqual(destinationOf(other), destinationOf(same[0]!), other);
  }
  const withSchema = destinationOf('postgres://u:pw@h/db?options=-c%20search_path%3Ds1&password=zz');
  assert.match(withSchema, /search_path%3Ds1/);
  assert.doesNotMatch(withSchema, /zz|pw/);
});
