/**
 * Shared by the PostgreSQL, MySQL and spool tests and by bench/micro/store.bench.ts: server URLs and
 * reachability (skip with a printed reason, but fail under CI=true), realistic generated SIP
 * rows with 1 KiB messages, and edge-case rows.
 */
import net from 'node:net';
import mysql from 'mysql2/promise';
import type pg from 'pg';
import type { ReportRow, SipCaptureRow, TableKind } from '../../../src/capture/rows.js';
import { REPORT_COLUMNS, SIP_CAPTURE_COLUMNS } from '../../../src/capture/rows.js';
import { DEFAULT_LIMITS, type ColumnLimits } from '../../../src/store/columns.js';
import { cleanText, newCounters, truncateChars } from '../../../src/store/values.js';
import { prng } from '../../../src/loadgen/mix.js';

export const PG_URL = process.env['SIPCAPTURE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env['SIPCAPTURE_TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test';

/** A per-run suffix so parallel test runs sharing the databases never collide. */
export const RUN = `${process.pid}_${Math.floor(Math.random() * 1e6)}`;

/** Whether a TCP server answers at the host:port of `url` (for skips). */
export function reachable(url: string, defaultPort: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect({ host: u.hostname || '127.0.0.1', port: Number(u.port || defaultPort) });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(2000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * undefined when the server answers; otherwise the skip reason (printed). Under CI=true an
 * unreachable server is an error, so the test file fails instead of skipping.
 */
export async function skipReason(kind: 'postgres' | 'mysql'): Promise<string | undefined> {
  const url = kind === 'postgres' ? PG_URL : MYSQL_URL;
  if (await reachable(url, kind === 'postgres' ? 5432 : 3306)) return undefined;
  const reason = `${kind} not reachable at ${url}`;
  if (process.env['CI'] === 'true') throw new Error(`${reason} (CI=true: unreachable servers fail)`);
  console.log(`# SKIP ${reason}`);
  return reason;
}

// ---- deterministic generator (the load generator's PRNG) ----

const METHODS = ['INVITE', 'ACK', 'BYE', 'REGISTER', 'OPTIONS', '200', '180', '486', 'CANCEL', 'NOTIFY'];
const UAS = ['Yealink SIP-T46S 66.86.0.15', 'Asterisk PBX 18.20.0', 'Linphone/5.2.0 (belle-sip/5.2.0)', 'FreeSWITCH-mod_sofia/1.10.9'];

function fmtDate(sec: number): string {
  return new Date(sec * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** A 1 KiB SIP message (CRLF line ends, SDP body padded to the size). */
function sipMessage(r: SipCaptureRow, size: number): Buffer {
  const head =
    `${r.type === 1 ? `${r.method} ${r.ruri} SIP/2.0` : `SIP/2.0 ${r.method} ${r.reply_reason}`}\r\n` +
    `Via: ${r.via_1}\r\n` +
    `From: <sip:${r.from_user}@${r.from_domain}>;tag=${r.from_tag}\r\n` +
    `To: <sip:${r.to_user}@${r.to_domain}>${r.to_tag ? `;tag=${r.to_tag}` : ''}\r\n` +
    `Call-ID: ${r.callid}\r\nCSeq: ${r.cseq}\r\nUser-Agent: ${r.user_agent}\r\n` +
    `Content-Type: application/sdp\r\n`;
  const bodyLen = Math.max(0, size - Buffer.byteLength(head) - 24);
  const body = 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\n'
    .repeat(Math.ceil(bodyLen / 80) + 1)
    .slice(0, bodyLen);
  const msg = `${head}Content-Length: ${String(bodyLen).padStart(4, '0')}\r\n\r\n${body}`;
  return Buffer.from(msg, 'latin1').subarray(0, size);
}

export function makeSipRows(n: number, seed = 1, msgSize = 1024): SipCaptureRow[] {
  const rnd = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const hex = (len: number): string =>
    Array.from({ length: len }, () => '0123456789abcdef'[Math.floor(rnd() * 16)]).join('');
  const rows: SipCaptureRow[] = [];
  const t0 = 1_700_000_000;
  for (let i = 0; i < n; i++) {
    const method = pick(METHODS);
    const isReq = !/^\d/.test(method);
    const sec = t0 + i;
    const callid = `${hex(16)}@10.0.${i % 250}.${(i * 7) % 250}`;
    const fromUser = `+4930${Math.floor(rnd() * 1e7)}`;
    const toUser = `+4940${Math.floor(rnd() * 1e7)}`;
    const row: SipCaptureRow = {
      date: fmtDate(sec),
      micro_ts: sec * 1_000_000 + Math.floor(rnd() * 1e6),
      method,
      reply_reason: isReq ? '' : method === '200' ? 'OK' : method === '180' ? 'Ringing' : 'Busy Here',
      ruri: isReq ? `sip:${toUser}@example.com;user=phone` : '',
      ruri_user: isReq ? toUser : '',
      ruri_domain: isReq ? 'example.com' : '',
      from_user: fromUser,
      from_domain: 'atlanta.example.com',
      from_tag: hex(10),
      to_user: toUser,
      to_domain: 'example.com',
      to_tag: isReq ? '' : hex(8),
      pid_user: rnd() < 0.5 ? fromUser : '',
      contact_user: fromUser,
      auth_user: rnd() < 0.2 ? 'puser' : '',
      callid,
      callid_aleg: rnd() < 0.1 ? `aleg-${hex(8)}` : '',
      via_1: `SIP/2.0/UDP 10.0.0.${i % 250}:5060;branch=z9hG4bK${hex(12)};rport`,
      via_1_branch: `z9hG4bK${hex(12)}`,
      cseq: `${1 + (i % 20)} ${isReq ? method : 'INVITE'}`,
      diversion: rnd() < 0.05 ? '<sip:div@x.com>;reason=unconditional' : '',
      reason: rnd() < 0.05 ? 'Q.850;cause=16' : '',
      content_type: 'application/sdp',
      auth: '',
      user_agent: pick(UAS),
      source_ip: `10.0.${i % 250}.1`,
      source_port: 5060,
      destination_ip: `192.168.${i % 250}.2`,
      destination_port: 5080,
      contact_ip: `10.0.${i % 250}.1`,
      contact_port: 5062,
      originator_ip: '',
      originator_port: 0,
      correlation_id: callid,
      custom_field1: '',
      custom_field2: '',
      custom_field3: '',
      proto: 1,
      family: 2,
      rtp_stat: rnd() < 0.05 ? 'PS=100,OS=16000,PR=100,OR=16000,PL=0' : '',
      type: isReq ? 1 : 2,
      node: 'homer01:2001',
      msg: Buffer.alloc(0),
    };
    row.msg = sipMessage(row, msgSize);
    rows.push(row);
  }
  return rows;
}

export function makeReportRows(n: number, seed = 2): ReportRow[] {
  const rnd = prng(seed);
  return Array.from({ length: n }, (_, i) => ({
    date: fmtDate(1_700_000_000 + i),
    micro_ts: (1_700_000_000 + i) * 1_000_000 + Math.floor(rnd() * 1e6),
    correlation_id: `cid-${i}@host`,
    source_ip: '10.0.0.1',
    source_port: 40000 + (i % 1000),
    destination_ip: '10.0.0.2',
    destination_port: 40002,
    proto: 1,
    family: 2,
    type: 3,
    node: 'homer01:2001',
    msg: Buffer.from(JSON.stringify({ type: 200, ssrc: i, report_count: 1, sender_information: { packets: i } })),
  }));
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** Rows that stress escaping and limits. Each one's values are noted in the `custom_field1` column. */
export function makeEdgeRows(): SipCaptureRow[] {
  const base = makeSipRows(8, 99);
  const b = (i: number): SipCaptureRow => ({ ...base[i]! });
  const rows: SipCaptureRow[] = [];
  // 0: every byte value and CRLF in msg; quotes, backslashes, tabs, newlines in text.
  let r = b(0);
  r.msg = Buffer.concat([ALL_BYTES, Buffer.from('\r\n\r\n\0\xff\\N\\.\n', 'latin1'), ALL_BYTES]);
  r.user_agent = `O'Reilly "UA" \\ back\\slash \t tab \n nl \r cr \\N \\. end`;
  r.callid = `quote'"\\;--`;
  r.custom_field1 = 'bytes+escapes';
  rows.push(r);
  // 1: injection-looking text, percent signs, SQL comments, a tab-only value.
  r = b(1);
  r.from_user = `'); DROP TABLE sip_capture; --`;
  r.to_user = '%Y%m%d %s %% ?? $1 :name';
  r.reason = '\t';
  r.custom_field1 = 'injection';
  rows.push(r);
  // 2: NUL in text (stripped), NUL-only msg.
  r = b(2);
  r.callid = 'abc\0def\0';
  r.cseq = '\0';
  r.msg = Buffer.from([0, 0, 0]);
  r.custom_field1 = 'nul';
  rows.push(r);
  // 3: invalid UTF-8 as it can appear in a JS string: lone surrogates; and U+FFFD from decoding.
  r = b(3);
  r.user_agent = `bad \ud800 mid \udfff end \ud83d`;
  r.reply_reason = Buffer.from([0x41, 0xff, 0xfe, 0x42, 0xc3]).toString('utf8');
  r.custom_field2 = Buffer.from([0xe9, 0xe8, 0x80]).toString('latin1');
  r.msg = Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]);
  r.custom_field1 = 'invalid-utf8';
  rows.push(r);
  // 4: 64 KB values everywhere (truncated to widths), 64 KB msg kept exact.
  r = b(4);
  const big = 'x'.repeat(65_536);
  r.via_1 = big;
  r.callid = 'c'.repeat(65_536);
  r.ruri = big;
  r.user_agent = 'é'.repeat(65_536);
  r.msg = Buffer.alloc(65_536, 0xab);
  r.custom_field1 = 'big';
  rows.push(r);
  // 5: astral characters (4-byte UTF-8) at the truncation edge: no pair is split.
  r = b(5);
  r.cseq = '😀'.repeat(100);
  r.method = 'M'.repeat(63) + '😀😀';
  r.custom_field1 = 'astral';
  rows.push(r);
  // 6: empty strings everywhere, zero ints, empty msg.
  r = b(6);
  for (const c of SIP_CAPTURE_COLUMNS) {
    const rec = r as unknown as Record<string, unknown>;
    if (typeof rec[c] === 'string' && c !== 'date') rec[c] = '';
    if (typeof rec[c] === 'number') rec[c] = 0;
  }
  r.msg = Buffer.alloc(0);
  rows.push(r);
  // 7: max values for ints, a date at the end of a year.
  r = b(7);
  r.micro_ts = Number.MAX_SAFE_INTEGER;
  r.source_port = 65_535;
  r.destination_port = 2_147_483_647;
  r.date = '2037-12-31 23:59:59';
  r.custom_field1 = 'limits';
  rows.push(r);
  return rows;
}

/** The row as the stores must write it: text cleaned and cut to `limits`, msg untouched. */
export function expectedRow(row: SipCaptureRow | ReportRow, limits: ColumnLimits = DEFAULT_LIMITS): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const c = newCounters();
  for (const [k, v] of Object.entries(row)) {
    if (typeof v === 'string' && k !== 'date') {
      const w = limits.get(k);
      const s = cleanText(v, c);
      out[k] = w === undefined ? s : truncateChars(s, w);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Compares one read-back row with the expected one column by column, naming the column. */
export function assertRowEqual(
  actual: Record<string, unknown>,
  expected: Record<string, unknown>,
  columns: readonly string[],
  label: string,
  eq: (a: unknown, b: unknown, msg: string) => void,
): void {
  for (const c of columns) {
    const a = actual[c];
    const e = expected[c];
    if (Buffer.isBuffer(e)) {
      if (!Buffer.isBuffer(a) || !a.equals(e)) {
        eq(Buffer.isBuffer(a) ? a.toString('hex').slice(0, 200) : a, e.toString('hex').slice(0, 200), `${label}: column ${c} bytes differ`);
        eq(Buffer.isBuffer(a) ? a.length : -1, e.length, `${label}: column ${c} length`);
      }
    } else {
      eq(a, e, `${label}: column ${c}`);
    }
  }
}

/** Reads a PostgreSQL table back in id order with every column in a comparable JS form. */
export async function readPg(client: pg.Pool, table: string, kind: TableKind): Promise<Record<string, unknown>[]> {
  const cols = kind === 'sip' ? SIP_CAPTURE_COLUMNS : REPORT_COLUMNS;
  const sel = cols.map((c) => (c === 'date' ? `"date"::text AS "date"` : c === 'micro_ts' ? `micro_ts::text AS micro_ts` : `"${c}"`));
  const res = await client.query<Record<string, unknown>>(`SELECT ${sel.join(', ')} FROM "${table}" ORDER BY id`);
  return res.rows.map((r) => ({ ...r, micro_ts: Number(r['micro_ts']) }));
}

/** Reads a MySQL table back in id order with every column in a comparable JS form. */
export async function readMysql(conn: mysql.Pool, table: string, kind: TableKind): Promise<Record<string, unknown>[]> {
  const cols = kind === 'sip' ? SIP_CAPTURE_COLUMNS : REPORT_COLUMNS;
  const [rows] = await conn.query<mysql.RowDataPacket[]>(`SELECT ${cols.map((c) => `\`${c}\``).join(', ')} FROM \`${table}\` ORDER BY id`);
  return rows.map((r) => ({ ...r, micro_ts: Number(r['micro_ts']) }));
}

export function mysqlAdminPool(): mysql.Pool {
  return mysql.createPool({ uri: MYSQL_URL, connectionLimit: 2, dateStrings: true, supportBigNumbers: true, charset: 'utf8mb4_general_ci' });
}
