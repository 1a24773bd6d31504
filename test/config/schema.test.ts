// The `schema` key and `;schema=homer7` in capture_mode: HOMER 7 is PostgreSQL only, one schema
// per database URL, and its own keys are checked; check-config refuses what run would.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { oneProblem, problems, valid } from './helpers.js';
import { makeTmpDir } from '../helpers/daemon.js';
import { runCli } from '../helpers/cli.js';

const PG = 'postgres://u@127.0.0.1/db';

describe('schema', () => {
  test('homer5 by default; homer7 for the default mode and in a capture_mode string', () => {
    assert.equal(valid().captureModes.get('default')!.schema, undefined);
    assert.equal(valid({ db_url: PG, schema: 'homer7' }).captureModes.get('default')!.schema, 'homer7');
    const c = valid({ capture_mode: [`h7=>db_url=${PG};schema=homer7`], routes: [{ capture_mode: 'h7' }] });
    const m = c.captureModes.get('h7')!;
    assert.equal(m.schema, 'homer7');
    assert.deepEqual(m.table_name, ['hep_proto']); // table_name and mt_mode are optional for homer7
  });

  test('homer7 needs PostgreSQL, saying why', () => {
    oneProblem({ schema: 'homer7' }, /^schema: /, 'needs a postgres:// db_url', 'homer-app reads HOMER 7 tables from PostgreSQL only');
    const ps = problems({ capture_mode: ['h7=>db_url=mysql://u@h/d;schema=homer7'], routes: [{ capture_mode: 'h7' }] });
    assert.equal(ps.length, 1);
    assert.match(ps[0]!, /^capture_mode\[0\]: .*capture mode h7 needs a postgres:\/\/ db_url/);
  });

  test('one database URL has one schema', () => {
    oneProblem({ db_url: PG, capture_mode: [`h7=>db_url=${PG};schema=homer7`] }, 'capture_mode[0]:', 'writes homer7 but mode default writes homer5 to the same db_url');
  });

  test('bad values name the key, the value and what is allowed', () => {
    oneProblem({ db_url: PG, schema: 'homer6' }, 'schema:', 'homer5', 'homer7');
    const ps = problems({ capture_mode: [`h7=>db_url=${PG};schema=homer8`] });
    assert.ok(ps.some((p) => /schema at offset \d+: "homer8" is not allowed \(allowed: homer5, homer7\)/.test(p)), ps.join('\n'));
    oneProblem({ homer7_data_header: ['from_user', 'x_custom'] }, 'homer7_data_header:', '"x_custom"', 'allowed: ruri_user');
    oneProblem({ homer7_data_header: ['from_user', 'from_user'] }, 'homer7_data_header:', 'twice');
    oneProblem({ homer7_partition_minutes: 50 }, 'homer7_partition_minutes:', 'does not divide 1440');
  });

  test('check-config refuses homer7 on SQLite like run does', async () => {
    const dir = makeTmpDir('sipcapture-schema-');
    const file = path.join(dir, 'c.json5');
    writeFileSync(file, JSON.stringify({ db_url: 'sqlite://x.sqlite', schema: 'homer7' }));
    const r = await runCli(['check-config', '-c', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /schema: .*needs a postgres/);
  });
});
