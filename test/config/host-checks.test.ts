/**
 * hostProblems: what `run` would trip over on this host is refused by check-config too, with the
 * key and the reason — real sockets, directories and a read-only file system (root only).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { hostProblems } from '../../src/config/host-checks.js';
import { startDaemon } from '../../src/daemon.js';
import { validateConfig } from '../../src/config/load.js';
import { makeTmpDir } from '../helpers/daemon.js';
import { requireOrSkip } from '../helpers/env.js';

const dir = makeTmpDir('sipcapture-hostchecks-');
after(() => rmSync(dir, { recursive: true, force: true }));

function problems(overrides: Record<string, unknown>): Promise<string[]> {
  const cfg = validateConfig(
    { db_url: `sqlite://${path.join(dir, 'x.sqlite')}`, listen: ['udp:127.0.0.1:9060'], http_listen: '', rpc_socket: '', spool_dir: path.join(dir, 'spool'), ...overrides },
    path.join(dir, 'c.json5'),
  );
  return hostProblems(cfg).then((ps) => ps.map((p) => `${p.key}: ${p.message}`));
}

describe('hostProblems', () => {
  test('a usable config has none', async () => {
    assert.deepEqual(await problems({}), []);
  });

  test('a listen IP that is not on the host; a port already taken is not a problem (the daemon may be running)', async () => {
    assert.deepEqual(await problems({ listen: ['udp:192.0.2.123:9060', 'tcp:192.0.2.124:9060'], http_listen: '192.0.2.125:9061' }), [
      'listen: "udp:192.0.2.123:9060": 192.0.2.123 is not an address of this host (EADDRNOTAVAIL); use one of its addresses, or 0.0.0.0 / :: for all',
      'listen: "tcp:192.0.2.124:9060": 192.0.2.124 is not an address of this host (EADDRNOTAVAIL); use one of its addresses, or 0.0.0.0 / :: for all',
      'http_listen: "192.0.2.125:9061": 192.0.2.125 is not an address of this host (EADDRNOTAVAIL); use one of its addresses, or 0.0.0.0 / :: for all',
    ]);
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      assert.deepEqual(await problems({ listen: [`tcp:127.0.0.1:${port}`] }), []);
    } finally {
      busy.close();
    }
  });

  test('a spool_dir under a file', async () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, '');
    assert.deepEqual(await problems({ spool_dir: path.join(file, 'spool') }), [`spool_dir: "${path.join(file, 'spool')}": ${file} is not a directory`]);
    assert.deepEqual(await problems({ spool_dir: file }), [`spool_dir: "${file}": is not a directory`]);
    assert.deepEqual(await problems({ spool_dir: file, spool_max_bytes: 0 }), [], 'no spool, no check');
  });

  test('a sqlite file or rpc_socket in a directory that does not exist is refused, and nothing is created', async () => {
    const missing = path.join(dir, 'missing');
    assert.deepEqual(await problems({ db_url: `sqlite://${path.join(missing, 'a', 'x.sqlite')}`, rpc_socket: path.join(missing, 'b', 'x.sock') }), [
      `db_url: the SQLite file ${path.join(missing, 'a', 'x.sqlite')}: the directory ${path.join(missing, 'a')} does not exist (create it; sipcapture does not create directories for it)`,
      `rpc_socket: "${path.join(missing, 'b', 'x.sock')}": the directory ${path.join(missing, 'b')} does not exist (create it; sipcapture does not create directories for it)`,
    ]);
    assert.equal(existsSync(missing), false);
  });

  test('a hook module with a syntax error, named with its line', async () => {
    const mod = path.join(dir, 'broken.mjs');
    writeFileSync(mod, 'export function h(e, hep) {\n  return 1 1;\n}\n');
    assert.deepEqual(await problems({ nonsip_hook: 1, event_callback: 'h', hook_module: mod }), [
      `hook_module: ${mod} does not parse: SyntaxError: Unexpected number (at ${mod}:2)`,
    ]);
  });

  const isRoot = process.getuid?.() === 0;
  test('a spool_dir on a read-only file system says EROFS', { skip: requireOrSkip(isRoot, 'root (to mount a read-only tmpfs)') }, async () => {
    const ro = path.join(dir, 'ro');
    mkdirSync(ro);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]);
    assert.equal(mounted.status, 0, String(mounted.stderr));
    try {
      assert.deepEqual(await problems({ spool_dir: path.join(ro, 'spool') }), [
        `spool_dir: "${path.join(ro, 'spool')}": ${ro}, where it would be created, is on a read-only file system (EROFS)`,
      ]);
    } finally {
      spawnSync('umount', [ro]);
    }
  });
});

describe('a read-only spool file system at run time', () => {
  const isRoot = process.getuid?.() === 0;
  test('start-up names spool_dir and says EROFS, not ENOENT', { skip: requireOrSkip(isRoot, 'root (to mount a read-only tmpfs)') }, async () => {
    const ro = path.join(dir, 'ro-run');
    mkdirSync(ro);
    assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]).status, 0);
    try {
      const cfg = validateConfig(
        { db_url: `sqlite://${path.join(dir, 'y.sqlite')}`, listen: [], http_listen: '', rpc_socket: '', spool_dir: path.join(ro, 'spool') },
        path.join(dir, 'c.json5'),
      );
      await assert.rejects(startDaemon(cfg, pino({ level: 'silent' }), { processMetrics: false }), (err: Error) => {
        assert.equal(err.message, `spool_dir ${path.join(ro, 'spool')}: ${ro}, where it would be created, is on a read-only file system (EROFS)`);
        return true;
      });
    } finally {
      spawnSync('umount', [ro]);
    }
  });
});
