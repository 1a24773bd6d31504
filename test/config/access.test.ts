/** Access settings in the config: auth keys, allow-lists, listen objects and TLS files, checked at load. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { derivedConfigForDisplay, effectiveConfigForDisplay, validateConfig, configWarnings } from '../../src/config/load.js';
import { makeTestCerts, type TestCerts } from '../helpers/tls.js';
import { oneProblem, valid } from './helpers.js';

describe('hep_auth_keys and allow_sources', () => {
  test('defaults: not enforced, everyone', () => {
    const c = valid();
    assert.deepEqual(c.hep_auth_keys, []);
    assert.deepEqual(c.allow_sources, []);
    for (const a of c.listenAddresses) assert.deepEqual(a.access, { authKeys: [], allowSources: [], tls: null });
  });
  test('a string is a list of one; the globals reach every listener', () => {
    const c = valid({ hep_auth_keys: 'k1', allow_sources: ['10.0.0.0/8', '::1'] });
    assert.deepEqual(c.hep_auth_keys, ['k1']);
    for (const a of c.listenAddresses) assert.deepEqual([a.access.authKeys, a.access.allowSources], [['k1'], ['10.0.0.0/8', '::1']]);
  });
  test('bad values name the key, the value and what is allowed', () => {
    oneProblem({ hep_auth_keys: ['ok', ''] }, 'hep_auth_keys[1]: "" is not allowed');
    oneProblem({ hep_auth_keys: 'x'.repeat(1025) }, 'hep_auth_keys: is 1025 bytes long (allowed at most 1024)');
    oneProblem({ hep_auth_keys: 5 }, 'hep_auth_keys: 5 is an integer; expected a string or an array of strings');
    oneProblem({ allow_sources: ['10.0.0.0/8', 'office'] }, 'allow_sources[1]: "office": "office" is not an IP address', 'allowed an IP or CIDR');
    oneProblem({ allow_sources: '10.1.2.3/8' }, 'allow_sources: "10.1.2.3/8": has host bits set after /8 (did you mean 10.0.0.0/8?)');
  });
});

describe('listen objects', () => {
  test('an object overrides the globals for its listener only', () => {
    const c = valid({
      hep_auth_keys: ['global'],
      listen: ['udp:127.0.0.1:9060', { address: 'tcp:127.0.0.1:9060', hep_auth_keys: 'own', allow_sources: ['192.0.2.0/24'] }, { address: 'udp:127.0.0.1:9062', hep_auth_keys: [] }],
    });
    assert.deepEqual(c.listenAddresses.map((a) => [a.spec, a.access.authKeys, a.access.allowSources]), [
      ['udp:127.0.0.1:9060', ['global'], []],
      ['tcp:127.0.0.1:9060', ['own'], ['192.0.2.0/24']],
      ['udp:127.0.0.1:9062', [], []],
    ]);
  });
  test('unknown keys, a missing address and wrong types are refused', () => {
    oneProblem({ listen: [{ address: 'udp:127.0.0.1:9060', hep_auth_key: 'x' }] }, 'listen[0].hep_auth_key: is not a listener setting', 'did you mean hep_auth_keys');
    oneProblem({ listen: [{ hep_auth_keys: 'x' }] }, 'listen[0].address: undefined is undefined; expected the listener address');
    oneProblem({ listen: { address: 'udp:127.0.0.1:9060', tls_verify_client: 2 } }, 'listen.tls_verify_client: 2 is not allowed (allowed 0/1 or false/true)');
    oneProblem({ listen: [{ address: 'udp:127.0.0.1:9060', allow_sources: ['nowhere'] }] }, 'listen[0].allow_sources: "nowhere"');
    oneProblem({ listen: [42] }, 'listen[0]: 42 is an integer; expected an address string or an object {address, …}');
    oneProblem({ listen: [{ address: 'udp:localhost:1' }] }, 'listen[0].address: "udp:localhost:1": host "localhost"');
  });
  test('tls_* on a udp:/tcp: listener have no effect and are refused', () => {
    oneProblem({ listen: [{ address: 'tcp:127.0.0.1:9060', tls_cert_file: 'a.pem' }] }, 'listen[0].tls_cert_file: has no effect on "tcp:127.0.0.1:9060"');
  });
  test('tcp: and tls: on the same address and port collide', () => {
    oneProblem({ listen: ['tcp:127.0.0.1:9060', { address: 'tls:127.0.0.1:9060' }], tls_cert_file: '/x', tls_key_file: '/y' }, 'listen[1].address: "tls:127.0.0.1:9060": duplicates listen[0]');
  });
  test('a tcp:/tls: listener on the http_listen address is refused (both would bind it)', () => {
    oneProblem({ listen: 'tcp:0.0.0.0:9061' }, 'http_listen: "127.0.0.1:9061" is also the TCP address of listen "tcp:0.0.0.0:9061"');
    assert.equal(valid({ listen: ['udp:127.0.0.1:9061', 'tcp:127.0.0.2:9061'] }).listenAddresses.length, 2, 'UDP, or another address, is fine');
  });
  test('auth keys are masked in check-config output', () => {
    const c = valid({ hep_auth_keys: ['s3cret'], listen: [{ address: 'udp:127.0.0.1:9060', hep_auth_keys: ['own-secret'] }] });
    const shown = JSON.stringify([effectiveConfigForDisplay(c), derivedConfigForDisplay(c)]);
    assert.ok(!shown.includes('s3cret') && !shown.includes('own-secret'), shown);
    assert.ok(shown.includes('***'));
  });
});

describe('tls: listeners and certificate files', () => {
  let certs: TestCerts;
  before(() => {
    certs = makeTestCerts();
  });
  after(() => rmSync(certs.dir, { recursive: true, force: true }));

  test('needs a certificate and key; verification needs a CA', () => {
    oneProblem({ listen: 'tls:127.0.0.1:9062' }, 'listen: "tls:127.0.0.1:9062" is a tls: listener and needs tls_cert_file and tls_key_file');
    oneProblem({ listen: 'tls:127.0.0.1:9062', tls_cert_file: certs.serverCert, tls_key_file: certs.serverKey, tls_verify_client: 1 }, 'tls_verify_client: 1 on "tls:127.0.0.1:9062" needs tls_ca_file');
  });
  test('relative paths are resolved against the config folder; good files load', () => {
    for (const f of ['server.crt', 'server.key', 'ca.crt']) copyFileSync(path.join(certs.dir, f), path.join(certs.dir, `rel-${f}`));
    const c = validateConfig(
      { db_url: 'sqlite://:memory:', listen: [{ address: 'tls:127.0.0.1:9062', tls_cert_file: 'rel-server.crt', tls_key_file: 'rel-server.key', tls_ca_file: 'rel-ca.crt', tls_verify_client: true }] },
      path.join(certs.dir, 'sipcapture.json5'),
    );
    assert.deepEqual(c.listenAddresses[0]?.access.tls, {
      certFile: path.join(certs.dir, 'rel-server.crt'),
      keyFile: path.join(certs.dir, 'rel-server.key'),
      caFile: path.join(certs.dir, 'rel-ca.crt'),
      verifyClient: true,
    });
    assert.ok(configWarnings(c).every((w) => !w.includes('tls')), 'verified TLS on loopback: no warning');
  });
  test('unreadable, invalid and mismatched files stop the start with the key and the file', () => {
    const base = { listen: 'tls:127.0.0.1:9062', tls_cert_file: certs.serverCert, tls_key_file: certs.serverKey };
    const missing = oneProblem({ ...base, tls_cert_file: path.join(certs.dir, 'missing.crt') }, 'tls_cert_file: ', 'missing.crt cannot be read (ENOENT: no such file or directory)');
    assert.equal(missing.split('missing.crt').length - 1, 1, `the file is named once: ${missing}`);
    const junk = path.join(certs.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    oneProblem({ ...base, tls_cert_file: junk }, 'tls_cert_file: ', 'holds no PEM certificate');
    oneProblem({ ...base, tls_key_file: junk }, 'tls_key_file: ', 'not a valid PEM private key');
    oneProblem({ ...base, tls_ca_file: junk }, 'tls_ca_file: ', 'holds no PEM certificate');
    oneProblem({ ...base, tls_key_file: certs.clientKey }, 'tls_key_file: ', 'does not fit', 'server.crt');
    // In a listen object the message names the object's key.
    oneProblem({ listen: [{ address: 'tls:127.0.0.1:9062', tls_cert_file: certs.serverCert, tls_key_file: certs.foreignKey }] }, 'listen[0].tls_key_file: ', 'does not fit');
  });
  test('globals without a tls: listener, and open TLS on a public address, are warned about', () => {
    const c = valid({ tls_cert_file: certs.serverCert });
    assert.ok(configWarnings(c).some((w) => w.startsWith('tls_cert_file has no effect without a tls: listener')));
    const open = valid({ listen: 'tls:0.0.0.0:9062', tls_cert_file: certs.serverCert, tls_key_file: certs.serverKey });
    assert.ok(configWarnings(open).some((w) => w.includes('anyone who reaches it may send')));
    const caOnly = valid({ listen: 'tls:0.0.0.0:9062', tls_cert_file: certs.serverCert, tls_key_file: certs.serverKey, tls_ca_file: certs.caCert, tls_verify_client: 1 });
    assert.ok(configWarnings(caOnly).every((w) => !w.includes('may send')));
  });
});
