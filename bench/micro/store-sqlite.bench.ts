/**
 * Rows/s into SQLite: StoreWriter → SqliteStore (worker thread) against bare better-sqlite3
 * transaction inserts on the main thread, in the same run, on the same 44-column schema with
 * its 9 indexes (sql/sqlite/schema.sql) and ~1 KiB messages.
 *
 *   node --import tsx bench/micro/store-sqlite.bench.ts        (BENCH_ROWS=200000 for a longer run)
 *   node dist/bench/micro/store-sqlite.bench.js                 (after tsc)
 *
 * "main µs/row" is the main thread's busy time per row (event-loop utilisation): what storing
 * costs the receive loop. For the bare runs that is all of the work.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as tick } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { SIP_CAPTURE_COLUMNS, type SipCaptureRow } from '../../src/capture/rows.js';
import { Stats } from '../../src/telemetry/stats.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { loadSchemaTemplate, renderTableStatements } from '../../src/store/schema-template.js';
import { StoreWriter } from '../../src/store/writer/writer.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 100_000);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 1000);
const TABLE = 'sip_capture_call_20261122';

function makeRows(n: number): SipCaptureRow[] {
  const msg = Buffer.alloc(1024);
  for (let k = 0; k < msg.length; k++) msg[k] = 32 + (k % 90);
  return Array.from({ length: n }, (_, i) => ({
    date: '2026-11-22 10:13:20',
    micro_ts: 1795000000000000 + i,
    method: 'INVITE',
    reply_reason: '',
    ruri: `sip:+4930${i}@example.com`,
    ruri_user: `+4930${i}`,
    ruri_domain: 'example.com',
    from_user: `alice${i % 1000}`,
    from_domain: 'atlanta.example.com',
    from_tag: `ft${i}`,
    to_user: `bob${i % 777}`,
    to_domain: 'biloxi.example.com',
    to_tag: '',
    pid_user: `+4912${i % 500}`,
    contact_user: 'alice',
    auth_user: `alice${i % 1000}`,
    callid: `a84b4c76e66710-${i}@pc33.atlanta.com`,
    callid_aleg: '',
    via_1: `SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-${i};rport`,
    via_1_branch: `z9hG4bK-${i}`,
    cseq: '1 INVITE',
    diversion: '',
    reason: '',
    content_type: 'application/sdp',
    auth: '',
    user_agent: 'Test UA 1.0',
    source_ip: '10.0.0.1',
    source_port: 5060,
    destination_ip: '10.0.0.2',
    destination_port: 5080,
    contact_ip: '10.0.0.1',
    contact_port: 5062,
    originator_ip: '',
    originator_port: 0,
    correlation_id: `a84b4c76e66710-${i}@pc33.atlanta.com`,
    custom_field1: '',
    custom_field2: '',
    custom_field3: '',
    proto: 1,
    family: 2,
    rtp_stat: '',
    type: 1,
    node: 'homer01:2001',
    msg,
  }));
}

interface Result {
  name: string;
  rowsPerSec: number;
  mainUsPerRow: number;
}

async function bare(dir: string, rows: SipCaptureRow[], rowsPerStatement: number): Promise<Result> {
  const db = new Database(join(dir, `bare${rowsPerStatement}.sqlite`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -16384'); // as SqliteStore does
  const tpl = await loadSchemaTemplate('sqlite');
  for (const sql of renderTableStatements(tpl, 'sip', { table: TABLE })) db.exec(sql);
  const one = `(${SIP_CAPTURE_COLUMNS.map(() => '?').join(',')})`;
  const head = `INSERT INTO "${TABLE}" (${SIP_CAPTURE_COLUMNS.join(',')}) VALUES `;
  const single = db.prepare(head + one);
  const multi = db.prepare(head + new Array<string>(rowsPerStatement).fill(one).join(','));
  const w = SIP_CAPTURE_COLUMNS.length;
  const p1 = new Array<unknown>(w);
  const pm = new Array<unknown>(w * rowsPerStatement);
  const fill = (r: SipCaptureRow, p: unknown[], at: number): void => {
    for (let c = 0; c < w; c++) p[at + c] = r[SIP_CAPTURE_COLUMNS[c] as keyof SipCaptureRow];
  };
  const insertBatch = db.transaction((batch: SipCaptureRow[]) => {
    let i = 0;
    if (rowsPerStatement > 1) {
      for (; i + rowsPerStatement <= batch.length; i += rowsPerStatement) {
        for (let k = 0; k < rowsPerStatement; k++) fill(batch[i + k] as SipCaptureRow, pm, k * w);
        multi.run(pm);
      }
    }
    for (; i < batch.length; i++) {
      fill(batch[i] as SipCaptureRow, p1, 0);
      single.run(p1);
    }
  });
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i += BATCH) insertBatch(rows.slice(i, i + BATCH));
  const ms = performance.now() - t0;
  db.close();
  return { name: `bare better-sqlite3, main thread, ${rowsPerStatement} row(s)/INSERT`, rowsPerSec: rows.length / (ms / 1000), mainUsPerRow: (ms * 1000) / rows.length };
}

async function viaWriter(dir: string, rows: SipCaptureRow[], rowsPerStatement: number, maxInFlight = 1): Promise<Result> {
  const store = await SqliteStore.open(`sqlite://${join(dir, `writer${rowsPerStatement}-${maxInFlight}.sqlite`)}`, { rowsPerStatement });
  await store.ensureTable(TABLE, 'sip');
  const stats = new Stats(null);
  const writer = new StoreWriter(store, {
    stats,
    batchSize: BATCH,
    batchTimeoutMs: 200,
    queueMaxRows: rows.length,
    insertRetries: 0,
    insertRetryTimeoutS: 0,
    maxInFlight,
  });
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  // Like a receive loop: a burst of rows per event-loop turn.
  for (let i = 0; i < rows.length; i += BATCH) {
    const end = Math.min(rows.length, i + BATCH);
    for (let k = i; k < end; k++) writer.enqueue(TABLE, 'sip', rows[k] as SipCaptureRow);
    await tick();
  }
  await writer.close();
  const ms = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  await store.close();
  const stored = stats.snapshot().stored[TABLE] ?? 0;
  if (stored !== rows.length) throw new Error(`stored ${stored} of ${rows.length}`);
  return {
    name: `StoreWriter → SqliteStore (worker), ${rowsPerStatement} row(s)/INSERT${maxInFlight > 1 ? `, ${maxInFlight} in flight` : ''}`,
    rowsPerSec: rows.length / (ms / 1000),
    mainUsPerRow: (elu.active * 1000) / rows.length,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sipcapture-bench-'));
  try {
    const rows = makeRows(ROWS);
    console.log(`# ${ROWS} rows, batch ${BATCH}, 44 columns + 9 indexes, 1 KiB msg, WAL, synchronous=NORMAL`);
    const results: Result[] = [];
    results.push(await bare(dir, rows, 1));
    results.push(await bare(dir, rows, 16));
    results.push(await viaWriter(dir, rows, 1));
    results.push(await viaWriter(dir, rows, 16));
    // The db_insert_mode=2 seam: the next batch is encoded while the worker writes this one.
    results.push(await viaWriter(dir, rows, 1, 2));
    for (const r of results) {
      console.log(`${r.name.padEnd(70)} ${Math.round(r.rowsPerSec).toString().padStart(8)} rows/s   main ${r.mainUsPerRow.toFixed(2).padStart(6)} µs/row`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
