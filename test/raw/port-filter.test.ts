import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { captureFilter, partitionClause, partitionOf, portFilterCore } from '../../src/raw/bpf.js';
import { parseRawSocketListen } from '../../src/config/listen.js';
import { rawListenOf, portRangeText, portsMatch, RawListenError } from '../../src/raw/port-filter.js';
import { ipv4, ipv6, udp } from './_packets.js';

describe('raw_socket_listen', () => {
  test('Kamailio forms', () => {
    const r = rawListenOf('10.0.0.1:5060-5090', true);
    assert.deepEqual([r.ipText, r.ipVersion, r.port1, r.port2], ['10.0.0.1', 4, 5060, 5090]);
    assert.deepEqual([...(r.ip ?? [])], [10, 0, 0, 1]);
    const one = rawListenOf('10.0.0.1:5060', true);
    assert.deepEqual([one.port1, one.port2], [5060, 5060]);
    const ipOnly = rawListenOf('10.0.0.1', false);
    assert.deepEqual([ipOnly.port1, ipOnly.port2], [0, 0]);
    assert.equal(rawListenOf('0.0.0.0:5060', false).ip, null, 'unspecified address = any');
    assert.equal(rawListenOf('', false).port1, 0);
  });

  test('IPv6: brackets and bare literal (which Kamailio mis-splits)', () => {
    const r = rawListenOf('[2001:db8::1]:5060-5061', true);
    assert.deepEqual([r.ipText, r.ipVersion, r.port1, r.port2], ['2001:db8::1', 6, 5060, 5061]);
    const bare = rawListenOf('2001:db8::1', false);
    assert.deepEqual([bare.ipText, bare.port1], ['2001:db8::1', 0]);
    assert.equal(rawListenOf('[::]:5060', false).ip, null);
  });

  test('clear errors where Kamailio would silently read 0: the same as the config check gives', () => {
    const bad: Array<[string, boolean, RegExp]> = [
      ['10.0.0.1:5090-5060', true, /reversed/],
      ['10.0.0.1:abc', true, /port "abc" is not allowed/],
      ['10.0.0.1:70000', true, /port "70000" is not allowed/],
      ['10.0.0.1:0', true, /port "0" is not allowed/],
      ['10.0.0.1:5060-', true, /port "" is not allowed/],
      ['bogus:5060', true, /bad RAW IP/],
      ['10.0.0.1', true, /needs a port/],
      ['', true, /needs a port/],
      ['[::1:5060', false, /without "\]"/],
    ];
    for (const [v, mirror, re] of bad) {
      assert.throws(() => rawListenOf(v, mirror), (e: unknown) => e instanceof RawListenError && re.test(e.message), v);
      const configSays = v === '' ? undefined : parseRawSocketListen(v);
      if (typeof configSays === 'string') assert.ok(configSays.length > 0 && re.test(configSays), `${v}: config check says "${configSays}"`);
    }
  });

  test('source OR destination port in range', () => {
    const r = rawListenOf('1.2.3.4:5060-5090', true);
    assert.equal(portsMatch(r, 5060, 40000), true);
    assert.equal(portsMatch(r, 40000, 5090), true);
    assert.equal(portsMatch(r, 5059, 5091), false);
    const one = rawListenOf('1.2.3.4:5060', true);
    assert.equal(portsMatch(one, 1, 5060), true);
    assert.equal(portsMatch(one, 5061, 1), false);
    assert.equal(portsMatch(rawListenOf('1.2.3.4', false), 1, 2), true, 'no port = no filter');
    assert.equal(portRangeText(r), '5060-5090');
    assert.equal(portRangeText(one), '5060');
  });
});

describe('BPF filter expressions', () => {
  const listen = rawListenOf('10.0.0.0:5060-5090', true);

  test('one child: ports, fragments, IPv6 extension headers, tunnels, then the same behind a VLAN tag', () => {
    const core = portFilterCore(listen);
    assert.match(core, /\(udp or tcp or sctp\) and portrange 5060-5090/);
    assert.match(core, /ip\[6:2\] & 0x1fff != 0/, 'non-first IPv4 fragments have no ports');
    assert.match(core, /ip6\[6\] = 44/, 'IPv6 fragments');
    assert.match(core, /ip\[9\] = 4 or ip\[9\] = 41 or ip\[9\] = 47/, 'tunnels');
    assert.equal(captureFilter({ listen, bpf: true, index: 0, count: 1 }), `(${core}) or (vlan and ((${core}) or (vlan and (${core}))))`);
    assert.match(portFilterCore(rawListenOf('1.1.1.1:5060', true)), /and port 5060\)/);
  });

  test('without BPF the kernel keeps everything (user-space filter)', () => {
    assert.equal(captureFilter({ listen, bpf: false, index: 0, count: 1 }), '');
  });

  test('N children: partition clause, non-IP to child 0 only', () => {
    assert.equal(partitionClause(0, 1), '');
    const f0 = captureFilter({ listen, bpf: true, index: 0, count: 3 });
    const f2 = captureFilter({ listen, bpf: true, index: 2, count: 3 });
    assert.match(f0, /% 3 = 0/);
    assert.match(f0, /not ip and not ip6 and vlan\)$/);
    assert.match(f2, /% 3 = 2/);
    assert.doesNotMatch(f2, /not ip/);
    assert.match(captureFilter({ listen, bpf: false, index: 0, count: 2 }), /or \(not ip and not ip6\)$/);
    for (const count of [1, 2]) {
      assert.doesNotMatch(captureFilter({ listen, bpf: true, index: 0, count, vlan: false }), /vlan/, 'for "any" / raw-IP devices');
    }
  });

  test('user-space partition: both directions and all fragments of a flow go to one child; every index is used', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 64; i++) {
      const a = `198.19.${i}.2`;
      const b = `198.19.0.${100 + i}`;
      const fwd = ipv4({ src: a, dst: b, proto: 17, payload: udp(5060, 5060, Buffer.alloc(4)) });
      const rev = ipv4({ src: b, dst: a, proto: 17, payload: udp(5060, 5060, Buffer.alloc(4)) });
      const k = partitionOf(fwd, 0, fwd.length, 4);
      assert.equal(partitionOf(rev, 0, rev.length, 4), k);
      seen.add(k);
    }
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3]);
    const v6 = ipv6({ src: '2001:db8::1', dst: '2001:db8::2', next: 17, payload: Buffer.alloc(8) });
    const v6r = ipv6({ src: '2001:db8::2', dst: '2001:db8::1', next: 17, payload: Buffer.alloc(8) });
    assert.equal(partitionOf(v6, 0, v6.length, 2), partitionOf(v6r, 0, v6r.length, 2));
    assert.equal(partitionOf(Buffer.from([0x10, 0]), 0, 2, 2), 0, 'not IP → child 0');
  });
});
