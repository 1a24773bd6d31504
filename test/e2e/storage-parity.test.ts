/**
 * Same input, same rows everywhere: the same HEP frames go through three real daemons, one
 * writing to SQLite, one to PostgreSQL, one to MariaDB, and the rows read back must be equal
 * column by column (all 44 columns; only the id differs by nature). The corpus covers requests
 * and replies, IPv4 and IPv6, SDP bodies, every header a column comes from, non-ASCII and
 * invalid UTF-8 header bytes, over-long values (cut to the same width by every backend) and
 * binary-ish message bytes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SIP_CAPTURE_COLUMNS } from '../../src/capture/rows.js';
import { requireOrSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/net.js';
import { sipReply, sipRequest } from '../helpers/sip-messages.js';
import { HepTcpSender, MYSQL_URL, PG_URL, RUN, mysqlNamespace, pgNamespace, reachable, sqliteNamespace, startTestDaemon, type Namespace, type ReadRow } from '../store/_e2e.js';

const skip = requireOrSkip((await reachable(PG_URL, 5432)) && (await reachable(MYSQL_URL, 3306)), `PostgreSQL at ${PG_URL} and MariaDB at ${MYSQL_URL}`);

const TS = 1795348800; // 2026-11-22 12:00:00 UTC

/** Messages as raw bytes (a latin1 string keeps every byte as written). */
function corpus(): { bytes: Buffer; srcIp: string }[] {
  const out: { bytes: Buffer; srcIp: string }[] = [];
  const add = (text: string, srcIp = '192.0.2.10', enc: BufferEncoding = 'utf8'): void => {
    out.push({ bytes: Buffer.from(text, enc), srcIp });
  };
  const cid = (i: number): string => `parity-${i}-${RUN}@192.0.2.10`;
  add(sipRequest('INVITE', cid(0), ['X-CID: aleg-0', 'Mac: 00:11:22:33:44:55', 'IP: 10.1.2.3', 'Port: 5062'], true).text);
  add(sipReply(200, 'OK', 'INVITE', cid(0)).text);
  add(sipRequest('REGISTER', cid(1), ['Expires: 3600', 'Authorization: Digest username="puser", realm="example.com", nonce="n", uri="sip:example.com", response="r"']).text);
  add(sipReply(401, 'Unauthorized', 'REGISTER', cid(1)).text, '2001:db8::10');
  add(
    sipRequest('INVITE', cid(2), [
      'P-Asserted-Identity: "Ärger Öl" <sip:+4930123@example.com;user=phone>',
      'Diversion: <sip:div@example.com>;reason=unconditional',
      'Reason: Q.850;cause=16;text="Normal call clearing"',
      'X-RTP-Stat: CS=0;PS=1433;ES=1525;OS=229280;SP=0/0;SO=0;QS=-;PR=1522;ER=1525;OR=243520;CR=0;SR=0;QR=-;PL=0,0;BL=0;LS=0;RB=0/0;SB=-/-;EN=PCMA;DE=PCMA;JI=0,0;DL=20,20,20;IP=10.0.0.1:10000,10.0.0.2:20000',
      'User-Agent: Zoë’s phone ☎ 😀',
    ]).text,
  );
  // Over-long values: cut to the column width (callid, callid_aleg 256) the same way everywhere.
  add(sipRequest('OPTIONS', `${cid(3)}-${'c'.repeat(400)}`, [`X-CID: ${'a'.repeat(500)}`, `Reason: ${'R'.repeat(3000)}`]).text);
  // Latin-1 bytes in headers (invalid UTF-8).
  add(sipRequest('MESSAGE', cid(4), ['User-Agent: caf\xe9 na\xefve', 'Subject: \xff\xfe']).text, '192.0.2.10', 'latin1');
  add(sipReply(486, 'Busy Here', 'INVITE', cid(5)).text, '2001:db8::20');
  add(sipRequest('NOTIFY', cid(6), ['Event: refer;id=1', 'Content-Type: message/sipfrag'], false).text);
  add(sipRequest('BYE', cid(7), ['Reason: SIP;cause=200;text="Call completed elsewhere"']).text);
  for (let i = 8; i < 40; i++) add(sipRequest(['INVITE', 'ACK', 'CANCEL', 'PRACK', 'UPDATE', 'INFO', 'SUBSCRIBE', 'PUBLISH'][i % 8]!, cid(i), [], i % 3 === 0).text, i % 2 ? '192.0.2.10' : '2001:db8::10');
  return out;
}

describe('storage: the same rows in SQLite, PostgreSQL and MariaDB', { skip }, () => {
  test('same HEP input → equal rows column by column in all three backends', { timeout: 120_000 }, async () => {
    const namespaces: [string, Namespace][] = [
      ['sqlite', sqliteNamespace()],
      ['postgres', await pgNamespace('parity')],
      ['mysql', await mysqlNamespace('parity')],
    ];
    const input = corpus();
    const daemons = await Promise.all(namespaces.map(([, ns]) => startTestDaemon({ db_url: ns.url(), routes: 'default', table_name: 'sip_capture' })));
    try {
      await Promise.all(
        daemons.map(async (d) => {
          const sender = await HepTcpSender.connect(d.port);
          await sender.send(input.map((m, i) => ({ text: m.bytes, tsSec: TS, tsUsec: i * 1000, srcIp: m.srcIp })));
          await sender.close();
        }),
      );
      const rows: ReadRow[][] = [];
      for (const [name, ns] of namespaces) {
        assert.ok(await waitFor(async () => (await ns.callids()).length >= input.length, 20_000, 100), `${name}: every row`);
        rows.push(await ns.readAll());
      }
      const [lite, pgRows, myRows] = rows as [ReadRow[], ReadRow[], ReadRow[]];
      assert.equal(lite.length, input.length);
      for (const [name, other] of [['postgres', pgRows], ['mysql', myRows]] as const) {
        assert.equal(other.length, lite.length, `${name}: row count`);
        for (let i = 0; i < lite.length; i++) {
          const a = lite[i]!;
          const b = other[i]!;
          for (const c of SIP_CAPTURE_COLUMNS) {
            const va = a[c];
            const vb = b[c];
            if (Buffer.isBuffer(va) || Buffer.isBuffer(vb)) {
              assert.ok(Buffer.isBuffer(va) && Buffer.isBuffer(vb) && va.equals(vb), `row ${i} (${a.callid.slice(0, 40)}): ${c} bytes differ in ${name}`);
            } else {
              assert.deepEqual(vb, va, `row ${i} (${a.callid.slice(0, 40)}): column ${c} differs in ${name}`);
            }
          }
        }
      }
      // The corpus really exercised the interesting paths.
      const first = lite.find((r) => r.callid.startsWith(`parity-3-`));
      assert.equal(first?.callid.length, 256, 'an over-long Call-ID is cut to 256 characters everywhere');
      assert.equal(String(first?.['callid_aleg']).length, 256, 'an over-long X-CID is cut to 256 characters everywhere');
      assert.ok(lite.some((r) => r['family'] === 10), 'IPv6 rows');
      assert.ok(lite.some((r) => r['type'] === 2), 'replies');
      for (const d of daemons) assert.deepEqual(d.daemon.stats.snapshot().dropped, {});
    } finally {
      await Promise.all(daemons.map((d) => d.stop()));
      for (const [, ns] of namespaces) await ns.drop();
    }
  });
});
