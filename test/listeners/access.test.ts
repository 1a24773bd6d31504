/** Allow-lists (CIDR matching on bytes, IPv4-mapped IPv6) and auth-key checks, without sockets. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthKeys, SourceFilter } from '../../src/listeners/access.js';
import { ipBytes, parseCidr } from '../../src/net/cidr.js';
import { HepStreamFramer } from '../../src/hep/framer.js';

describe('CIDR parsing', () => {
  test('IPv4 and IPv6, with and without a prefix', () => {
    for (const ok of ['10.0.0.0/8', '192.0.2.7', '0.0.0.0/0', '2001:db8::/32', '::1', '::/0', '::ffff:10.0.0.0/104', 'fe80::/10']) {
      assert.equal(typeof parseCidr(ok), 'object', ok);
    }
  });
  test('bad entries say why', () => {
    assert.match(parseCidr('example.com') as string, /not an IP address .*hostnames are not resolved/);
    assert.match(parseCidr('10.0.0.0/33') as string, /prefix length "\/33" is not allowed \(allowed \/0..\/32 for IPv4\)/);
    assert.match(parseCidr('2001:db8::/129') as string, /allowed \/0..\/128 for IPv6/);
    assert.match(parseCidr('10.1.2.3/8') as string, /host bits set after \/8 \(did you mean 10.0.0.0\/8\?\)/);
    assert.match(parseCidr('2001:db8::1/32') as string, /did you mean 2001:db8::\/32/);
    assert.match(parseCidr('10.0.0.0/x') as string, /prefix length/);
    assert.match(parseCidr('fe80::1%eth0') as string, /zone index/);
  });
  test('ipBytes maps IPv4 into ::ffff:0:0/96 and expands IPv6', () => {
    assert.deepEqual([...ipBytes('10.1.2.3')!], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 1, 2, 3]);
    assert.deepEqual(ipBytes('::ffff:10.1.2.3'), ipBytes('10.1.2.3'));
    assert.deepEqual([...ipBytes('2001:db8::1')!], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert.equal(ipBytes('10.1.2'), null);
    assert.equal(ipBytes('nope'), null);
  });
});

describe('SourceFilter', () => {
  test('matches on prefix bits, both families, IPv4-mapped forms included', () => {
    const f = new SourceFilter(['10.0.0.0/8', '192.0.2.128/25', '2001:db8:1::/48', '127.0.0.2']);
    assert.ok(f.allows('10.255.1.1'));
    assert.ok(f.allows('::ffff:10.1.2.3'), 'dual-stack sockets report IPv4 clients mapped');
    assert.ok(f.allows('192.0.2.200'));
    assert.ok(!f.allows('192.0.2.127'), '/25 boundary');
    assert.ok(f.allows('2001:db8:1:ffff::5'));
    assert.ok(!f.allows('2001:db8:2::5'));
    assert.ok(f.allows('127.0.0.2'));
    assert.ok(!f.allows('127.0.0.1'));
    assert.ok(!f.allows('11.0.0.1'));
    assert.ok(!f.allows(undefined), 'a socket without an address is not allowed');
    assert.ok(!f.allows('garbage'));
    // Decisions are cached; asking again gives the same answers.
    assert.ok(f.allows('10.255.1.1') && !f.allows('11.0.0.1'));
  });
  test('an IPv4 rule does not match plain IPv6, ::/0 matches everything', () => {
    assert.ok(!new SourceFilter(['0.0.0.0/0']).allows('::1'));
    assert.ok(new SourceFilter(['::/0']).allows('10.0.0.1'));
    assert.ok(new SourceFilter(['::1']).allows('::1'));
  });
});

describe('AuthKeys', () => {
  test('accepts any listed key, refuses missing and other keys', () => {
    const k = new AuthKeys(['s3cret', 'second key']);
    assert.equal(k.check('s3cret'), null);
    assert.equal(k.check('second key'), null);
    assert.equal(k.check('s3cret\0'), null, 'trailing NUL of C agents is ignored');
    assert.equal(k.check(null), 'missing');
    assert.equal(k.check(''), 'wrong');
    assert.equal(k.check('s3cre'), 'wrong');
    assert.equal(k.check('s3cretX'), 'wrong');
    assert.equal(k.check('S3CRET'), 'wrong', 'case-sensitive');
  });
});

describe('per-connection buffer bound', () => {
  test('the framer never holds more than tcp_max_frame bytes, whatever is pushed', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (const maxFrame of [6, 100, 1500, 65535]) {
      const f = new HepStreamFramer({ maxFrame });
      let most = 0;
      for (let i = 0; i < 3000; i++) {
        const len = 1 + rnd(3000);
        const chunk = Buffer.alloc(len);
        for (let j = 0; j < len; j++) chunk[j] = rnd(256);
        // Often a header announcing a frame as long as allowed (or longer), then silence or garbage.
        if (rnd(3) === 0 && len >= 6) {
          chunk.write('HEP3', 0, 'latin1');
          chunk.writeUInt16BE(6 + rnd(maxFrame + 10), 4);
        }
        f.push(chunk);
        most = Math.max(most, f.buffered);
      }
      assert.ok(most <= maxFrame, `maxFrame ${maxFrame}: held ${most} bytes`);
    }
  });
});
