/**
 * Rows for the ceiling measurements: the load generator's own traffic, run through the daemon's
 * real decode → parse → row-building code with the default config, so the bare clients write
 * exactly the rows the daemon would.
 */
import { buildSipRow } from '../../src/capture/sip-row.js';
import type { SipCaptureRow } from '../../src/capture/rows.js';
import { validateConfig } from '../../src/config/load.js';
import { rowOptionsFrom } from '../../src/capture/sip-row.js';
import { decodeHep } from '../../src/hep/decode.js';
import { hepToCapturedMessage } from '../../src/hep/to-captured.js';
import type { MixName } from '../../src/loadgen/mix.js';
import { PacketFactory } from '../../src/loadgen/packets.js';
import { parseSip } from '../../src/sip/parser.js';

export function generateRows(n: number, mix: MixName, seed = 7): SipCaptureRow[] {
  const cfg = validateConfig({ db_url: 'sqlite://unused.sqlite', capture_on: 1, hep_capture_on: 1 }, '/tmp/bench-ceiling.json5');
  const opts = rowOptionsFrom(cfg);
  const factory = new PacketFactory({ mix, versions: [3], seed });
  const rows: SipCaptureRow[] = [];
  const t0 = Math.round(Date.now() * 1000);
  for (let i = 0; i < n; i++) {
    const ts = t0 + i * 20;
    const d = decodeHep(factory.next(3, ts));
    if (!d.ok) throw new Error(`generated packet ${i} does not decode: ${d.error.message}`);
    const msg = hepToCapturedMessage(d.packet, 'bench', ts);
    const parsed = parseSip(msg.payload);
    if (!parsed.ok) throw new Error(`generated packet ${i} does not parse: ${parsed.error.message}`);
    const built = buildSipRow(msg, parsed.message, opts);
    if (!built.ok) throw new Error(`row ${i}: ${built.message}`);
    // The payload is a view into the packet; a stored row owns its bytes.
    rows.push({ ...built.row, msg: Buffer.from(built.row.msg) });
  }
  return rows;
}
