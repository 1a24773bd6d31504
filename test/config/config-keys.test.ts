/** The control-plane configuration keys: validation, path resolution and warnings. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configWarnings, ConfigError, validateConfig } from '../../src/config/load.js';

const BASE = { db_url: 'sqlite:///tmp/k.sqlite' };

function problems(extra: Record<string, unknown>, source = '/etc/sipcapture/x.json5'): string {
  try {
    validateConfig({ ...BASE, ...extra }, source);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems.map((p) => `${p.key}: ${p.message}`).join('\n');
  }
  return '';
}

describe('control-plane keys', () => {
  test('defaults: HTTP on the loopback, the socket next to the config, hook timeout 100 ms', () => {
    const c = validateConfig(BASE, '/etc/sipcapture/x.json5');
    assert.equal(c.http_listen, '127.0.0.1:9061');
    assert.equal(c.http_rpc, 1);
    assert.equal(c.rpc_socket, '/etc/sipcapture/sipcapture.sock');
    assert.equal(c.hook_timeout_ms, 100);
    assert.deepEqual(configWarnings(c).filter((w) => w.includes('http_listen')), []);
  });

  test('http_listen: IP:PORT, [IPv6]:PORT or ""; anything else is refused with the reason', () => {
    assert.equal(validateConfig({ ...BASE, http_listen: '[::1]:9100' }, '/x.json5').http_listen, '[::1]:9100');
    assert.equal(validateConfig({ ...BASE, http_listen: '' }, '/x.json5').http_listen, '');
    assert.match(problems({ http_listen: 'localhost:9061' }), /http_listen: .*not an IP address.*use 127\.0\.0\.1/);
    assert.match(problems({ http_listen: '127.0.0.1' }), /http_listen: .*has no port/);
    assert.match(problems({ http_listen: '127.0.0.1:0' }), /http_listen: .*port "0" is not allowed/);
    assert.doesNotMatch(problems({ http_listen: '127.0.0.1:0' }), /tcp:/);
  });

  test('rpc_socket: relative to the config folder, "" off, at most 107 bytes', () => {
    assert.equal(validateConfig({ ...BASE, rpc_socket: '../run/s.sock' }, '/etc/sipcapture/x.json5').rpc_socket, '/etc/run/s.sock');
    assert.equal(validateConfig({ ...BASE, rpc_socket: '' }, '/x.json5').rpc_socket, '');
    assert.match(problems({ rpc_socket: `/tmp/${'d'.repeat(120)}.sock` }), /rpc_socket: .*at most 107: the limit of a unix socket path/);
  });

  test('hook_timeout_ms is 1..60000', () => {
    assert.match(problems({ hook_timeout_ms: 0 }), /hook_timeout_ms: 0 is out of range \(allowed 1\.\.60000 ms\)/);
    assert.equal(validateConfig({ ...BASE, hook_timeout_ms: 60000 }, '/x.json5').hook_timeout_ms, 60000);
  });

  test('a reachable http_listen with http_rpc 1 is warned about; with http_rpc 0 it is not', () => {
    const open = validateConfig({ ...BASE, http_listen: '0.0.0.0:9061' }, '/x.json5');
    assert.match(configWarnings(open).join('\n'), /http_listen 0\.0\.0\.0:9061 is not a loopback address and http_rpc is 1/);
    const metricsOnly = validateConfig({ ...BASE, http_listen: '0.0.0.0:9061', http_rpc: 0, http_viewer: 0 }, '/x.json5');
    assert.deepEqual(configWarnings(metricsOnly).filter((w) => w.includes('http_listen')), []);
  });

  test('a reachable http_listen with the viewer on and no token is warned about', () => {
    const open = validateConfig({ ...BASE, http_listen: '0.0.0.0:9061', http_rpc: 0 }, '/x.json5');
    assert.deepEqual(configWarnings(open).filter((w) => w.includes('http_listen')), [
      'http_listen 0.0.0.0:9061 is not a loopback address and the viewer has no http_viewer_token: anyone who reaches it can read the captured calls (set a token, or http_viewer 0)',
    ]);
    const withToken = validateConfig({ ...BASE, http_listen: '0.0.0.0:9061', http_rpc: 0, http_viewer_token: 'x'.repeat(16) }, '/x.json5');
    assert.deepEqual(configWarnings(withToken).filter((w) => w.includes('http_listen')), []);
    assert.deepEqual(configWarnings(validateConfig({ ...BASE }, '/x.json5')).filter((w) => w.includes('viewer')), [], 'loopback: no warning');
  });
});
