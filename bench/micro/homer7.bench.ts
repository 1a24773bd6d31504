/**
 * Rows/s into HOMER 7's partitioned, indexed hep_proto_1_* tables: the daemon's store path
 * (StoreSet → StoreWriter batching → HOMER 7 store), the HOMER 7 store alone (row.ts → binary
 * COPY, one transaction per batch), against a bare client doing the same job the way
 * heplify-server does (JSON built with JSON.stringify from the row's fields, the payload as text,
 * one text COPY per parent, no cleaning, no transaction of its own), in the same run, on the same
 * tables (each case gets a fresh schema with the same partitions and 13 indexes per partition).
 *
 *   node --import tsx bench/micro/homer7.bench.ts
 *   env: BENCH_ROWS=20000 BENCH_BATCH=2000 BENCH_ROUNDS=2 SIPCAPTURE_TEST_PG_URL=postgres://…
 *
 * Rounds alternate the case order; the best round of each case is reported, with the event
 * loop's busy time per row ("main µs/row": what storing costs the receive loop).
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { SipCaptureRow } from '../../src/capture/rows.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src/config/load.js';
import { Stats } from '../../src/telemetry/stats.js';
import { StoreSet } from '../../src/store/store-set.js';
import { createHomer7Store } from '../../src/store/homer7/index.js';
import { sipParentOf } from '../../src/store/homer7/row.js';
import { PG_URL, makeSipRows, skipReason } from '../../test/store/postgres/helpers.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 20_000);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 2000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);

if ((await skipReason('postgres')) !== undefined) process.exit(0);

// Rows within two hours, so every case writes into the same partitions.
const generated = makeSipRows(ROWS, 42);
const t0us = generated[0]!.micro_ts;
const rows = generated.map((r, i) => ({ ...r, micro_ts: t0us + Math.floor((i * 3_600_000_000) / ROWS) }));
const batches: SipCaptureRow[][] = [];
for (let i = 0; i < rows.length; i += BATCH) batches.push(rows.slice(i, i + BATCH));
const nowMs = (): number => t0us / 1000;

const admin = new pg.Client({ connectionString: PG_URL });
await admin.connect();
let seq = 0;

/** A fresh schema with the HOMER 7 parents and the partitions of the rows' day. */
async function freshSchema(): Promise<string> {
  const schema = `h7bench_${process.pid}_${seq++}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = urlOf(schema);
  const s = await createHomer7Store(url, { nowMs, aheadIntervalMs: 0 });
  await s.ensureAhead();
  await s.close();
  return schema;
}

function urlOf(schema: string): string {
  return `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

// ---- the bare client: what heplify-server does per row ----

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_G = /[\\\t\n\r]/g;
const COPY_ESC: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const esc = (s: string): string => (COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_G, (c) => COPY_ESC[c]!) : s);

function bareLine(r: SipCaptureRow): string {
  const sec = Math.floor(r.micro_ts / 1e6);
  const ph = JSON.stringify({
    protocolFamily: r.family,
    protocol: 17,
    srcIp: r.source_ip,
    dstIp: r.destination_ip,
    srcPort: r.source_port,
    dstPort: r.destination_port,
    timeSeconds: sec,
    timeUseconds: r.micro_ts - sec * 1e6,
    payloadType: 1,
    captureId: '2001',
    correlation_id: r.correlation_id,
  });
  const dh = JSON.stringify({
    ruri_user: r.ruri_user,
    ruri_domain: r.ruri_domain,
    from_user: r.from_user,
    from_tag: r.from_tag,
    to_user: r.to_user,
    to_tag: r.to_tag,
    callid: r.callid,
    cseq: r.cseq,
    method: r.method,
    user_agent: r.user_agent,
  });
  const date = new Date(r.micro_ts / 1000).toISOString();
  return `${esc(r.callid)}\t${date}\t${esc(ph)}\t${esc(dh)}\t${esc(r.msg.toString('utf8'))}\n`;
}

async function bareCopy(client: pg.Client, batch: readonly SipCaptureRow[]): Promise<void> {
  const byParent = new Map<string, string>();
  for (const r of batch) {
    const p = sipParentOf(r.cseq);
    byParent.set(p, (byParent.get(p) ?? '') + bareLine(r));
  }
  for (const [parent, text] of byParent) {
    const stream = client.query(copyFrom(`COPY ${parent} (sid, create_date, protocol_header, data_header, raw) FROM STDIN`));
    const done = once(stream, 'finish');
    stream.end(text);
    await done;
  }
}

