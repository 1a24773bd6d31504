/**
 * The bare PostgreSQL COPY ceiling every storage benchmark compares against: text-format COPY
 * of the 44 sip_capture columns with the minimal escaping a hand-written client would do
 * (the fastest COPY text path measured for this row shape), streamed in 256 KiB chunks through pg-copy-streams.
 */
import { once } from 'node:events';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { SIP_CAPTURE_COLUMNS, type SipCaptureRow } from '../../src/capture/rows.js';

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_G = /[\\\t\n\r]/g;
const COPY_ESC: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const escText = (s: string): string => (COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_G, (c) => COPY_ESC[c]!) : s);
const CHUNK_CHARS = 256 * 1024;

/** COPY text lines for `rows`, cut into chunks of about 256 KiB. */
export function copyTextChunks(rows: readonly SipCaptureRow[]): string[] {
  const out: string[] = [];
  let chunk = '';
  for (const r of rows) {
    let line = '';
    for (let c = 0; c < SIP_CAPTURE_COLUMNS.length; c++) {
      const v = r[SIP_CAPTURE_COLUMNS[c]!];
      if (c > 0) line += '\t';
      line += typeof v === 'number' ? String(v) : Buffer.isBuffer(v) ? '\\\\x' + v.toString('hex') : escText(v);
    }
    chunk += line + '\n';
    if (chunk.length >= CHUNK_CHARS) {
      out.push(chunk);
      chunk = '';
    }
  }
  if (chunk !== '') out.push(chunk);
  return out;
}

/** One `COPY table FROM STDIN` of `chunks` on `client` (table name already quoted). */
export async function copyChunks(client: pg.Client, quotedTable: string, chunks: readonly string[]): Promise<void> {
  const cols = SIP_CAPTURE_COLUMNS.map((c) => `"${c}"`).join(',');
  const stream = client.query(copyFrom(`COPY ${quotedTable} (${cols}) FROM STDIN`));
  const done = once(stream, 'finish');
  for (const c of chunks) if (!stream.write(c)) await once(stream, 'drain');
  stream.end();
  await done;
}
