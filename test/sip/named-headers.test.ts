import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSip, type SipMessage } from '../../src/sip/parser.js';
import {
  RTP_STAT_HEADERS,
  callidAleg,
  customField,
  originator,
  reasonHeader,
  rtpStat,
  splitCallidAlegHeaders,
  strtolToInt,
} from '../../src/sip/named-headers.js';
import { request } from './fixtures.js';

function msg(extra: string[]): SipMessage {
  const p = parseSip(request(extra));
  assert.ok(p.ok);
  return p.message;
}

describe('X-OIP (compatible behaviour)', () => {
  test('ip before the first colon, port = leading integer after it', () => {
    assert.deepEqual(originator(msg(['X-OIP: 192.168.1.5:5099'])), { ip: '192.168.1.5', port: 5099 });
    assert.deepEqual(originator(msg(['X-OIP: 192.168.1.5:5099;x=1'])), { ip: '192.168.1.5', port: 5099 });
    assert.deepEqual(originator(msg(['X-OIP: 1.2.3.4:abc'])), { ip: '1.2.3.4', port: 0 });
  });
  test('no colon: the whole body, port 0 (the next header is never touched)', () => {
    assert.deepEqual(originator(msg(['X-OIP: 10.1.1.1', 'Content-Type: text/plain'])), { ip: '10.1.1.1', port: 0 });
  });
  test('IPv6 is cut at the first colon, like Kamailio', () => {
    assert.deepEqual(originator(msg(['X-OIP: [2001:db8::1]:5060'])), { ip: '[2001', port: 0 });
  });
  test('name matching: x-oip does not match, X-oip does; absent gives empty', () => {
    assert.deepEqual(originator(msg(['x-oip: 1.1.1.1:1'])), { ip: '', port: 0 });
    assert.deepEqual(originator(msg(['X-oip: 1.1.1.1:1'])), { ip: '1.1.1.1', port: 1 });
    assert.deepEqual(originator(msg([])), { ip: '', port: 0 });
  });
  test('strtol into a C int', () => {
    const s = (t: string): number => strtolToInt(Buffer.from(t), 0, t.length);
    assert.equal(s(' 42x'), 42);
    assert.equal(s('-7'), -7);
    assert.equal(s('+8'), 8);
    assert.equal(s(''), 0);
    assert.equal(s('4294967297'), 1);
    assert.equal(s('2147483648'), -2147483648);
    assert.equal(s('99999999999999999999999'), -1);
  });
});

describe('rtp_stat priority', () => {
  test('the list order decides, not the message order', () => {
    assert.equal(rtpStat(msg(['P-RTP-Stat: stat-p', 'X-RTP-Stat: stat-plain'])), 'stat-plain');
    assert.equal(rtpStat(msg(['RTP-RxStat: rx', 'X-Siemens-RTP-stats: siemens'])), 'siemens');
    assert.equal(rtpStat(msg(['X-RTP-Stat: a', 'X-RTP-Stat-Add: add'])), 'add');
    assert.equal(rtpStat(msg(['X-NG-RTP-STATS: ng'])), 'ng');
    assert.equal(rtpStat(msg([])), '');
    assert.equal(RTP_STAT_HEADERS.length, 7);
  });
});

describe('callid_aleg', () => {
  test('split on ";", empty items skipped, no trimming, at most 16', () => {
    assert.deepEqual(splitCallidAlegHeaders('X-CID0; X-CID1'), ['X-CID0', ' X-CID1']);
    assert.deepEqual(splitCallidAlegHeaders(';;A;;B;'), ['A', 'B']);
    assert.deepEqual(splitCallidAlegHeaders(''), []);
    assert.equal(splitCallidAlegHeaders(Array.from({ length: 20 }, (_, i) => `H${i}`).join(';')).length, 16);
  });
  test('list order wins over message order; matching rule of get_hdr_by_name', () => {
    const m = msg(['x-cid1: aleg-second', 'X-CID1: aleg-1', 'X-CID0: aleg-0']);
    assert.equal(callidAleg(m, ['X-CID0', 'X-CID1']), 'aleg-0');
    assert.equal(callidAleg(m, ['X-CID1', 'X-CID0']), 'aleg-1');
    assert.equal(callidAleg(m, splitCallidAlegHeaders('X-NONE; X-CID0')), '');
    assert.equal(callidAleg(m, []), '');
  });
});

describe('reason and custom fields', () => {
  test('Reason by name: "reason:" does not match, "REASON:" does', () => {
    assert.equal(reasonHeader(msg(['reason: lower'])), '');
    assert.equal(reasonHeader(msg(['REASON: upper'])), 'upper');
    assert.equal(reasonHeader(msg(['Reason: Q.850;cause=16'])), 'Q.850;cause=16');
  });
  test('custom fields by name; an empty name disables the field', () => {
    const m = msg(['Mac: aa:bb', 'IP: 1.2.3.4', 'Port: 999']);
    assert.equal(customField(m, 'Mac'), 'aa:bb');
    assert.equal(customField(m, 'IP'), '1.2.3.4');
    assert.equal(customField(m, 'Port'), '999');
    assert.equal(customField(m, ''), '');
    assert.equal(customField(m, 'mac'), '');
  });
});