interface Result {
  name: string;
  rowsPerSec: number;
  mainUsPerRow: number;
}
const best = new Map<string, Result>();

async function measure(name: string, run: (schema: string) => Promise<() => Promise<void>>): Promise<void> {
  const schema = await freshSchema();
  const done = await run(schema);
  const count = await admin.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM ${schema}.hep_proto_1_call) + (SELECT count(*) FROM ${schema}.hep_proto_1_registration) + (SELECT count(*) FROM ${schema}.hep_proto_1_default) AS n`,
  );
  await done();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  if (Number(count.rows[0]!.n) !== ROWS) throw new Error(`${name}: ${count.rows[0]!.n} rows stored, expected ${ROWS}`);
}

async function timed(name: string, write: (b: SipCaptureRow[]) => Promise<void>): Promise<void> {
  const elu0 = performance.eventLoopUtilization();
  const t = performance.now();
  for (const b of batches) await write(b);
  const secs = (performance.now() - t) / 1000;
  const elu = performance.eventLoopUtilization(elu0);
  const r = { name, rowsPerSec: ROWS / secs, mainUsPerRow: (elu.active * 1000) / ROWS };
  const prev = best.get(name);
  if (prev === undefined || r.rowsPerSec > prev.rowsPerSec) best.set(name, r);
  console.log(`  ${name}: ${Math.round(r.rowsPerSec)} rows/s, main ${r.mainUsPerRow.toFixed(1)} µs/row`);
}

const STORE_PATH = 'store path (StoreSet → writer → HOMER 7 store)';
const tmp = mkdtempSync(join(os.tmpdir(), 'h7bench-'));

const cases: [string, () => Promise<void>][] = [
  [
    STORE_PATH,
    () =>
      measure('path', async (schema) => {
        const cfg = validateConfig(
          { db_url: urlOf(schema), schema: 'homer7', batch_size: BATCH, queue_max_rows: ROWS + BATCH, spool_dir: join(tmp, `spool-${schema}`) },
          join(tmp, 'sipcapture.json5'),
        );
        const stats = new Stats(null);
        // The store with the rows' clock, its partitions checked before timing (as in a running daemon).
        const set = await StoreSet.open(cfg, stats, null, {
          aheadIntervalMs: 0,
          storeFactory: async (url) => {
            const s = await createHomer7Store(url, { nowMs, aheadIntervalMs: 0, poolSize: 3 });
            await s.ensureAhead();
            return s;
          },
        });
        const writer = set.writerFor(cfg.db_url);
        await timed(STORE_PATH, async (b) => {
          for (const r of b) writer.enqueue('hep_proto', 'sip', r);
          await writer.flush();
        });
        return async () => {
          await set.close();
          if (Object.keys(stats.snapshot().dropped).length > 0) throw new Error(`store path dropped rows: ${JSON.stringify(stats.snapshot())}`);
        };
      }),
  ],
  [
    'HOMER 7 store (binary COPY)',
    () =>
      measure('store', async (schema) => {
        const store = await createHomer7Store(urlOf(schema), { nowMs, aheadIntervalMs: 0 });
        await timed('HOMER 7 store (binary COPY)', (b) => store.insert({ table: 'hep_proto', kind: 'sip', rows: b }));
        return () => store.close();
      }),
  ],
  [
    'bare text COPY (heplify-server style)',
    () =>
      measure('bare', async (schema) => {
        const client = new pg.Client({ connectionString: urlOf(schema) });
        await client.connect();
        await timed('bare text COPY (heplify-server style)', (b) => bareCopy(client, b));
        return () => client.end();
      }),
  ],
];

console.log(`HOMER 7: ${ROWS} rows of ~1 KiB in batches of ${BATCH}, ${ROUNDS} rounds`);
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? cases : [...cases].reverse();
  for (const [, run] of order) await run();
}
await admin.end();
rmSync(tmp, { recursive: true, force: true });
const bare = best.get('bare text COPY (heplify-server style)')!;
console.log('\n| path | rows/s | of bare | main µs/row |\n|---|---:|---:|---:|');
for (const r of [best.get(STORE_PATH)!, best.get('HOMER 7 store (binary COPY)')!, bare]) {
  console.log(`| ${r.name} | ${Math.round(r.rowsPerSec)} | ${((100 * r.rowsPerSec) / bare.rowsPerSec).toFixed(0)} % | ${r.mainUsPerRow.toFixed(1)} |`);
}
