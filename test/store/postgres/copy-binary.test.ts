// The one-pass COPY BINARY encoder without a database: its bytes and counters must equal those
// of the straightforward reference (prepareRow() of values.ts, then each value encoded on its
// own), for generated rows, the edge rows, and random text on every path of the encoder
// (short / long, ASCII / non-ASCII, NUL, lone surrogates, over and under the width).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { columnValuesFiller, type SipCaptureRow } from '../../../src/capture/rows.js';
import { DEFAULT_LIMITS, SIP_LAYOUT, type ColumnLimits } from '../../../src/store/columns.js';
import { newCounters, prepareRow, type ValueCounters } from '../../../src/store/values.js';
import { BinaryCopyBatch, BufferPool, copyPlan, pgTimestampMicros } from '../../../src/store/postgres/copy-binary.js';
import { makeEdgeRows, makeSipRows } from './helpers.js';

/** Reference: PGCOPY header, per row the field count and each prepared value, trailer. */
function reference(rows: readonly SipCaptureRow[], limits: ColumnLimits, c: ValueCounters): Buffer {
  const parts: Buffer[] = [Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)])];
  for (const row of rows) {
    const values = prepareRow(row, SIP_LAYOUT, limits, c);
    const head = Buffer.alloc(2);
    head.writeInt16BE(values.length);
    parts.push(head);
    SIP_LAYOUT.columns.forEach((col, i) => {
      const v = values[i]!;
      let data: Buffer;
      if (col === 'date') {
        data = Buffer.alloc(8);
        data.writeBigInt64BE(pgTimestampMicros(v as string));
      } else if (col === 'micro_ts') {
        data = Buffer.alloc(8);
        data.writeBigInt64BE(BigInt(v as number));
      } else if (SIP_LAYOUT.ints.has(col)) {
        data = Buffer.alloc(4);
        data.writeInt32BE(v as number);
      } else if (col === 'msg') {
        data = v as Buffer;
      } else {
        data = Buffer.from(v as string, 'utf8');
      }
      const len = Buffer.alloc(4);
      len.writeInt32BE(data.length);
      parts.push(len, data);
    });
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

function encode(rows: readonly SipCaptureRow[], limits: ColumnLimits, c: ValueCounters, pool = new BufferPool()): Buffer {
  const b = new BinaryCopyBatch(copyPlan(SIP_LAYOUT, limits, columnValuesFiller('sip')), pool.take());
  for (const r of rows) b.add(r, c);
  const out = Buffer.from(b.end());
  pool.give(b.buffer);
  return out;
}

function assertSame(rows: readonly SipCaptureRow[], limits: ColumnLimits = DEFAULT_LIMITS): void {
  const cr = newCounters();
  const ce = newCounters();
  const want = reference(rows, limits, cr);
  const got = encode(rows, limits, ce);
  assert.ok(got.equals(want), 'encoded bytes differ from the reference');
  assert.deepEqual(ce, cr);
}

test('generated and edge rows: the same bytes and counters as prepareRow + per-value encoding', () => {
  assertSame(makeSipRows(500, 11));
  assertSame(makeEdgeRows());
  // Narrow widths (a Homer table read from the catalog) push many values over their width.
  const narrow = new Map(DEFAULT_LIMITS);
  for (const k of narrow.keys()) narrow.set(k, 5);
  assertSame([...makeSipRows(50, 12), ...makeEdgeRows()], narrow);
});

test('a buffer reused across batches and grown inside one gives the same bytes', () => {
  const pool = new BufferPool();
  const big = makeSipRows(2000, 13, 4096); // > 1 MiB: the first buffer grows
  for (const rows of [big, makeSipRows(3, 14), big.slice(0, 700)]) {
    const c = newCounters();
    assert.ok(encode(rows, DEFAULT_LIMITS, c, pool).equals(reference(rows, DEFAULT_LIMITS, newCounters())));
  }
});

test('random text on every path (short/long, ASCII or not, NUL, lone surrogates, widths), dates and integers', () => {
  const base = makeSipRows(1, 15)[0]!;
  const text = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.string({ unit: fc.constantFrom('a', '\0', 'é', '\ud800', '\udc00', '😀', ' '), maxLength: 300 }),
  );
  fc.assert(
    fc.property(
      fc.array(fc.record({ callid: text, via_1: text, method: text, user_agent: text, cseq: text, sec: fc.integer({ min: 0, max: 2 }), ts: fc.maxSafeInteger(), port: fc.integer() }), {
        minLength: 1,
        maxLength: 6,
      }),
      (specs) => {
        const rows = specs.map((s): SipCaptureRow => ({
          ...base,
          callid: s.callid,
          via_1: s.via_1,
          method: s.method,
          user_agent: s.user_agent,
          cseq: s.cseq,
          date: `2026-11-22 10:00:0${s.sec}`,
          micro_ts: s.ts,
          source_port: s.port,
        }));
        assertSame(rows);
      },
    ),
    { numRuns: 300 },
  );
});

test('a bad date or a micro_ts beyond int64 is a RangeError (a row error for the writer)', () => {
  const [row] = makeSipRows(1, 16);
  assert.throws(() => encode([{ ...row!, date: 'not a date' }], DEFAULT_LIMITS, newCounters()), RangeError);
  assert.throws(() => encode([{ ...row!, date: '' }], DEFAULT_LIMITS, newCounters()), RangeError);
  assert.throws(() => encode([{ ...row!, micro_ts: 1e300 }], DEFAULT_LIMITS, newCounters()), RangeError);
});
