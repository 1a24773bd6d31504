/**
 * The golden test: every packet of the Kamailio 5.6.3 corpus, decoded and turned into a row,
 * must equal the row Kamailio stored, column for column (test/fixtures/golden/README.md).
 * Deliberate differences are asserted as exactly that difference:
 * - msg: we store the payload unchanged; Kamailio's X-OIP code wrote a NUL over the first ':'
 *   at or after the X-OIP body start.
 * - date / micro_ts of set d1 (HEPv1 has no timestamp: Kamailio used its receive time).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSipRow } from '../../src/capture/sip-row.js';
import { SIP_CAPTURE_COLUMNS, type SipCaptureRow } from '../../src/capture/rows.js';
import { decodeHep } from '../../src/hep/decode.js';
import { hepToCapturedMessage } from '../../src/hep/to-captured.js';
import { parseSip } from '../../src/sip/parser.js';
import { assertXoipNul, goldenCorpus, KAMAILIO_CORPUS_OPTIONS } from '../helpers/kamailio-corpus.js';

interface CorpusLine {
  set: 's3' | 'd3' | 'd2' | 'd1';
  hep_hex: string;
  meta: { seq: number; label?: string | null };
  kamailio_row: Record<string, string | number>;
}

const lines = goldenCorpus<CorpusLine>();
const OPTS = KAMAILIO_CORPUS_OPTIONS;
const RECEIVED_AT_US = 1_800_000_000_123_456;

/** The value Kamailio stored, in our row's representation. */
function expected(line: CorpusLine, col: keyof SipCaptureRow): string | number {
  const k = line.kamailio_row;
  if (col === 'msg') return String(k['msg_hex']);
  const v = k[col];
  assert.notEqual(v, undefined, `corpus row lacks column ${col}`);
  // the corpus renders timestamps as ISO text (2026-11-22T12:00:00)
  if (col === 'date') return String(v).replace('T', ' ');
  return v as string | number;
}

const stats = { rows: 0, equalRows: 0, xoipNul: 0 };

describe('golden corpus: Kamailio 5.6.3 rows', () => {
  test('the corpus has 346 packets in four sets', () => {
    assert.equal(lines.length, 346);
    const sets = new Set(lines.map((l) => l.set));
    assert.deepEqual([...sets].sort(), ['d1', 'd2', 'd3', 's3']);
  });

  for (const line of lines) {
    test(`${line.set} #${line.meta.seq} ${line.meta.label ?? ''}`.trim(), () => {
      const hep = decodeHep(Buffer.from(line.hep_hex, 'hex'));
      assert.ok(hep.ok, 'HEP decodes');
      const msg = hepToCapturedMessage(hep.packet, 'udp:golden', RECEIVED_AT_US);
      const parsed = parseSip(msg.payload);
      assert.ok(parsed.ok, `SIP parses: ${parsed.ok ? '' : parsed.error.message}`);
      const built = buildSipRow(msg, parsed.message, OPTS);
      assert.ok(built.ok, `row builds: ${built.ok ? '' : built.message}`);
      const row = built.row;
      stats.rows++;
      let identical = true;

      for (const col of SIP_CAPTURE_COLUMNS) {
        if (line.set === 'd1' && (col === 'date' || col === 'micro_ts')) {
          // Deliberate: HEPv1 has no timestamp; Kamailio used its own receive time.
          assert.equal(msg.hepTime, null);
          assert.equal(row.micro_ts, RECEIVED_AT_US);
          assert.equal(row.date, '2027-01-15 08:00:00');
          continue;
        }
        const exp = expected(line, col);
        if (col === 'msg') {
          // We store the HEP payload as received.
          assert.ok(row.msg.equals(msg.payload), 'msg is the payload');
          const ours = row.msg.toString('hex');
          if (ours === exp) continue;
          identical = false;
          // Deliberate difference: Kamailio wrote a NUL over the first ':' at/after the X-OIP body.
          const xoip = parsed.message.lookupByName('X-OIP');
          assert.ok(xoip >= 0, 'the message has an X-OIP header');
          assertXoipNul(row.msg, Buffer.from(String(exp), 'hex'), parsed.message.headerBodyStart(xoip));
          stats.xoipNul++;
          continue;
        }
        assert.equal(row[col], exp, `column ${col}`);
      }
      if (identical) stats.equalRows++;
    });
  }

  test('summary: rows equal column for column, and the X-OIP NUL difference', () => {
    assert.equal(stats.rows, 346);
    assert.equal(stats.xoipNul, 2);
    assert.equal(stats.equalRows, 344);
    process.stdout.write(`# golden: ${stats.equalRows} of ${stats.rows} rows identical; ${stats.xoipNul} differ only by Kamailio's X-OIP NUL in msg\n`);
  });
});
