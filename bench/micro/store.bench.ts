/**
 * Rows/s into PostgreSQL and MySQL/MariaDB through the stores, against a bare client doing the
 * same job with no sanitising, in the same run, on the same table layout (the schema.sql
 * template: 44 columns + id, 9 secondary indexes) with ~1 KiB messages.
 *
 *   node --import tsx bench/micro/store.bench.ts
 *   env: BENCH_ROWS=20000 BENCH_BATCH=5000 BENCH_ROUNDS=2 BENCH_ONLY=postgres|mysql
 *
 * Bare PostgreSQL: COPY text format with the minimal JS escaping (the fastest COPY text path measured for this row shape).
 * Bare MySQL: prepared multi-row INSERT × 500 rows, one transaction per batch (experiment 4).
 * Each case gets a fresh table; rounds alternate the case order; the best round is reported.
 * "main µs/row" is the event loop's busy time per row: what storing costs the receive loop.
 */
import { performance } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { copyChunks, copyTextChunks } from '../harness/bare-copy.js';
import { SIP_CAPTURE_COLUMNS, type SipCaptureRow } from '../../src/capture/rows.js';
import type { Store } from '../../src/store/store.js';
import { createMysqlStore, type MysqlInsertMethod } from '../../src/store/mysql/index.js';
import { createPostgresStore, type CopyFormat } from '../../src/store/postgres/index.js';
import { MYSQL_URL, PG_URL, makeSipRows, skipReason } from '../../test/store/postgres/helpers.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 20_000);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 5000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const rows = makeSipRows(ROWS, 42);
const batches: SipCaptureRow[][] = [];
for (let i = 0; i < rows.length; i += BATCH) batches.push(rows.slice(i, i + BATCH));

interface Result {
  backend: string;
  name: string;
  rowsPerSec: number;
  mainUsPerRow: number;
}
const results: Result[] = [];
let seq = 0;

async function measure(backend: string, name: string, setup: (table: string) => Promise<(b: SipCaptureRow[]) => Promise<void>>, cleanup: (table: string) => Promise<void>): Promise<void> {
  const table = `bench_${backend}_${process.pid}_${seq++}`;
  const write = await setup(table);
  try {
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    for (const b of batches) await write(b);
    const secs = (performance.now() - t0) / 1000;
    const elu = performance.eventLoopUtilization(elu0);
    const r: Result = { backend, name, rowsPerSec: ROWS / secs, mainUsPerRow: (elu.active * 1000) / ROWS };
    const prev = results.find((x) => x.backend === backend && x.name === name);
    if (!prev) results.push(r);
    else if (r.rowsPerSec > prev.rowsPerSec) Object.assign(prev, r);
  } finally {
    await cleanup(table);
  }
}

// ---- PostgreSQL ----


async function benchPg(): Promise<void> {
  const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
  const creator = await createPostgresStore(PG_URL);
  const drop = async (t: string): Promise<void> => {
    await admin.query(`DROP TABLE IF EXISTS "${t}"`);
  };
  const cases: [string, (t: string) => Promise<(b: SipCaptureRow[]) => Promise<void>>][] = [];
  for (const fmt of ['binary', 'text'] as CopyFormat[]) {
    cases.push([
      `store COPY ${fmt}`,
      async (t) => {
        const s: Store = await createPostgresStore(PG_URL, { copyFormat: fmt, poolSize: 1 });
        await s.ensureTable(t, 'sip');
        return async (b) => {
          await s.insert({ table: t, kind: 'sip', rows: b });
          if (b === batches.at(-1)) await s.close();
        };
      },
    ]);
  }
  cases.push([
    'bare COPY text',
    async (t) => {
      await creator.ensureTable(t, 'sip');
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      return async (b) => {
        await copyChunks(client, `"${t}"`, copyTextChunks(b));
        if (b === batches.at(-1)) await client.end();
      };
    },
  ]);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const [name, setup] of order) {
      await admin.query('CHECKPOINT').catch(() => {});
      await measure('postgres', name, setup, drop);
    }
  }
  await creator.close();
  await admin.end();
}

// ---- MySQL / MariaDB ----

async function benchMysql(): Promise<void> {
  const admin = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 });
  const creator = await createMysqlStore(MYSQL_URL);
  const drop = async (t: string): Promise<void> => {
    await admin.query(`DROP TABLE IF EXISTS \`${t}\``);
  };
  const cases: [string, (t: string) => Promise<(b: SipCaptureRow[]) => Promise<void>>][] = [];
  for (const method of ['load-data', 'execute', 'query'] as MysqlInsertMethod[]) {
    cases.push([
      `store ${method}`,
      async (t) => {
        const s = await createMysqlStore(MYSQL_URL, { method, poolSize: 1 });
        await s.ensureTable(t, 'sip');
        return async (b) => {
          await s.insert({ table: t, kind: 'sip', rows: b });
          if (b === batches.at(-1)) await s.close();
        };
      },
    ]);
  }
  cases.push([
    'bare execute ×500',
    async (t) => {
      await creator.ensureTable(t, 'sip');
      const conn = await mysql.createConnection({ uri: MYSQL_URL, charset: 'utf8mb4_general_ci' });
      const one = `(${SIP_CAPTURE_COLUMNS.map(() => '?').join(',')})`;
      const head = `INSERT INTO \`${t}\` (${SIP_CAPTURE_COLUMNS.map((c) => `\`${c}\``).join(',')}) VALUES `;
      return async (b) => {
        await conn.beginTransaction();
        for (let i = 0; i < b.length; i += 500) {
          const part = b.slice(i, i + 500);
          const params: (string | number | Buffer)[] = [];
          for (const r of part) for (const c of SIP_CAPTURE_COLUMNS) params.push(r[c]);
          await conn.execute(head + Array.from({ length: part.length }, () => one).join(','), params);
        }
        await conn.commit();
        if (b === batches.at(-1)) await conn.end();
      };
    },
  ]);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const [name, setup] of order) await measure('mysql', name, setup, drop);
  }
  await creator.close();
  await admin.end();
}

const ONLY = process.env['BENCH_ONLY'] ?? '';
if (ONLY !== 'mysql' && (await skipReason('postgres')) === undefined) await benchPg();
if (ONLY !== 'postgres' && (await skipReason('mysql')) === undefined) await benchMysql();

console.log(`\n${ROWS} rows of ~1 KiB, batches of ${BATCH}, best of ${ROUNDS} round(s)\n`);
console.log('backend   case                 rows/s   vs bare   main µs/row');
for (const backend of ['postgres', 'mysql']) {
  const mine = results.filter((r) => r.backend === backend);
  const bare = mine.find((r) => r.name.startsWith('bare'));
  for (const r of mine) {
    const rel = bare ? `${((r.rowsPerSec / bare.rowsPerSec) * 100).toFixed(0)} %` : '-';
    console.log(
      `${backend.padEnd(9)} ${r.name.padEnd(18)} ${Math.round(r.rowsPerSec).toString().padStart(8)} ${rel.padStart(9)} ${r.mainUsPerRow.toFixed(1).padStart(13)}`,
    );
  }
}
