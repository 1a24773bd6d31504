/**
 * The dedup table (src/pipeline/dedup.ts): what makes two messages the same packet in `agent`
 * and `all` modes, the window, eviction at dedup_max_entries, and the config keys.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CapturedMessage } from '../../src/capture/message.js';
import { DedupTable, dedupFrom } from '../../src/pipeline/dedup.js';
import { oneProblem, valid } from '../config/helpers.js';

const T0 = 1_795_348_800_000; // ms

function msg(payload: string | Buffer, over: Partial<CapturedMessage> & { captureId?: number; atMs?: number; hepSec?: number } = {}): CapturedMessage {
  const { captureId = 2001, atMs = T0, hepSec = 1_795_348_800, ...rest } = over;
  return {
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    family: 2,
    proto: 1,
    srcIp: '192.0.2.10',
    srcPort: 5060,
    dstIp: '198.51.100.20',
    dstPort: 5060,
    hepTime: { sec: hepSec, usec: 0, captureId },
    correlationId: null,
    protoType: 1,
    receivedAtUs: atMs * 1000,
    source: 'hep',
    listener: 'udp:127.0.0.1:9060',
    ...rest,
  };
}

const INVITE = 'INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: a@x\r\n\r\n';

describe('dedup key', () => {
  test('same bytes and addresses: same key, whatever the timestamp; in mode all, whatever the capture id', () => {
    const all = new DedupTable({ mode: 'all', windowMs: 1000, maxEntries: 10 });
    const k = all.keyOf(msg(INVITE));
    assert.equal(all.keyOf(msg(INVITE, { hepSec: 1_795_348_900, atMs: T0 + 5 })), k, 'timestamps are not in the key');
    assert.equal(all.keyOf(msg(INVITE, { captureId: 2002 })), k, 'mode all: capture id not in the key');
    assert.equal(all.keyOf(msg(Buffer.from(INVITE))), k, 'a different Buffer with the same bytes');
    assert.ok(Number.isSafeInteger(k) && k >= 0 && k < 2 ** 53, 'a 53-bit integer');
  });

  test('mode agent: the capture id is in the key', () => {
    const agent = new DedupTable({ mode: 'agent', windowMs: 1000, maxEntries: 10 });
    assert.notEqual(agent.keyOf(msg(INVITE, { captureId: 2001 })), agent.keyOf(msg(INVITE, { captureId: 2002 })));
    assert.equal(agent.keyOf(msg(INVITE, { captureId: 2001 })), agent.keyOf(msg(INVITE, { captureId: 2001, atMs: T0 + 3 })));
    // No timestamp (HEP v1, raw capture): capture id 0.
    assert.equal(agent.keyOf(msg(INVITE, { hepTime: null })), agent.keyOf(msg(INVITE, { captureId: 0 })));
  });

  test('any difference in payload, addresses, ports, family or transport changes the key', () => {
    const t = new DedupTable({ mode: 'all', windowMs: 1000, maxEntries: 10 });
    const k = t.keyOf(msg(INVITE));
    const variants: CapturedMessage[] = [
      msg(INVITE.replace('a@x', 'b@x')),
      msg(INVITE + ' '),
      msg(INVITE.slice(0, -1)),
      msg(INVITE, { srcIp: '192.0.2.11' }),
      msg(INVITE, { dstIp: '198.51.100.21' }),
      msg(INVITE, { srcPort: 5061 }),
      msg(INVITE, { dstPort: 5061 }),
      msg(INVITE, { proto: 2 }),
      msg(INVITE, { family: 10 }),
      // Swapped addresses: the reverse direction is another packet.
      msg(INVITE, { srcIp: '198.51.100.20', dstIp: '192.0.2.10' }),
      // "1.2.3.4" + "5.6.7.8" must not read as "1.2.3.45" + ".6.7.8".
      msg(INVITE, { srcIp: '192.0.2.101', dstIp: '98.51.100.20' }),
    ];
    const keys = new Set(variants.map((v) => t.keyOf(v)));
    assert.ok(!keys.has(k), 'no variant has the original key');
    assert.equal(keys.size, variants.length, 'all variants differ from each other');
  });

  test('no collisions among 200 000 similar packets (sequential Call-IDs and CSeqs)', () => {
    const t = new DedupTable({ mode: 'all', windowMs: 1000, maxEntries: 10 });
    const keys = new Set<number>();
    for (let i = 0; i < 200_000; i++) keys.add(t.keyOf(msg(`INVITE sip:bob@example.com SIP/2.0\r\nCSeq: ${i % 7} INVITE\r\nCall-ID: call-${i}@x\r\n\r\n`)));
    assert.equal(keys.size, 200_000);
  });
});

describe('dedup window and size', () => {
  test('a copy within the window is a duplicate; the window runs from the first copy', () => {
    const t = new DedupTable({ mode: 'all', windowMs: 1000, maxEntries: 10 });
    assert.equal(t.isDuplicate(msg(INVITE, { atMs: T0 })), false, 'first copy');
    assert.equal(t.isDuplicate(msg(INVITE, { atMs: T0 + 10, captureId: 2002 })), true, 'another agent, 10 ms later');
    assert.equal(t.isDuplicate(msg(INVITE, { atMs: T0 + 1000 })), true, 'at the end of the window (inclusive)');
    assert.equal(t.isDuplicate(msg(INVITE, { atMs: T0 + 1001 })), false, 'after the window: a new packet (a retransmission), remembered anew');
    assert.equal(t.isDuplicate(msg(INVITE, { atMs: T0 + 1500 })), true, 'within the window of the new sighting');
    assert.equal(t.duplicates, 3);
    assert.equal(t.size, 1, 'the expired entry is gone');
  });

  test('expired entries are forgotten as time passes (size goes down)', () => {
    const t = new DedupTable({ mode: 'all', windowMs: 100, maxEntries: 1000 });
    for (let i = 0; i < 50; i++) t.isDuplicate(msg(`m${i}`, { atMs: T0 + i }));
    assert.equal(t.size, 50);
    t.isDuplicate(msg('later', { atMs: T0 + 120 }));
    // Entries older than T0 + 20 are gone: m0 … m19.
    assert.equal(t.size, 31);
    assert.equal(t.isDuplicate(msg('m10', { atMs: T0 + 121 })), false, 'm10 was forgotten');
    assert.equal(t.isDuplicate(msg('m30', { atMs: T0 + 121 })), true, 'm30 is still remembered');
    assert.equal(t.evicted, 0);
  });

  test('at dedup_max_entries the oldest entry is evicted and counted; memory stays bounded', () => {
    const t = new DedupTable({ mode: 'all', windowMs: 60_000, maxEntries: 3 });
    for (const p of ['a', 'b', 'c', 'd']) assert.equal(t.isDuplicate(msg(p)), false);
    assert.equal(t.size, 3);
    assert.equal(t.evicted, 1);
    assert.equal(t.isDuplicate(msg('a')), false, 'a was evicted: its copy is stored again');
    assert.equal(t.isDuplicate(msg('d')), true, 'd is remembered');
    for (let i = 0; i < 10_000; i++) t.isDuplicate(msg(`x${i}`));
    assert.equal(t.size, 3);
    assert.equal(t.evicted, 2 + 10_000);
  });

  test('a wall-clock step back keeps copies within the window (no false new packet)', () => {
    const t = new DedupTable({ mode: 'all', windowMs: 1000, maxEntries: 10 });
    t.isDuplicate(msg(INVITE, { atMs: T0 }));
    assert.equal(t.isDuplicate(msg(INVITE, { atMs: T0 - 5000 })), true);
  });

  test('agent mode merges one agent\'s copies only', () => {
    const t = new DedupTable({ mode: 'agent', windowMs: 1000, maxEntries: 10 });
    assert.equal(t.isDuplicate(msg(INVITE, { captureId: 1 })), false);
    assert.equal(t.isDuplicate(msg(INVITE, { captureId: 2 })), false, 'another agent: kept');
    assert.equal(t.isDuplicate(msg(INVITE, { captureId: 1, atMs: T0 + 1 })), true, 'agent 1 again: merged');
    assert.equal(t.isDuplicate(msg(INVITE, { captureId: 2, atMs: T0 + 1 })), true, 'agent 2 again: merged');
  });
});

describe('dedup configuration', () => {
  test('off by default; window 1000 ms; 200 000 entries', () => {
    const cfg = valid();
    assert.equal(cfg.dedup, 'off');
    assert.equal(cfg.dedup_window_ms, 1000);
    assert.equal(cfg.dedup_max_entries, 200_000);
    assert.equal(dedupFrom(cfg), null);
    const t = dedupFrom(valid({ dedup: 'agent', dedup_window_ms: 250, dedup_max_entries: 5 }));
    assert.ok(t instanceof DedupTable);
    assert.equal(t.mode, 'agent');
    assert.equal(t.windowMs, 250);
    assert.equal(t.maxEntries, 5);
  });

  test('bad values are refused with the key, the value and what is allowed', () => {
    oneProblem({ dedup: 'yes' }, /^dedup: /, /"yes"/, /"off", "agent", "all"/);
    oneProblem({ dedup: true }, /^dedup: /);
    oneProblem({ dedup_window_ms: 0 }, /^dedup_window_ms: /, /1\.\.60000/);
    oneProblem({ dedup_window_ms: 60_001 }, /^dedup_window_ms: /);
    oneProblem({ dedup_max_entries: 0 }, /^dedup_max_entries: /, /1\.\.10000000/);
    oneProblem({ dedup_max_entries: 1.5 }, /^dedup_max_entries: /);
  });
});
