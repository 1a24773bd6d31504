/**
 * config/sipcapture.service: systemd accepts it, it is hardened (no capabilities unless the
 * raw-capture drop-in is used), and the config docs/operations.md tells operators to install
 * with it is valid.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import JSON5 from 'json5';
import { validateConfig } from '../../src/config/load.js';
import { PROJECT_ROOT, requireOrSkip } from '../helpers/env.js';
import { makeTmpDir } from './helpers.js';

const UNIT = path.join(PROJECT_ROOT, 'config', 'sipcapture.service');
const hasSystemd = spawnSync('systemd-analyze', ['--version']).status === 0;

function directives(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const d = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (d === null || line.trim().startsWith('#')) continue;
    m.set(d[1] ?? '', [...(m.get(d[1] ?? '') ?? []), d[2] ?? '']);
  }
  return m;
}

describe('config/sipcapture.service', () => {
  test('runs unprivileged, with reload, restart and a stop timeout above the drain deadline', () => {
    const d = directives(readFileSync(UNIT, 'utf8'));
    assert.deepEqual(d.get('User'), ['sipcapture']);
    assert.deepEqual(d.get('CapabilityBoundingSet'), ['']);
    assert.deepEqual(d.get('AmbientCapabilities'), ['']);
    assert.deepEqual(d.get('NoNewPrivileges'), ['yes']);
    assert.deepEqual(d.get('ProtectSystem'), ['strict']);
    assert.deepEqual(d.get('Restart'), ['on-failure']);
    assert.match(d.get('ExecReload')?.[0] ?? '', /kill -HUP \$MAINPID/);
    assert.ok(Number.parseInt(d.get('TimeoutStopSec')?.[0] ?? '0', 10) > 15, 'longer than the 15 s shutdown deadline');
    assert.equal(d.get('RestrictAddressFamilies')?.[0]?.includes('AF_PACKET'), false, 'AF_PACKET only in the raw-capture drop-in');
    // The command `npm install -g --prefix /opt/sipcapture` installs, on the /etc config; the check is quiet.
    assert.deepEqual(d.get('ExecStartPre'), ['/opt/sipcapture/bin/sipcapture check-config --quiet -c /etc/sipcapture/sipcapture.json5']);
    assert.deepEqual(d.get('ExecStart'), ['/opt/sipcapture/bin/sipcapture run -c /etc/sipcapture/sipcapture.json5']);
    assert.deepEqual([d.get('StateDirectory'), d.get('RuntimeDirectory')], [['sipcapture'], ['sipcapture']]);
  });

  test('the shipped /etc config keeps its data in the unit\'s directories and says who may send', () => {
    const file = path.join(PROJECT_ROOT, 'config', 'sipcapture.etc.json5');
    const cfg = validateConfig(JSON5.parse<unknown>(readFileSync(file, 'utf8')), '/etc/sipcapture/sipcapture.json5');
    assert.equal(cfg.captureModes.get('default')?.db_url, 'sqlite:///var/lib/sipcapture/sipcapture.sqlite');
    assert.equal(cfg.spool_dir, '/var/lib/sipcapture/spool');
    assert.equal(cfg.rpc_socket, '/run/sipcapture/sipcapture.sock');
    assert.ok(cfg.allow_sources.length > 0, 'allow_sources');
  });

  test('systemd-analyze verifies it and rates its exposure low', { skip: requireOrSkip(hasSystemd, 'systemd-analyze') }, () => {
    const dir = makeTmpDir('sipcapture-unit-');
    try {
      const copy = path.join(dir, 'sipcapture.service');
      copyFileSync(UNIT, copy);
      const verify = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
      // Only complaints about this unit matter (the host may lack /opt/sipcapture or the user).
      const own = verify.stderr
        .split('\n')
        .filter((l) => l.includes('sipcapture.service:') && !l.includes('/opt/sipcapture/bin/sipcapture is not executable: No such file'));
      assert.deepEqual(own, []);
      const security = execFileSync('systemd-analyze', ['security', '--offline=yes', copy], { encoding: 'utf8' });
      const level = /Overall exposure level for sipcapture\.service: ([0-9.]+)/.exec(security);
      assert.ok(level !== null, security.slice(-400));
      assert.ok(Number(level[1]) <= 2.5, `exposure ${level[1]}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the installation config of docs/operations.md is valid', () => {
    const doc = readFileSync(path.join(PROJECT_ROOT, 'docs', 'operations.md'), 'utf8');
    const m = /<!-- etc-config -->\s*```json5\n([\s\S]*?)```/.exec(doc);
    assert.ok(m, 'docs/operations.md has the /etc/sipcapture/sipcapture.json5 example');
    const cfg = validateConfig(JSON5.parse<unknown>(m[1] ?? ''), '/etc/sipcapture/sipcapture.json5');
    assert.equal(cfg.rpc_socket, '/run/sipcapture/sipcapture.sock');
    assert.equal(cfg.http_listen, '127.0.0.1:9061');
    // The production example says who may send.
    assert.ok(cfg.allow_sources.length > 0 && cfg.hep_auth_keys.length > 0);
  });
});
