/**
 * Malformed input: every byte string gives a value (a message or a coded error), never an
 * exception, and a row build never throws either. A light property test; the project's fuzzing
 * goes further.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildSipRow } from '../../src/capture/sip-row.js';
import { parseSip, type SipErrorCode } from '../../src/sip/parser.js';
import { routeFactsOf } from '../../src/route/facts.js';
import { WORKED_OPTS, WORKED_REPLY, WORKED_REQUEST, captured } from './fixtures.js';

const CODES: readonly SipErrorCode[] = ['too_short', 'bad_first_line', 'not_sip', 'bad_header', 'missing_required_header'];
const ROW_REASONS = ['bad_headers', 'bad_ruri', 'bad_from', 'bad_to', 'bad_contact'];

function exercise(buf: Buffer): void {
  const p = parseSip(buf);
  if (!p.ok) {
    assert.ok(CODES.includes(p.error.code), p.error.code);
    assert.equal(typeof p.error.message, 'string');
    return;
  }
  routeFactsOf(p.message);
  for (const captureBadMsgs of [false, true]) {
    const r = buildSipRow(captured(buf), p.message, { ...WORKED_OPTS, captureBadMsgs, topoh: { key: 'k', prefix: '!!:' } });
    if (!r.ok) assert.ok(ROW_REASONS.includes(r.reason), r.reason);
    else assert.equal(r.row.msg.length, buf.length);
  }
}

const SEEDS = [WORKED_REQUEST, WORKED_REPLY];
const INTERESTING = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x3a, 0x3b, 0x3c, 0x3e, 0x3d, 0x40, 0x5b, 0x5c, 0x5d, 0x2a, 0xff];

describe('robustness', () => {
  test('hand-picked malformed inputs return coded errors', () => {
    const cases = [
      '',
      '\r\n\r\n',
      'x'.repeat(17),
      'INVITE sip:a@b SIP/2.0\r\n\r\n',
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n',
      'SIP/2.0 200 OK\r\n:\r\n\r\n',
      'SIP/2.0 200 OK\r\nTo: <\r\n\r\n',
      'SIP/2.0 200 OK\r\nVia: \r\n',
      'SIP/2.0 200 OK\r\nCSeq:',
      'SIP/2.0 200 OK\r\n\u0000\u0000\u0000\u0000',
    ];
    for (const c of cases) {
      const p = parseSip(Buffer.from(c, 'latin1'));
      assert.ok(!p.ok, JSON.stringify(c));
      assert.ok(CODES.includes(p.error.code));
    }
  });

  test('random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        exercise(Buffer.from(bytes));
      }),
      { numRuns: 1500 },
    );
  });

  test('mutated valid messages never throw', () => {
    const mutation = fc.record({
      seed: fc.nat({ max: SEEDS.length - 1 }),
      edits: fc.array(
        fc.record({
          pos: fc.nat(),
          kind: fc.constantFrom('set', 'insert', 'delete', 'truncate'),
          byte: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 })),
        }),
        { minLength: 1, maxLength: 6 },
      ),
    });
    fc.assert(
      fc.property(mutation, ({ seed, edits }) => {
        let b = Buffer.from(SEEDS[seed] as Buffer);
        for (const e of edits) {
          const at = b.length === 0 ? 0 : e.pos % b.length;
          if (e.kind === 'set' && b.length > 0) b[at] = e.byte;
          else if (e.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from([e.byte]), b.subarray(at)]);
          else if (e.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
          else b = b.subarray(0, at);
        }
        exercise(b);
      }),
      { numRuns: 3000 },
    );
  });
});
