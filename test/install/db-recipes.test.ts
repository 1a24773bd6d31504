/**
 * The database recipes of docs/operations.md ("Creating the database and its user") give the
 * user every right the daemon needs: the SQL blocks are run as written (names made unique), then
 * `sipcapture db init` and a daemon store rows as that user. And `db init` on a database that
 * does not exist says what to do.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { PROJECT_ROOT } from '../helpers/env.js';
import { runCli } from '../helpers/cli.js';
import { MYSQL_URL, PG_URL, RUN, skipReason } from '../store/postgres/helpers.js';
import { makeTmpDir, startTestDaemon } from '../helpers/daemon.js';
import { encodeHep } from '../../src/hep/encode.js';
import { sendUdp, waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';

/** The SQL statements of the recipe marked `<!-- name -->`, names made unique for this run. */
function recipe(name: string, db: string, user: string, password: string): string[] {
  const doc = readFileSync(path.join(PROJECT_ROOT, 'docs', 'operations.md'), 'utf8');
  const m = new RegExp(`<!-- ${name} -->\\s*\`\`\`sql\\n([\\s\\S]*?)\`\`\``).exec(doc);
  assert.ok(m, `docs/operations.md has the ${name} block`);
  return (m[1] ?? '')
    .replaceAll('homer_data', db)
    .replaceAll("'secret'", `'${password}'`)
    .replace(/\bsipcapture\b/g, user)
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Stores a few SIP messages through a daemon on `dbUrl` and returns the rows it counted stored. */
async function storeThrough(dbUrl: string): Promise<number> {
  const t = await startTestDaemon({ db_url: dbUrl, routes: 'homer5', http_listen: '' });
  try {
    const packets = Array.from({ length: 5 }, (_, i) =>
      encodeHep({ version: 3, srcIp: '192.0.2.1', dstIp: '192.0.2.2', srcPort: 5060, dstPort: 5060, tsSec: Math.floor(Date.now() / 1000), captureId: 3, payload: sipRequest('INVITE', `recipe-${RUN}-${i}`).text }),
    );
    await sendUdp(packets, t.port);
    const stored = (): number => Object.values(t.daemon.stats.snapshot().stored).reduce((a, b) => a + b, 0);
    assert.ok(await waitFor(() => stored() === 5, 15_000), t.logs.join(''));
    return stored();
  } finally {
    await t.close();
  }
}

describe('database recipes of docs/operations.md', () => {
  const password = `pw${RUN}`;
  let dir = '';
  before(() => (dir = makeTmpDir('sipcapture-recipes-')));

  describe('PostgreSQL', async () => {
    const skip = await skipReason('postgres');
    const db = `hinstall_recipe_${RUN}`;
    const user = `hinstall_user_${RUN}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    before(async () => {
      if (skip === undefined) await admin.connect();
    });
    after(async () => {
      if (skip !== undefined) return;
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [db]);
      await admin.query(`DROP DATABASE IF EXISTS ${db}`);
      await admin.query(`DROP ROLE IF EXISTS ${user}`);
      await admin.end();
    });

    test('db init on a database that does not exist says to create it, with the recipe', { skip }, async () => {
      const file = path.join(dir, 'pg-missing.json5');
      const u = new URL(PG_URL);
      writeFileSync(file, JSON.stringify({ db_url: `postgres://${u.username}@${u.host}/${db}`, rpc_socket: '' }));
      const r = await runCli(['db', 'init', '-c', file]);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /does not exist\n {2}the database does not exist: create it .*docs\/operations\.md, "Creating the database and its user"/);
    });

    test('the recipe, then db init and a daemon as that user', { skip }, async () => {
      for (const statement of recipe('recipe-postgres', db, user, password)) await admin.query(statement);
      const u = new URL(PG_URL);
      const dbUrl = `postgres://${user}:${password}@${u.host}/${db}`;
      const file = path.join(dir, 'pg.json5');
      writeFileSync(file, JSON.stringify({ db_url: dbUrl, routes: 'homer5', rpc_socket: '' }));
      const init = await runCli(['db', 'init', '-c', file]);
      assert.equal(init.code, 0, init.stdout + init.stderr);
      assert.equal(await storeThrough(dbUrl), 5);
    });
  });

  describe('MariaDB', async () => {
    const skip = await skipReason('mysql');
    const db = `hinstall_recipe_${RUN}`;
    const user = `hi_${RUN}`.slice(0, 32);
    let admin: mysql.Connection | null = null;
    before(async () => {
      if (skip === undefined) admin = await mysql.createConnection(MYSQL_URL);
    });
    after(async () => {
      if (admin === null) return;
      await admin.query(`DROP DATABASE IF EXISTS ${db}`);
      await admin.query(`DROP USER IF EXISTS '${user}'@'localhost', '${user}'@'127.0.0.1'`);
      await admin.end();
    });

    test('db init on a database that does not exist says to create it', { skip }, async () => {
      const file = path.join(dir, 'my-missing.json5');
      const u = new URL(MYSQL_URL);
      writeFileSync(file, JSON.stringify({ db_url: `mysql://${u.username}@${u.host}/${db}_missing`, rpc_socket: '' }));
      const r = await runCli(['db', 'init', '-c', file]);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /the database does not exist: create it/);
    });

    test('the recipe, then db init and a daemon as that user', { skip }, async () => {
      for (const statement of recipe('recipe-mariadb', db, user, password)) await admin?.query(statement);
      const u = new URL(MYSQL_URL);
      const dbUrl = `mysql://${user}:${password}@${u.hostname === 'localhost' ? '127.0.0.1' : u.hostname}:${u.port || '3306'}/${db}`;
      const file = path.join(dir, 'my.json5');
      writeFileSync(file, JSON.stringify({ db_url: dbUrl, routes: 'homer5', rpc_socket: '' }));
      const init = await runCli(['db', 'init', '-c', file]);
      assert.equal(init.code, 0, init.stdout + init.stderr);
      assert.equal(await storeThrough(dbUrl), 5);
    });
  });
});
