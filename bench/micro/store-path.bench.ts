/**
 * `npm run bench:store`: rows/s through the daemon's store path — StoreSet → StoreWriter
 * (batching, retries, spool wiring) → Store (SQLite worker, PostgreSQL binary COPY, MariaDB
 * multi-row INSERT, values cut to the column widths) — next to the bare ceiling measured in the
 * same run on the same schema (44 columns + id, 9 indexes), same rows, same batch size:
 *
 *   PostgreSQL  bare COPY (text format, minimal escaping), one connection
 *   MariaDB     bare prepared INSERT × 500 rows, one transaction per batch, one connection
 *   SQLite      bare better-sqlite3 prepared INSERT per row, one transaction per batch, on the
 *               main thread (no worker hop, no encoding)
 *
 * Rows: the generated Homer row shape of test/store/postgres/helpers.ts (all 44 columns, ~1 KiB SIP
 * message). Each case writes into a fresh table in a private schema / database, which is
 * dropped afterwards. Rounds alternate the case order; the best round counts.
 *
 *   env BENCH_ROWS (default 50000), BENCH_BATCH (1000), BENCH_ROUNDS (2), BENCH_ONLY=sqlite|postgres|mysql
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { copyChunks, copyTextChunks } from '../harness/bare-copy.js';
import { SIP_CAPTURE_COLUMNS, type SipCaptureRow } from '../../src/capture/rows.js';
import { validateConfig } from '../../src/config/load.js';
import { Stats } from '../../src/telemetry/stats.js';
import { createStore } from '../../src/store/factory.js';
import { StoreSet } from '../../src/store/store-set.js';
import { MYSQL_URL, PG_URL, mysqlNamespace, pgNamespace, reachable, type Namespace } from '../../test/store/_e2e.js';
import { makeSipRows } from '../../test/store/postgres/helpers.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 50_000);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 1000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const ONLY = process.env['BENCH_ONLY'] ?? '';
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
const tmp = mkdtempSync(join(os.tmpdir(), 'sipcapture-bench-store-'));

type Setup = (table: string) => Promise<() => Promise<void>>;

/** Runs setup (connections, table) off the clock, then times only the writing. */
async function timed(backend: string, name: string, setup: Setup): Promise<void> {
  const work = await setup(`bench_${seq++}`);
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await work();
  const secs = (performance.now() - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0);
  const r: Result = { backend, name, rowsPerSec: ROWS / secs, mainUsPerRow: (elu.active * 1000) / ROWS };
  const prev = results.find((x) => x.backend === backend && x.name === name);
  if (!prev) results.push(r);
  else if (r.rowsPerSec > prev.rowsPerSec) Object.assign(prev, r);
}

/** The daemon's store path: a StoreSet for `url`, every row through writer.enqueue(), then flush. */
function storePath(url: string, dbInsertMode = 0): Setup {
  return async (table) => {
    const dir = join(tmp, `c-${table}`);
    const cfg = validateConfig(
      {
        db_url: url,
        routes: 'default',
        table_name: table,
        batch_size: BATCH,
        queue_max_rows: ROWS + BATCH,
        db_insert_mode: dbInsertMode,
        spool_dir: join(dir, 'spool'),
      },
      join(dir, 'sipcapture.json5'),
    );
    const stats = new Stats(null);
    const set = await StoreSet.open(cfg, stats, null, { aheadIntervalMs: 0 });
    await set.ensureTablesAhead(); // the table exists before timing, as in a running daemon
    const writer = set.writerFor(cfg.db_url);
    return async () => {
      for (const r of rows) writer.enqueue(table, 'sip', r);
      await writer.flush();
      await set.close();
      const snap = stats.snapshot();
      if (Object.keys(snap.dropped).length > 0 || snap.stored[table] !== ROWS) throw new Error(`store path lost rows: ${JSON.stringify(snap)}`);
    };
  };
}


async function benchPostgres(ns: Namespace): Promise<void> {
  const url = ns.url();
  const creator = await createStore(url);
  const cases: [string, Setup][] = [
    ['store path', storePath(url)],
    ['store path, db_insert_mode 2', storePath(url, 2)],
    [
      'bare COPY',
      async (t) => {
        await creator.ensureTable(t, 'sip');
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        return async () => {
          for (const b of batches) await copyChunks(client, `"${t}"`, copyTextChunks(b));
          await client.end();
        };
      },
    ],
  ];
  await runCases('postgres', cases, async () => {
    await ns.exec('CHECKPOINT').catch(() => {});
  });
  await creator.close();
}

