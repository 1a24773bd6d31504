import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVia } from '../../src/sip/via.js';

function via(body: string): { ok: boolean; branch: string | null; rest: string } {
  const b = Buffer.from(`${body}\r\nNext: x`, 'latin1');
  const r = parseVia(b, 0, b.length);
  return { ok: r.ok, branch: r.branchStart < 0 ? null : b.toString('latin1', r.branchStart, r.branchEnd), rest: b.toString('latin1', r.end) };
}

describe('Via', () => {
  test('branch of the first via-parm; the header ends at its line end', () => {
    const r = via('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-abc123;rport, SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKzz');
    assert.deepEqual(r, { ok: true, branch: 'z9hG4bK-abc123', rest: 'Next: x' });
  });
  test('no branch; branch later in the list is not the first via branch', () => {
    assert.equal(via('SIP/2.0/UDP h').branch, null);
    assert.equal(via('SIP/2.0/UDP h, SIP/2.0/TCP g;branch=z9hG4bKsecond').branch, null);
  });
  test('transports, IPv6, ports, params, case, folding, comments', () => {
    for (const ok of [
      'SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bKv6',
      'sip/2.0/udp host.example.com;BRANCH=z9hG4bKcase;received=1.2.3.4;rport=5060',
      'SIP / 2.0 / WSS abc.invalid;branch=z9hG4bK1;alias;hidden',
      'SIP/2.0/UDP 10.0.0.1:5060\r\n ;branch=z9hG4bKfold',
      'SIP/2.0/UDP h;branch=z9hG4bK1 (comment)',
      'SIP/2.0/UDP h;x="quoted;value"',
      'SIP/2.0/XYZ h:0',
    ]) {
      assert.equal(via(ok).ok, true, ok);
    }
    assert.equal(via('sip/2.0/udp h;BRANCH=z9hG4bKcase').branch, 'z9hG4bKcase');
  });
  test('empty parameter values are accepted as empty, as Kamailio stores them', () => {
    assert.deepEqual(via('SIP/2.0/UDP 10.1.2.3:5060;branch=;rport'), { ok: true, branch: '', rest: 'Next: x' });
    for (const ok of ['SIP/2.0/UDP h;received=;branch=z9hG4bK1', 'SIP/2.0/UDP h;rport=;branch=z9hG4bK1', 'SIP/2.0/UDP h;maddr=;ttl=;x=']) {
      assert.equal(via(ok).ok, true, ok);
    }
    assert.equal(via('SIP/2.0/UDP h;received=;branch=z9hG4bK1').branch, 'z9hG4bK1');
  });
  test('errors', () => {
    for (const bad of [
      'SIP/2.0/UDP',
      'SIP/2.0/UDP ',
      'SIP/2.0 UDP h',
      'SIP/3.0/UDP h',
      'HTTP/2.0/UDP h',
      'SIP/2.0/UDP h:65536',
      'SIP/2.0/UDP h:abc',
      'SIP/2.0/UDP h;branch',
      'SIP/2.0/UDP h;=x',
      'SIP/2.0/UDP h;x="open',
      'SIP/2.0/UDP [::1',
      'SIP/2.0/UDP h junk',
      'SIP/2.0/UDP h,',
      'SIP/2.0/UDP h (open comment',
    ]) {
      assert.equal(via(bad).ok, false, bad);
    }
  });
});
