import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseListen, parseListenList, parseRawSocketListen } from '../../src/config/listen.js';
import { oneProblem, valid } from './helpers.js';

describe('listen', () => {
  test('udp and tcp, IPv4 and bracketed IPv6', () => {
    const open = { authKeys: [], allowSources: [], tls: null };
    assert.deepEqual(parseListen('udp:127.0.0.1:9060'), { spec: 'udp:127.0.0.1:9060', protocol: 'udp', host: '127.0.0.1', port: 9060, access: open });
    assert.deepEqual(parseListen('tcp:0.0.0.0:1'), { spec: 'tcp:0.0.0.0:1', protocol: 'tcp', host: '0.0.0.0', port: 1, access: open });
    assert.deepEqual(parseListen('udp:[::1]:9060'), { spec: 'udp:[::1]:9060', protocol: 'udp', host: '::1', port: 9060, access: open });
    assert.deepEqual(parseListen('TCP:[::]:65535'), { spec: 'TCP:[::]:65535', protocol: 'tcp', host: '::', port: 65535, access: open });
    assert.deepEqual(parseListen('tls:[::1]:9061'), { spec: 'tls:[::1]:9061', protocol: 'tls', host: '::1', port: 9061, access: open });
    assert.equal((parseListen('udp:[fe80::1%eth0]:9060') as { host: string }).host, 'fe80::1%eth0');
  });
  test('port 1..65535', () => {
    assert.match(parseListen('udp:127.0.0.1:0') as string, /port "0" is not allowed \(allowed 1..65535\)/);
    assert.match(parseListen('udp:127.0.0.1:65536') as string, /port "65536"/);
    assert.match(parseListen('udp:127.0.0.1:') as string, /port ""/);
    assert.match(parseListen('udp:127.0.0.1:90x') as string, /port "90x"/);
    assert.match(parseListen('udp:127.0.0.1') as string, /has no port/);
  });
  test('hostnames are refused, with a hint for localhost', () => {
    assert.match(parseListen('udp:localhost:9060') as string, /host "localhost" is not an IP address .* use 127.0.0.1 or \[::1\]/);
    assert.match(parseListen('udp:example.com:9060') as string, /hostnames are not resolved/);
  });
  test('other protocols and malformed forms', () => {
    assert.match(parseListen('sctp:127.0.0.1:9061') as string, /protocol "sctp" is not allowed \(not supported yet\) \(allowed: udp, tcp, tls\)/);
    assert.match(parseListen('ws:127.0.0.1:9061') as string, /protocol "ws" is not allowed \(allowed: udp, tcp, tls\)/);
    assert.match(parseListen('127.0.0.1:9060') as string, /protocol "127.0.0.1"|has no protocol/);
    assert.match(parseListen('9060') as string, /has no protocol/);
    assert.match(parseListen('udp:::1:9060') as string, /must be written in brackets, e.g. udp:\[::1\]:9060/);
    assert.match(parseListen('udp:[::1:9060') as string, /without "]"/);
    assert.match(parseListen('udp:[::1]9060') as string, /no ":PORT"/);
    assert.match(parseListen('udp:[1.2.3.4]:9060') as string, /not an IPv6 address/);
  });
  test('duplicates and wildcard overlaps', () => {
    const r = parseListenList(['udp:127.0.0.1:9060', 'tcp:127.0.0.1:9060', 'udp:127.0.0.1:9060', 'udp:[::1]:1', 'udp:[0:0::1]:1']);
    assert.equal(r.addresses.length, 3);
    assert.deepEqual(r.problems.map((p) => p.index), [2, 4]);
    assert.match(r.problems[0]!.message, /duplicates listen\[0\]/);
    assert.match(r.problems[1]!.message, /duplicates listen\[3\]/);
    assert.match(parseListenList(['udp:0.0.0.0:5', 'udp:10.0.0.1:5']).problems[0]!.message, /overlaps listen\[0\]/);
    assert.equal(parseListenList(['udp:[::]:5', 'udp:10.0.0.1:5']).problems.length, 1, '[::] is dual-stack');
    assert.equal(parseListenList(['udp:0.0.0.0:5', 'udp:[::1]:5']).problems.length, 0, '0.0.0.0 does not cover IPv6');
    assert.equal(parseListenList(['udp:0.0.0.0:5', 'udp:0.0.0.0:6', 'tcp:0.0.0.0:5']).problems.length, 0);
  });
  test('in the configuration: a string or an array, errors keyed by index', () => {
    assert.deepEqual(valid({ listen: 'udp:[::1]:9060' }).listenAddresses.map((a) => a.host), ['::1']);
    assert.deepEqual(valid().listenAddresses.map((a) => a.spec), ['udp:127.0.0.1:9060', 'tcp:127.0.0.1:9060']);
    oneProblem({ listen: ['udp:127.0.0.1:9060', 'udp:localhost:9060'] }, 'listen[1]: "udp:localhost:9060": host "localhost"');
    oneProblem({ listen: 'udp:1.2.3.4:99999' }, 'listen: "udp:1.2.3.4:99999": port "99999" is not allowed (allowed 1..65535)');
    oneProblem({ listen: ['udp:127.0.0.1:9060', 'udp:127.0.0.1:9060'] }, 'listen[1]:', 'duplicates listen[0]');
  });
  test('an empty list needs hep_capture_on 0', () => {
    assert.deepEqual(valid({ listen: [] }).listenAddresses, []);
    oneProblem({ listen: [], hep_capture_on: 1 }, 'listen: [] — hep_capture_on is 1');
  });
});

