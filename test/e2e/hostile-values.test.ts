/**
 * Hostile field values through the whole daemon, into SQLite, PostgreSQL and MariaDB (real
 * servers): HEP frames whose SIP headers carry quotes, backslashes, `\'`, `%`, `;--`, `$1`, NUL
 * bytes, invalid UTF-8, 4-byte UTF-8 and values longer than their column, plus a 65 000-byte
 * message with every byte value in its body. Every column is read back and compared with the
 * documented rules (docs/storage.md, "Values"), computed here independently of src/store:
 *
 *   text = UTF-8 decode of the header bytes (each invalid sequence → U+FFFD), NULs removed, cut
 *          to the column width in code points;  msg = the payload, byte for byte.
 *
 * The store's counters (truncated values / rows, NULs stripped, invalid UTF-8 replaced) must match what the corpus
 * implies, and the three backends must hold identical rows.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SIP_CAPTURE_COLUMNS } from '../../src/capture/rows.js';
import { requireOrSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/net.js';
import { HepTcpSender, MYSQL_URL, PG_URL, mysqlNamespace, pgNamespace, reachable, sqliteNamespace, startTestDaemon, type Namespace, type ReadRow } from '../store/_e2e.js';

const TS = 1795348800; // 2026-11-22 12:00:00 UTC

/** Column widths of sql/*\/schema.sql for the columns this corpus fills (docs/storage.md). */
const WIDTH: Readonly<Record<string, number>> = {
  method: 64,
  cseq: 64,
  from_user: 256,
  to_user: 256,
  callid: 256,
  correlation_id: 256,
  callid_aleg: 256,
  via_1: 1024,
  via_1_branch: 256,
  user_agent: 512,
  custom_field1: 256,
  custom_field2: 256,
  custom_field3: 256,
};

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const raw = (bytes: number[]): Buffer => Buffer.from(bytes);
const cat = (...parts: (string | Buffer)[]): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? b(p) : p)));

/** The documented rule, written independently of src/store/values.ts. */
function stored(value: Buffer, column: string): { text: string; nul: boolean; truncated: boolean } {
  const decoded = new TextDecoder('utf-8', { fatal: false }).decode(value);
  const nul = decoded.includes('\0');
  const clean = decoded.split('\0').join('');
  const points = Array.from(clean);
  const w = WIDTH[column] ?? Infinity;
  return { text: points.length > w ? points.slice(0, w).join('') : clean, nul, truncated: points.length > w };
}

interface Case {
  /** Call-ID prefix that identifies the row (the rest of the Call-ID is hostile). */
  label: string;
  method: Buffer;
  from: Buffer;
  to: Buffer;
  callid: Buffer;
  branch: Buffer;
  ua: Buffer;
  mac: Buffer;
  ip: Buffer;
  port: Buffer;
  xcid: Buffer;
  body: Buffer;
}

const QUOTES = `'single' "double" \\back\\slash \\' %s %% %Y ;-- DROP TABLE sip_capture; -- $1 $$ ? :name \\N \\. E'\\x00'`;

