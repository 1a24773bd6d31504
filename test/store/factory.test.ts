import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { dbUrlKind, maskPasswords } from '../../src/config/db-url.js';
import { createStore, loadBackendFactory } from '../../src/store/factory.js';

describe('createStore', () => {
  test('sqlite URLs give a SqliteStore', async () => {
    const store = await createStore('sqlite://:memory:', { dbInsertMode: 0 });
    assert.equal(store.backend, 'sqlite');
    assert.equal(store.displayUrl, 'sqlite://:memory:');
    await store.ensureTable('sip_capture', 'sip');
    await store.close();
  });

  test('unsupported schemes are named in the error, password masked', async () => {
    await assert.rejects(createStore('mongodb://u:secret@h/db'), (err: unknown) => {
      const m = (err as Error).message;
      assert.match(m, /unsupported db_url mongodb:\/\/u:\*\*\*@h\/db/);
      assert.match(m, /allowed sqlite:\/\/PATH, postgres:\/\/.*postgresql:\/\/.*mysql:\/\//);
      assert.doesNotMatch(m, /secret/);
      return true;
    });
    await assert.rejects(createStore('no-scheme'), /unsupported db_url/);
  });

  test('a backend module that is missing gives a clear error', async () => {
    await assert.rejects(loadBackendFactory('mysql', './nonexistent/index.js', 'createMysqlStore', 'mysql://u:pw@h/db'), (err: unknown) => {
      assert.match((err as Error).message, /the mysql backend is not available in this build \(\.\/nonexistent\/index\.js is missing\) for mysql:\/\/u:\*\*\*@h\/db/);
      return true;
    });
    await assert.rejects(loadBackendFactory('sqlite', './sqlite/index.js', 'nope'), /does not export nope\(\)/);
  });

  test('one way from a URL to its backend, one masker for its password', () => {
    assert.equal(dbUrlKind('PostgreSQL://x'), 'postgres');
    assert.equal(dbUrlKind('postgresql://x'), 'postgres');
    assert.equal(dbUrlKind('sqlite:///a'), 'sqlite');
    assert.equal(dbUrlKind('/path'), undefined);
    assert.equal(maskPasswords('mysql://homer:p%40ss@db:3306/homer_data'), 'mysql://homer:***@db:3306/homer_data');
    assert.equal(maskPasswords('postgres://homer@db/homer'), 'postgres://homer@db/homer');
    assert.equal(maskPasswords('sqlite:///var/lib/x.sqlite'), 'sqlite:///var/lib/x.sqlite');
  });
});