async function benchMysql(ns: Namespace): Promise<void> {
  const url = ns.url();
  const creator = await createStore(url);
  const cases: [string, Setup][] = [
    ['store path', storePath(url)],
    ['store path, db_insert_mode 2', storePath(url, 2)],
    [
      'bare INSERT ×500',
      async (t) => {
        await creator.ensureTable(t, 'sip');
        const conn = await mysql.createConnection({ uri: url, charset: 'utf8mb4_general_ci' });
        const one = `(${SIP_CAPTURE_COLUMNS.map(() => '?').join(',')})`;
        const head = `INSERT INTO \`${t}\` (${SIP_CAPTURE_COLUMNS.map((c) => `\`${c}\``).join(',')}) VALUES `;
        return async () => {
          for (const b of batches) {
            await conn.beginTransaction();
            for (let i = 0; i < b.length; i += 500) {
              const part = b.slice(i, i + 500);
              const params: (string | number | Buffer)[] = [];
              for (const r of part) for (const c of SIP_CAPTURE_COLUMNS) params.push(r[c]);
              await conn.execute(head + Array.from({ length: part.length }, () => one).join(','), params);
            }
            await conn.commit();
          }
          await conn.end();
        };
      },
    ],
  ];
  await runCases('mysql', cases);
  await creator.close();
}

async function benchSqlite(): Promise<void> {
  const cases: [string, Setup][] = [
    ['store path', (t) => storePath(`sqlite://${join(tmp, `${t}.sqlite`)}`)(t)],
    [
      'bare INSERT',
      async (t) => {
        const url = `sqlite://${join(tmp, `${t}.sqlite`)}`;
        const s = await createStore(url);
        await s.ensureTable(t, 'sip');
        await s.close();
        const db = new Database(join(tmp, `${t}.sqlite`));
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        const stmt = db.prepare(`INSERT INTO "${t}" (${SIP_CAPTURE_COLUMNS.map((c) => `"${c}"`).join(',')}) VALUES (${SIP_CAPTURE_COLUMNS.map(() => '?').join(',')})`);
        const params = new Array<unknown>(SIP_CAPTURE_COLUMNS.length);
        const insert = db.transaction((b: SipCaptureRow[]) => {
          for (const r of b) {
            for (let k = 0; k < SIP_CAPTURE_COLUMNS.length; k++) params[k] = r[SIP_CAPTURE_COLUMNS[k]!];
            stmt.run(params);
          }
        });
        return async () => {
          for (const b of batches) {
            insert(b);
            await new Promise((r) => setImmediate(r));
          }
          db.close();
        };
      },
    ],
  ];
  await runCases('sqlite', cases);
}

async function runCases(backend: string, cases: [string, Setup][], before?: () => Promise<void>): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const [name, setup] of order) {
      await before?.();
      await timed(backend, name, setup);
    }
  }
}

async function serverVersion(kind: 'postgres' | 'mysql'): Promise<string> {
  try {
    if (kind === 'postgres') {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      const r = await c.query<{ v: string }>("SELECT current_setting('server_version') AS v");
      await c.end();
      return `PostgreSQL ${r.rows[0]?.v ?? '?'}`;
    }
    const c = await mysql.createConnection({ uri: MYSQL_URL });
    const [r] = await c.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    await c.end();
    return String(r[0]?.['v'] ?? '?');
  } catch {
    return '?';
  }
}

try {
  const versions: string[] = [];
  if (ONLY === '' || ONLY === 'sqlite') await benchSqlite();
  if ((ONLY === '' || ONLY === 'postgres') && (await reachable(PG_URL, 5432))) {
    versions.push(await serverVersion('postgres'));
    const ns = await pgNamespace('bench');
    try {
      await benchPostgres(ns);
    } finally {
      await ns.drop();
    }
  }
  if ((ONLY === '' || ONLY === 'mysql') && (await reachable(MYSQL_URL, 3306))) {
    versions.push(await serverVersion('mysql'));
    const ns = await mysqlNamespace('bench');
    try {
      await benchMysql(ns);
    } finally {
      await ns.drop();
    }
  }
  const cpu = os.cpus();
  console.log(`\n${ROWS} rows (~1 KiB msg, 44 columns), batches of ${BATCH}, best of ${ROUNDS} round(s)`);
  console.log(`machine: ${cpu[0]?.model ?? '?'} × ${cpu.length} cores, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}${versions.length ? `, ${versions.join(', ')}` : ''} (servers on the same machine)\n`);
  console.log('| backend  | case                         |   rows/s | of bare | main µs/row |');
  console.log('|----------|------------------------------|---------:|--------:|------------:|');
  for (const backend of ['sqlite', 'postgres', 'mysql']) {
    const mine = results.filter((r) => r.backend === backend);
    const bare = mine.find((r) => r.name.startsWith('bare'));
    for (const r of mine) {
      const rel = bare ? `${((r.rowsPerSec / bare.rowsPerSec) * 100).toFixed(0)} %` : '-';
      console.log(
        `| ${backend.padEnd(8)} | ${r.name.padEnd(28)} | ${Math.round(r.rowsPerSec).toString().padStart(8)} | ${rel.padStart(7)} | ${r.mainUsPerRow.toFixed(1).padStart(11)} |`,
      );
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