function cases(): Case[] {
  const base = (label: string): Case => ({
    label,
    method: b('INVITE'),
    from: b('alice'),
    to: b('bob'),
    callid: b(`${label}@x`),
    branch: b(`z9hG4bK-${label}`),
    ua: b('ua'),
    mac: b('m'),
    ip: b('i'),
    port: b('p'),
    xcid: b('aleg'),
    body: Buffer.alloc(0),
  });
  const out: Case[] = [];
  // Quotes, backslashes, SQL and printf/placeholder syntax in every field.
  let c = base('quotes');
  c.method = b("X'%`~*!"); // a token: RFC 3261 allows ' % ` ~ * ! in a method
  c.from = b("o'brien$1%27x");
  c.to = b("to\\'user--%00");
  c.callid = b(`quotes-'"\\';--$1%@x`);
  c.branch = b("z9hG4bK'%`~*!+.--"); // the token characters a Via parameter allows (no quote, backslash or $)
  c.ua = b(QUOTES);
  c.mac = b(`'); DROP TABLE sip_capture; --`);
  c.ip = b(`\\x00 \\N \\. \\\\N "`);
  c.port = b(`$1$2 %Y%m%d ?? :name '`);
  c.xcid = b(`a'leg"\\`);
  c.body = b(`v=0\r\ns=${QUOTES}\r\n`);
  out.push(c);
  // NUL bytes inside values (removed from text, kept in msg).
  c = base('nul');
  c.callid = cat('nul-a', raw([0]), 'b', raw([0, 0]), 'c@x');
  c.ua = cat('before', raw([0]), 'after', raw([0]), '!');
  c.mac = cat(raw([0]), 'm');
  c.xcid = cat('x', raw([0]), 'y');
  c.body = cat('body', raw([0, 0, 0]), 'end');
  out.push(c);
  // Invalid UTF-8: a Latin-1 é, a lone continuation byte, a truncated 3-byte sequence, 0xFF 0xFE, an overlong '/'.
  c = base('badutf8');
  c.from = cat('caf', raw([0xe9]), 'e');
  c.callid = cat('badutf8-', raw([0xff, 0xfe]), '@x');
  c.ua = cat('caf', raw([0xe9]), ' lone', raw([0x80]), ' cut', raw([0xe2, 0x82]), ' ff', raw([0xff]), ' overlong', raw([0xc0, 0xaf]), ' end');
  c.mac = raw([0xc3, 0x28]);
  c.ip = raw([0xed, 0xa0, 0x80]); // an encoded surrogate: invalid in UTF-8
  c.body = raw([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]);
  out.push(c);
  // 4-byte UTF-8 (emoji) and other non-ASCII.
  c = base('emoji');
  c.from = b('zoë😀');
  c.callid = b('emoji-😀🎉@x');
  c.ua = b('Zoë’s phone ☎ 😀🎉👨‍👩‍👧');
  c.mac = b('😀');
  c.port = b('𝄞𝄞');
  out.push(c);
  // Longer than the columns (cut in code points; an emoji is never split).
  c = base('long');
  c.method = b('M'.repeat(100));
  c.from = b('u'.repeat(300));
  c.callid = b(`long-${'c'.repeat(300)}@x`);
  c.branch = b(`z9hG4bK${'b'.repeat(400)}`);
  c.ua = b('😀'.repeat(600));
  c.mac = b('é'.repeat(300));
  c.ip = b(`${'x'.repeat(255)}😀😀`);
  c.xcid = b('a'.repeat(1000));
  out.push(c);
  // A 65 000-byte message: every byte value, repeated, in the body.
  c = base('big');
  c.ua = b(`big ${QUOTES}`);
  out.push(c);
  return out;
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const BIG_SIZE = 65_000;

function message(c: Case): Buffer {
  const head = (body: Buffer): Buffer =>
    cat(
      c.method, ' sip:bob@example.com SIP/2.0\r\n',
      'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=', c.branch, ';rport\r\n',
      'Max-Forwards: 70\r\n',
      'From: "Alice" <sip:', c.from, '@example.com>;tag=ft1\r\n',
      'To: <sip:', c.to, '@example.com>\r\n',
      'Call-ID: ', c.callid, '\r\n',
      'CSeq: 1 ', c.method, '\r\n',
      'User-Agent: ', c.ua, '\r\n',
      'Mac: ', c.mac, '\r\n',
      'IP: ', c.ip, '\r\n',
      'Port: ', c.port, '\r\n',
      'X-CID: ', c.xcid, '\r\n',
      `Content-Length: ${body.length}\r\n\r\n`,
    );
  if (c.label !== 'big') return Buffer.concat([head(c.body), c.body]);
  // Pad the body so the whole message is BIG_SIZE bytes (Content-Length has 5 digits either way).
  const fixed = head(Buffer.alloc(10_000)).length;
  const body = Buffer.alloc(BIG_SIZE - fixed);
  for (let i = 0; i < body.length; i += 256) ALL_BYTES.copy(body, i, 0, Math.min(256, body.length - i));
  c.body = body;
  const m = Buffer.concat([head(body), body]);
  assert.equal(m.length, BIG_SIZE);
  return m;
}

/** Expected column values and the counters they imply. */
function expectations(c: Case): { columns: Record<string, string>; nul: number; truncated: number; replaced: number } {
  const via1 = cat('SIP/2.0/UDP 192.0.2.10:5060;branch=', c.branch, ';rport');
  const src: Record<string, Buffer> = {
    method: c.method,
    from_user: c.from,
    to_user: c.to,
    callid: c.callid,
    correlation_id: c.callid,
    callid_aleg: c.xcid,
    via_1: via1,
    via_1_branch: c.branch,
    user_agent: c.ua,
    custom_field1: c.mac,
    custom_field2: c.ip,
    custom_field3: c.port,
    cseq: cat('1 ', c.method),
  };
  const columns: Record<string, string> = {};
  let nul = 0;
  let truncated = 0;
  let replaced = 0;
  for (const [col, v] of Object.entries(src)) {
    const s = stored(v, col);
    columns[col] = s.text;
    if (s.nul) nul++;
    if (s.truncated) truncated++;
    // bytes that are not UTF-8 became U+FFFD when the row was built
    if (v.toString('utf8').includes('\uFFFD')) replaced++;
  }
  return { columns, nul, truncated, replaced };
}

const skip = requireOrSkip((await reachable(PG_URL, 5432)) && (await reachable(MYSQL_URL, 3306)), `PostgreSQL at ${PG_URL} and MariaDB at ${MYSQL_URL}`);

describe('hostile values: stored exactly, or cleaned / cut as documented, in every backend', { skip }, () => {
  const corpus = cases();
  const frames = corpus.map((c) => message(c));
  const expected = corpus.map((c) => expectations(c));
  const totalNul = expected.reduce((n, e) => n + e.nul, 0);
  const totalTrunc = expected.reduce((n, e) => n + e.truncated, 0);
  const truncRows = expected.filter((e) => e.truncated > 0).length;
  const totalReplaced = expected.reduce((n, e) => n + e.replaced, 0);
  const results = new Map<string, ReadRow[]>();

  const backends: [string, () => Promise<Namespace>][] = [
    ['sqlite', () => Promise.resolve(sqliteNamespace())],
    ['postgres', () => pgNamespace('hostile')],
    ['mysql', () => mysqlNamespace('hostile')],
  ];
  for (const [name, makeNs] of backends) {
    test(`${name}: every hostile value read back as the rules say; counters match`, { timeout: 60_000 }, async () => {
      const ns = await makeNs();
      const d = await startTestDaemon({ db_url: ns.url(), routes: 'default', table_name: 'sip_capture_hostile' });
      try {
        const sender = await HepTcpSender.connect(d.port);
        await sender.send(frames.map((f, i) => ({ text: f, tsSec: TS, tsUsec: i })));
        await sender.close();
        assert.ok(await waitFor(async () => (await ns.callids()).length >= frames.length, 20_000, 100), `${name}: all ${frames.length} rows stored; dropped ${JSON.stringify(d.daemon.stats.snapshot().dropped)}`);
        await d.daemon.storage.writerFor(ns.url()).flush();
        const rows = await ns.readAll();
        assert.equal(rows.length, corpus.length);
        assert.deepEqual(d.daemon.stats.snapshot().dropped, {}, 'nothing dropped');
        for (let i = 0; i < corpus.length; i++) {
          const c = corpus[i]!;
          const row = rows[i]!;
          assert.equal(row.table, 'sip_capture_hostile');
          for (const [col, want] of Object.entries(expected[i]!.columns)) {
            assert.equal(row[col], want, `${name} ${c.label}: column ${col}`);
          }
          const msg = row['msg'];
          assert.ok(Buffer.isBuffer(msg), `${name} ${c.label}: msg is bytes`);
          assert.ok(msg.equals(frames[i]!), `${name} ${c.label}: msg byte for byte (${msg.length} vs ${frames[i]!.length} bytes)`);
        }
        const values = d.daemon.storage.storageStats()[0]?.values;
        assert.ok(values, `${name}: the store counts value changes`);
        assert.equal(values.nulStripped, totalNul, `${name}: NUL-stripped values`);
        assert.equal(values.truncatedValues, totalTrunc, `${name}: truncated values`);
        assert.equal(values.truncatedRows, truncRows, `${name}: truncated rows`);
        assert.ok(totalReplaced > 0, 'the corpus has invalid UTF-8');
        assert.equal(values.invalidReplaced, totalReplaced, `${name}: values whose invalid UTF-8 was replaced`);
        // The same counters in /metrics.
        const metrics = await d.daemon.control.metrics.text();
        const counter = (change: string): number => {
          const line = metrics.split('\n').find((l) => l.startsWith('sipcapture_text_values_changed_total{') && l.includes(`change="${change}"`));
          return Number(line?.slice(line.lastIndexOf(' ') + 1));
        };
        assert.equal(counter('nul_stripped'), totalNul, `${name}: /metrics nul_stripped`);
        assert.equal(counter('truncated'), totalTrunc, `${name}: /metrics truncated`);
        assert.equal(counter('invalid_replaced'), totalReplaced, `${name}: /metrics invalid_replaced`);
        results.set(name, rows);
      } finally {
        await d.stop();
        await ns.drop();
      }
    });
  }

  test('the three backends hold identical rows (all 44 columns)', () => {
    const lite = results.get('sqlite');
    assert.ok(lite && results.size === 3, 'all three backends ran');
    for (const name of ['postgres', 'mysql']) {
      const other = results.get(name)!;
      for (let i = 0; i < lite.length; i++) {
        for (const col of SIP_CAPTURE_COLUMNS) {
          const a: unknown = lite[i]![col];
          const o: unknown = other[i]![col];
          if (Buffer.isBuffer(a)) assert.ok(Buffer.isBuffer(o) && a.equals(o), `${name} row ${i}: ${col} bytes`);
          else assert.deepEqual(o, a, `${name} row ${i} (${corpus[i]!.label}): ${col}`);
        }
      }
    }
  });

  test('the corpus really is hostile', () => {
    assert.ok(totalNul >= 4 && totalTrunc >= 8 && truncRows === 1, `nul ${totalNul}, truncated ${totalTrunc} in ${truncRows} rows`);
    assert.equal(frames.at(-1)!.length, BIG_SIZE);
  });
});
