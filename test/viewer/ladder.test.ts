/** The ladder: lanes in order of appearance, arrows in time order, retransmissions, other legs, and its text form. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLadder, arrowLabel } from '../../src/viewer/ladder.js';
import { callText, ladderText } from '../../src/viewer/ladder-text.js';
import { printable } from '../../src/commands/viewer.js';
import type { CallFlow, CallMessage } from '../../src/viewer/types.js';
import { scriptedCall } from './_calls.js';

const T0 = Date.UTC(2026, 11, 6, 11, 0, 0) * 1000;
const CALL = 'ladder@test';

function messagesOf(packets = scriptedCall({ callId: CALL, t0Us: T0 })): CallMessage[] {
  return packets.map((p, i) => {
    const reply = /^\d/.test(p.label);
    const [code, ...reason] = p.label.split(' ');
    return {
      table: 'sip_capture_call_20261206', id: i + 1, microTs: p.atUs, date: '', method: reply ? code! : p.label, replyReason: reply ? reason.join(' ') : '',
      cseq: '', callid: p.callId, callidAleg: '', fromUser: 'alice', toUser: 'bob', ruriUser: 'bob', sourceIp: p.src.ip, sourcePort: p.src.port,
      destinationIp: p.dst.ip, destinationPort: p.dst.port, proto: 1, node: 'n', userAgent: '', via1Branch: '', correlationId: '', msg: p.payload,
    };
  });
}

test('buildLadder: lanes, arrows in order, retransmission and other legs marked', () => {
  const messages = messagesOf();
  const ladder = buildLadder(CALL, messages);
  assert.deepEqual(ladder.lanes, ['192.0.2.10:5060', '198.51.100.1:5060', '203.0.113.7:5060', '203.0.113.9:5070']);
  assert.deepEqual(
    ladder.arrows.map((a) => `${a.from}>${a.to} ${a.label}${a.retransmission ? ' R' : ''}${a.otherLeg ? ' *' : ''}`),
    ['0>1 INVITE', '1>0 100 Trying', '1>2 INVITE *', '0>1 INVITE R', '2>1 180 Ringing *', '1>0 180 Ringing', '2>1 200 OK *', '1>0 200 OK', '0>1 ACK', '1>2 ACK *',
      '1>3 INVITE *', '3>1 200 OK *', '0>1 BYE', '1>2 BYE *', '2>1 200 OK *', '1>0 200 OK'],
  );
  assert.deepEqual(ladder.arrows.slice(0, 4).map((a) => a.deltaUs), [0, 10_000, 10_000, 500_000]);
  // IPv6 lanes keep the port apart.
  assert.equal(buildLadder('x', [{ ...messages[0]!, sourceIp: '2001:db8::1' }]).lanes[0], '[2001:db8::1]:5060');
  assert.equal(arrowLabel({ method: '486', replyReason: 'Busy Here' }), '486 Busy Here');
});

test('ladderText: one line per arrow between the right lanes', () => {
  const messages = messagesOf().slice(0, 4);
  const lines = ladderText(buildLadder(CALL, messages));
  assert.deepEqual(lines, [
    '                                192.0.2.10:5060       198.51.100.1:5060      203.0.113.7:5060',
    '                                       |                      |                      |',
    '11:00:00.000000                        |--------INVITE------->|                      |',
    '11:00:00.010000 +0.010                 |<-----100 Trying------|                      |',
    '11:00:00.020000 +0.010                 |                      |-------INVITE *------>|',
    '11:00:00.520000 +0.500                 |---INVITE (retrans)-->|                      |',
  ]);
});

test('callText: header, ladder, side rows and the messages in full; printable() defuses terminal escapes', () => {
  const messages = messagesOf();
  const flow: CallFlow = { callId: CALL, callIds: [CALL, `${CALL}_b2b-1`], messages, side: [], truncated: false };
  const text = callText(flow, buildLadder(CALL, messages), true);
  assert.match(text, /^Call-ID: ladder@test\nlegs: ladder@test_b2b-1 \(arrows marked \*\)\n16 messages from 2026-12-06 11:00:00.000000 UTC\n/);
  assert.equal(text.match(/^---- \d+\/16 /gm)?.length, 16);
  assert.ok(text.includes('INVITE sip:bob@example.com SIP/2.0\nVia:'));
  assert.equal(printable('a\x1b[2Jb\x07c\td\ne'), 'a?[2Jb?c\td\ne');
  assert.equal(callText({ ...flow, messages: [] }, { lanes: [], arrows: [] }, false), 'Call-ID: ladder@test\nlegs: ladder@test_b2b-1 (arrows marked *)\nno messages found\n');
});
