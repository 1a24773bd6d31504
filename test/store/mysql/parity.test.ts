// The same rows written through the PostgreSQL and the MySQL store read back identically,
// column by column (both stores share values.ts and columns.ts, and the two schemas share its widths).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type mysql from 'mysql2/promise';
import { REPORT_COLUMNS, SIP_CAPTURE_COLUMNS } from '../../../src/capture/rows.js';
import { createMysqlStore } from '../../../src/store/mysql/index.js';
import { createPostgresStore } from '../../../src/store/postgres/index.js';
import {
  MYSQL_URL,
  PG_URL,
  RUN,
  assertRowEqual,
  makeEdgeRows,
  makeReportRows,
  makeSipRows,
  mysqlAdminPool,
  readMysql,
  readPg,
  skipReason,
} from '../postgres/helpers.js';

const skip = (await skipReason('postgres')) ?? (await skipReason('mysql'));

describe('postgres and mysql store identical rows', { skip }, () => {
  let pgAdmin: pg.Pool;
  let myAdmin: mysql.Pool;
  const sipTable = `sip_capture_parity_${RUN}`;
  const rtcpTable = `rtcp_capture_parity_${RUN}`;

  before(() => {
    pgAdmin = new pg.Pool({ connectionString: PG_URL, max: 1 });
    myAdmin = mysqlAdminPool();
  });

  after(async () => {
    for (const name of [sipTable, rtcpTable]) {
      await pgAdmin.query(`DROP TABLE IF EXISTS "${name}"`);
      await myAdmin.query(`DROP TABLE IF EXISTS \`${name}\``);
    }
    await pgAdmin.end();
    await myAdmin.end();
  });

  test('5k generated + edge rows, and report rows, compare equal column by column', async () => {
    const p = await createPostgresStore(PG_URL);
    const m = await createMysqlStore(MYSQL_URL);
    const rows = [...makeSipRows(5000, 21), ...makeEdgeRows()];
    const reports = makeReportRows(100, 22);
    for (const s of [p, m]) {
      await s.ensureTable(sipTable, 'sip');
      await s.ensureTable(rtcpTable, 'rtcp');
      await s.insert({ table: sipTable, kind: 'sip', rows });
      await s.insert({ table: rtcpTable, kind: 'rtcp', rows: reports });
    }
    const a = await readPg(pgAdmin, sipTable, 'sip');
    const b = await readMysql(myAdmin, sipTable, 'sip');
    assert.equal(a.length, rows.length);
    assert.equal(b.length, rows.length);
    a.forEach((r, i) => assertRowEqual(b[i]!, r, SIP_CAPTURE_COLUMNS, `sip row ${i}`, assert.deepEqual));
    const ra = await readPg(pgAdmin, rtcpTable, 'rtcp');
    const rb = await readMysql(myAdmin, rtcpTable, 'rtcp');
    assert.equal(ra.length, 100);
    ra.forEach((r, i) => assertRowEqual(rb[i]!, r, REPORT_COLUMNS, `rtcp row ${i}`, assert.deepEqual));
    assert.deepEqual({ ...p.valueCounters }, { ...m.valueCounters });
    await p.close();
    await m.close();
  });
});
