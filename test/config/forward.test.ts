/** `forward` and routes' `forward`: what is accepted, and what is refused with the key, the value and what is allowed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { problems, valid } from './helpers.js';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { makeTmpDir } from '../helpers/daemon.js';

test('forward accepts strings and objects; names default to the address', () => {
  const cfg = valid({
    forward: ['udp:10.0.0.1:9060', { name: 'central', address: 'tcp:homer.example.net:9061', hep_types: [1, 5], methods: ['invite'], sources: ['10.0.0.0/8'], auth_key: 'k' }, 'tls:[::1]:9062'],
  });
  assert.deepEqual(
    cfg.forward.map((d) => [d.name, d.protocol, d.host, d.port]),
    [
      ['udp:10.0.0.1:9060', 'udp', '10.0.0.1', 9060],
      ['central', 'tcp', 'homer.example.net', 9061],
      ['tls:[::1]:9062', 'tls', '::1', 9062],
    ],
  );
  assert.deepEqual(cfg.forward[1]!.methods, ['INVITE']);
  assert.equal(cfg.forward[0]!.authKey, undefined, 'no auth_key: the agent\'s key is kept');
  assert.equal(valid({ forward: { address: 'tcp:127.0.0.1:1', auth_key: null } }).forward[0]!.authKey, null);
});

test('forward refuses bad entries naming the key, the value and what is allowed', () => {
  const p = problems({
    forward: [
      'sctp:1.2.3.4:9060',
      'tcp:1.2.3.4',
      { name: 'a', address: 'udp:1.2.3.4:70000' },
      { name: 'b', address: 'tcp:1.2.3.4:1', hep_types: ['sip'] },
      { name: 'c', address: 'tcp:1.2.3.4:1', sources: ['10.0.0.0/33'] },
      { name: 'd', address: 'tcp:1.2.3.4:1', tls_ca_file: '/x' },
      { name: 'e', address: 'tcp:1.2.3.4:1', port: 1 },
      { name: 'f', address: 'tcp:1.2.3.4:1' },
      { name: 'f', address: 'tcp:1.2.3.5:1' },
      { name: 'g', address: 'tls:1.2.3.4:1', tls_cert_file: '/nonexistent/cert.pem' },
    ],
  });
  const has = (re: RegExp): void => assert.ok(p.some((l) => re.test(l)), `${re} in\n${p.join('\n')}`);
  has(/^forward\[0\]: "sctp:1\.2\.3\.4:9060" protocol "sctp" is not allowed \(allowed: udp, tcp, tls\)/);
  has(/^forward\[1\]: "tcp:1\.2\.3\.4" has no host or port/);
  has(/^forward\[2\]\.address: .*port "70000" is not allowed \(allowed 1\.\.65535\)/);
  has(/^forward\[3\]\.hep_types: \["sip"\]: expected a non-empty array of HEP protocol types/);
  has(/^forward\[4\]\.sources: "10\.0\.0\.0\/33"/);
  has(/^forward\[5\]\.tls_ca_file: only a tls: destination uses TLS files/);
  has(/^forward\[6\]\.port: unknown key/);
  has(/^forward\[8\]\.name: "f" names two destinations/);
  has(/^forward\[9\]\.tls_key_file: a client certificate needs both/);
});

test('a route rule may forward only to defined destinations', () => {
  const p = problems({ forward: [{ name: 'central', address: 'tcp:127.0.0.1:9061' }], routes: [{ forward: ['centrl'] }] });
  assert.equal(p.length, 1);
  assert.match(p[0]!, /^routes\[0\]\.forward: "centrl" is not a forward destination \(defined: central\).*central/);
  assert.match(problems({ routes: [{ forward: 'x' }] })[0]!, /"x" is not a forward destination \(defined: none\)/);
});

test('without db_url and capture modes, forward makes a pure relay; without forward the same config is refused', () => {
  const cfg = validateConfig({ forward: ['tcp:127.0.0.1:9061'] }, '/tmp/relay.json5');
  assert.deepEqual(cfg.routeRules, []);
  assert.equal(cfg.captureModes.size, 0);
  assert.match(problems({}, false)[0]!, /^db_url: "" — the default capture mode needs a database URL/);
  // Explicit routes that store still need a database.
  assert.match(problems({ forward: ['tcp:127.0.0.1:9061'], routes: 'homer5' }, false)[0]!, /^db_url:/);
});

test('shard names at least two defined capture modes, and not together with capture_mode', () => {
  const modes = ['a=>db_url=sqlite://a.db;table_name=t;mt_mode=rand', 'b=>db_url=sqlite://b.db;table_name=t;mt_mode=rand'];
  assert.deepEqual(valid({ capture_mode: modes, routes: [{ shard: ['a', 'b'] }] }).routeRules[0]!.shard, ['a', 'b']);
  assert.match(problems({ capture_mode: modes, routes: [{ shard: ['a'] }] })[0]!, /^routes\[0\]\.shard: \["a"\]: expected an array of at least two capture mode names/);
  assert.match(problems({ capture_mode: modes, routes: [{ shard: ['a', 'c'] }] })[0]!, /^routes\[0\]\.shard: "c" is not a defined capture mode \(defined: default, a, b\)/);
  assert.match(problems({ capture_mode: modes, routes: [{ shard: ['a', 'b'], capture_mode: 'a' }] })[0]!, /^routes\[0\]\.shard: give either capture_mode or shard, not both/);
});

test('check-config refuses a bad forward as run does, naming the key and the value', async () => {
  const dir = makeTmpDir('sipcapture-fwd-cfg-');
  const file = path.join(dir, 'bad.json5');
  writeFileSync(file, JSON.stringify({ db_url: 'sqlite://x.db', forward: [{ name: 'central', address: 'tcp:127.0.0.1:99999' }] }));
  try {
    for (const cmd of ['check-config', 'run']) {
      const r = await runCli([cmd, '-c', file]);
      assert.notEqual(r.code, 0, cmd);
      assert.match(r.stderr + r.stdout, /forward\[0\]\.address: "tcp:127\.0\.0\.1:99999" port "99999" is not allowed \(allowed 1\.\.65535\)/, cmd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
