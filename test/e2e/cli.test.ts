/**
 * The `sipcapture` command as an operator runs it: --version, check-config on good and bad
 * files, and `run` receiving HEP then draining its queue into SQLite on SIGTERM.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { encodeHep } from '../../src/hep/encode.js';
import { PROJECT_ROOT } from '../helpers/env.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { freePort, sendUdp, waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';

describe('sipcapture CLI', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sipcapture-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  test('check-config accepts the shipped config and prints every parameter', async () => {
    const r = await runCli(['check-config', '-c', 'config/sipcapture.json5']);
    assert.equal(r.code, 0, r.stderr);
    const shown = JSON.parse(r.stdout) as { parameters: Record<string, unknown> };
    assert.equal(shown.parameters['capture_node'], 'homer01');
    assert.equal(shown.parameters['insert_retry_timeout'], 60);
    assert.match(String(shown.parameters['db_url']), /^sqlite:\/\/\/.+var\/sipcapture\.sqlite$/);
  });

  test('check-config rejects a bad config naming each key, value and what is allowed', async () => {
    const file = path.join(dir, 'bad.json5');
    writeFileSync(file, '{ insert_retries: 900, tabel_name: "x", mt_mode: "HASH", db_url: "sqlite://x.sqlite" }');
    const r = await runCli(['check-config', '-c', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /insert_retries: 900 .*0\.\.500/);
    assert.match(r.stderr, /tabel_name: .*did you mean table_name/);
    assert.match(r.stderr, /mt_mode: .*HASH/);
  });

  test('check-config marks the parameters the file sets, and --quiet prints nothing for a valid config', async () => {
    const r = await runCli(['check-config', '-c', 'config/sipcapture.json5']);
    const shown = JSON.parse(r.stdout) as { set_in_file: string[] };
    assert.ok(shown.set_in_file.includes('db_url') && shown.set_in_file.includes('routes'), r.stdout);
    assert.ok(!shown.set_in_file.includes('batch_size'), 'a default is not marked');
    const quiet = await runCli(['check-config', '--quiet', '-c', 'config/sipcapture.json5']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stdout, '');
  });

  test('check-config with a 1 MB value answers in seconds (password masking is linear)', async () => {
    const file = path.join(dir, 'huge.json5');
    writeFileSync(file, JSON.stringify({ db_url: 'sqlite://x.sqlite', capture_node: 'a'.repeat(1_000_000), table_name: `mysql://u:${'p'.repeat(1_000_000)}` }));
    const started = Date.now();
    const r = await runCli(['check-config', '-c', file], 20_000);
    const elapsed = Date.now() - started;
    assert.ok(r.code !== null, 'exited');
    assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
  });

  test('a raw "#" or "@" in a db_url password: the message says to percent-encode and shows none of it', async () => {
    const file = path.join(dir, 'rawpw.json5');
    writeFileSync(file, JSON.stringify({ db_url: 'postgres://capture:s3cr#t@pa55@db.example.com/homer' }));
    const r = await runCli(['check-config', '-c', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /db_url: .*raw "@" and "#" in its user name or password.*percent-encode/);
    for (const part of ['s3cr', 't@pa55', 'pa55', '#t']) assert.ok(!r.stderr.includes(part), `"${part}" shown: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /no database name/);
  });

  test('check-config refuses what run refuses: a listen IP not on the host, an unusable spool_dir, a hook that does not parse', async () => {
    const notADir = path.join(dir, 'plain-file');
    writeFileSync(notADir, '');
    const hook = path.join(dir, 'broken-hook.mjs');
    writeFileSync(hook, 'export function h( { return 1 }\n');
    const file = path.join(dir, 'host.json5');
    writeFileSync(
      file,
      JSON.stringify({ db_url: `sqlite://${path.join(dir, 'nodir', 'x.sqlite')}`, listen: ['udp:192.0.2.77:9060'], http_listen: '', rpc_socket: '', spool_dir: path.join(notADir, 'spool'), nonsip_hook: 1, event_callback: 'h', hook_module: hook }),
    );
    for (const command of ['check-config', 'run']) {
      const r = await runCli([command, '-c', file]);
      assert.equal(r.code, 2, `${command}: ${r.stderr}`);
      assert.match(r.stderr, /4 configuration problems/);
      assert.match(r.stderr, /listen: "udp:192\.0\.2\.77:9060": 192\.0\.2\.77 is not an address of this host/);
      assert.match(r.stderr, /spool_dir: .* is not a directory/);
      assert.match(r.stderr, /db_url: the SQLite file .*nodir.* does not exist/);
      assert.match(r.stderr, /hook_module: .*broken-hook\.mjs does not parse: SyntaxError/);
    }
  });

  test('run stores HEP and drains its queue on SIGTERM, exiting 0', async () => {
    const port = await freePort();
    const dbFile = path.join(dir, 'run.sqlite');
    const file = path.join(dir, 'run.json5');
    // A long batch timeout: rows are still queued when SIGTERM arrives, so only the drain stores them.
    writeFileSync(
      file,
      JSON.stringify({
        db_url: `sqlite://${dbFile}`,
        capture_on: 1,
        hep_capture_on: 1,
        listen: [`udp:127.0.0.1:${port}`],
        batch_timeout_ms: 1000,
        batch_size: 100000,
        log_level: 'info',
        http_listen: '', // no control port: test files may run in parallel
      }),
    );
    const child = spawnCli(['run', '-c', file]);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      assert.ok(await waitFor(() => out.includes('sipcapture running'), 15_000), `daemon did not start:\n${out}`);
      const packets = Array.from({ length: 50 }, (_, i) =>
        encodeHep({
          version: 3,
          srcIp: '192.0.2.1',
          dstIp: '192.0.2.2',
          srcPort: 5060,
          dstPort: 5060,
          tsSec: 1795348800,
          captureId: 3,
          payload: sipRequest('OPTIONS', `cli-${i}@x`).text,
        }),
      );
      await sendUdp(packets, port);
      await new Promise((r) => setTimeout(r, 100)); // let the datagrams be read, not flushed
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out);
    } finally {
      child.kill('SIGKILL');
    }
    const db = new Database(dbFile, { readonly: true });
    try {
      const row = db.prepare('SELECT count(*) AS n FROM sip_capture').get() as { n: number };
      assert.equal(row.n, 50);
    } finally {
      db.close();
    }
  });
});