describe('raw_socket_listen', () => {
  test('ip, ip:port, ip:port1-port2', () => {
    assert.deepEqual(parseRawSocketListen('10.0.0.1'), { host: '10.0.0.1', ports: null });
    assert.deepEqual(parseRawSocketListen('10.0.0.1:5060'), { host: '10.0.0.1', ports: { min: 5060, max: 5060 } });
    assert.deepEqual(parseRawSocketListen('10.0.0.1:5060-5090'), { host: '10.0.0.1', ports: { min: 5060, max: 5090 } });
    assert.deepEqual(parseRawSocketListen('10.0.0.1:5060-5060'), { host: '10.0.0.1', ports: { min: 5060, max: 5060 } });
  });
  test('IPv6: bracketed, or bare without a port (Kamailio mis-splits it)', () => {
    assert.deepEqual(parseRawSocketListen('[::1]:5060-5090'), { host: '::1', ports: { min: 5060, max: 5090 } });
    assert.deepEqual(parseRawSocketListen('[::1]'), { host: '::1', ports: null });
    assert.deepEqual(parseRawSocketListen('fd00::1'), { host: 'fd00::1', ports: null });
  });
  test('errors', () => {
    assert.match(parseRawSocketListen('10.0.0.1:5090-5060') as string, /reversed/);
    assert.match(parseRawSocketListen('10.0.0.1:0') as string, /port "0"/);
    assert.match(parseRawSocketListen('10.0.0.1:5060-') as string, /port ""/);
    assert.match(parseRawSocketListen('10.0.0.1:abc') as string, /port "abc"/);
    assert.match(parseRawSocketListen('eth0:5060') as string, /"eth0" is not an IP address .*bad RAW IP/);
    assert.match(parseRawSocketListen('[::1]5060') as string, /expected ":PORT"/);
    assert.match(parseRawSocketListen('::g') as string, /not an IPv6 address/);
  });
  test('in the configuration', () => {
    assert.equal(valid({ raw_socket_listen: '10.0.0.1:5060-5090' }).raw_socket_listen, '10.0.0.1:5060-5090');
    oneProblem({ raw_socket_listen: '10.0.0.1:5090-5060' }, 'raw_socket_listen: "10.0.0.1:5090-5060": port range 5090-5060 is reversed');
  });
});
