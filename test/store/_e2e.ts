/**
 * Helpers for the storage end-to-end tests (test/e2e/storage-*.test.ts): a private PostgreSQL
 * schema / MariaDB database per run (dropped afterwards), a real daemon started in-process, a
 * HEP sender over TCP (ordered, lossless), and readers that return every row of every table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { pino } from 'pino';
import { SIP_CAPTURE_COLUMNS } from '../../src/capture/rows.js';
import { validateConfig } from '../../src/config/load.js';
import { PARAM_NAMES } from '../../src/config/params.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon.js';
import { encodeHep } from '../../src/hep/encode.js';
import { freePort } from '../helpers/net.js';
import { MYSQL_URL, PG_URL, RUN } from './postgres/helpers.js';

export { MYSQL_URL, PG_URL, RUN, reachable, skipReason } from './postgres/helpers.js';

/** One row read back, every column in a comparable form, plus its table. */
export type ReadRow = Record<string, unknown> & { table: string; callid: string };

export interface Namespace {
  /** The database URL for the daemon; `port` replaces the server's port (a proxy). */
  url(port?: number): string;
  /** Every row of every table, in table then id order. */
  readAll(): Promise<ReadRow[]>;
  /** Table names in the namespace. */
  tables(): Promise<string[]>;
  /** The callid of every SIP row over all tables (cheap: one column). */
  callids(): Promise<string[]>;
  /** Runs SQL as the admin connection (inside the namespace). */
  exec(sql: string): Promise<void>;
  drop(): Promise<void>;
}

let nsSeq = 0;
/** Tables without SIP rows: the report tables, and the stores' marker table of replayed spool records. */
const REPORT_TABLES = new Set(['rtcp_capture', 'report_capture', 'logs_capture', 'sipcapture_spool_done']);

/** A fresh PostgreSQL schema; the daemon's URL sets search_path to it. */
export async function pgNamespace(tag: string, serverUrl = PG_URL): Promise<Namespace> {
  const schema = `sc_${tag}_${RUN}_${nsSeq++}`.toLowerCase();
  const admin = new pg.Pool({ connectionString: serverUrl, max: 2 });
  admin.on('error', () => {});
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const base = new URL(serverUrl);
  const tables = async (): Promise<string[]> =>
    (await admin.query<{ t: string }>('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [schema])).rows.map((r) => r.t);
  return {
    url(port?: number): string {
      const u = new URL(base.toString());
      if (port !== undefined) u.port = String(port);
      u.searchParams.set('options', `-c search_path=${schema}`);
      return u.toString();
    },
    tables,
    async readAll(): Promise<ReadRow[]> {
      const out: ReadRow[] = [];
      const sel = SIP_CAPTURE_COLUMNS.map((c) => (c === 'date' ? `"date"::text AS "date"` : c === 'micro_ts' ? 'micro_ts::text AS micro_ts' : `"${c}"`));
      for (const t of await tables()) {
        if (REPORT_TABLES.has(t)) continue;
        const res = await admin.query<Record<string, unknown>>(`SELECT ${sel.join(', ')} FROM "${schema}"."${t}" ORDER BY id`);
        for (const r of res.rows) out.push({ ...r, micro_ts: Number(r['micro_ts']), table: t } as unknown as ReadRow);
      }
      return out;
    },
    async callids(): Promise<string[]> {
      const out: string[] = [];
      for (const t of await tables()) {
        if (REPORT_TABLES.has(t)) continue;
        const res = await admin.query<{ callid: string }>(`SELECT callid FROM "${schema}"."${t}"`);
        for (const r of res.rows) out.push(r.callid);
      }
      return out;
    },
    async exec(sql: string): Promise<void> {
      const c = await admin.connect();
      try {
        await c.query(`SET search_path TO "${schema}"`);
        await c.query(sql);
      } finally {
        c.release();
      }
    },
    async drop(): Promise<void> {
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      await admin.end();
    },
  };
}

/** A fresh MariaDB / MySQL database. */
export async function mysqlNamespace(tag: string): Promise<Namespace> {
  const db = `sc_${tag}_${RUN}_${nsSeq++}`.toLowerCase();
  const boot = await mysql.createConnection({ uri: MYSQL_URL });
  await boot.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4`);
  await boot.end();
  const u0 = new URL(MYSQL_URL);
  u0.pathname = `/${db}`;
  const admin = mysql.createPool({ uri: u0.toString(), connectionLimit: 2, dateStrings: true, supportBigNumbers: true, charset: 'utf8mb4_general_ci' });
  const tables = async (): Promise<string[]> => {
    const [rows] = await admin.query<mysql.RowDataPacket[]>('SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1', [db]);
    return rows.map((r) => String(r['t']));
  };
  return {
    url(port?: number): string {
      const u = new URL(u0.toString());
      if (port !== undefined) u.port = String(port);
      return u.toString();
    },
    tables,
    async readAll(): Promise<ReadRow[]> {
      const out: ReadRow[] = [];
      for (const t of await tables()) {
        if (REPORT_TABLES.has(t)) continue;
        const [rows] = await admin.query<mysql.RowDataPacket[]>(`SELECT ${SIP_CAPTURE_COLUMNS.map((c) => `\`${c}\``).join(', ')} FROM \`${t}\` ORDER BY id`);
        for (const r of rows) out.push({ ...r, micro_ts: Number(r['micro_ts']), table: t } as unknown as ReadRow);
      }
      return out;
    },
    async callids(): Promise<string[]> {
      const out: string[] = [];
      for (const t of await tables()) {
        if (REPORT_TABLES.has(t)) continue;
        const [rows] = await admin.query<mysql.RowDataPacket[]>(`SELECT callid FROM \`${t}\``);
        for (const r of rows) out.push(String(r['callid']));
      }
      return out;
    },
    async exec(sql: string): Promise<void> {
      await admin.query(sql);
    },
    async drop(): Promise<void> {
      await admin.query(`DROP DATABASE \`${db}\``);
      await admin.end();
    },
  };
}

/** A SQLite file in a temporary directory. */
export function sqliteNamespace(): Namespace {
  const dir = mkdtempSync(join(tmpdir(), 'sipcapture-e2e-sqlite-'));
  const file = join(dir, 'capture.sqlite');
  const open = (): Database.Database => new Database(file, { readonly: true, fileMustExist: true });
  const tables = (): Promise<string[]> => {
    const db = open();
    try {
      return Promise.resolve((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1").all() as { name: string }[]).map((r) => r.name));
    } finally {
      db.close();
    }
  };
  return {
    url: () => `sqlite://${file}`,
    tables,
    async readAll(): Promise<ReadRow[]> {
      const out: ReadRow[] = [];
      const db = open();
      try {
        for (const t of await tables()) {
          if (REPORT_TABLES.has(t)) continue;
          for (const r of db.prepare(`SELECT ${SIP_CAPTURE_COLUMNS.map((c) => `"${c}"`).join(', ')} FROM "${t}" ORDER BY id`).all() as Record<string, unknown>[]) {
            out.push({ ...r, table: t } as unknown as ReadRow);
          }
        }
      } finally {
        db.close();
      }
      return out;
    },
    async callids(): Promise<string[]> {
      return (await this.readAll()).map((r) => r.callid);
    },
    exec(): Promise<void> {
      return Promise.reject(new Error('not for sqlite'));
    },
    drop(): Promise<void> {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

export interface TestDaemon {
  daemon: RunningDaemon;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

/** Starts a real daemon (HEP over TCP and UDP on a free port) with `over` on top of a base config. */
export async function startTestDaemon(over: Record<string, unknown>): Promise<TestDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'sipcapture-e2e-storage-'));
  const port = await freePort();
  const cfg = validateConfig(
    {
      capture_on: 1,
      hep_capture_on: 1,
      listen: [`tcp:127.0.0.1:${port}`, `udp:127.0.0.1:${port}`],
      batch_timeout_ms: 50,
      spool_dir: join(dir, 'spool'),
      log_level: 'warn',
      // The control plane's listeners are not under test here, and fixed ports would collide.
      ...(PARAM_NAMES.has('http_listen') ? { http_listen: '' } : {}),
      ...(PARAM_NAMES.has('rpc_socket') ? { rpc_socket: '' } : {}),
      ...over,
    },
    join(dir, 'sipcapture.json5'),
  );
  const logger = pino({ level: process.env['SIPCAPTURE_TEST_LOG'] === '1' ? 'info' : 'silent' });
  // Several daemons share this process: process-wide metrics only make sense once.
  const daemon = await startDaemon(cfg, logger, { processMetrics: false });
  return {
    daemon,
    port,
    dir,
    async stop(): Promise<void> {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One ordered, lossless HEP3-over-TCP connection to the daemon. */
export class HepTcpSender {
  private constructor(private readonly sock: net.Socket) {}

  static async connect(port: number): Promise<HepTcpSender> {
    const sock = net.createConnection({ port, host: '127.0.0.1' });
    sock.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    return new HepTcpSender(sock);
  }

  /** Sends SIP messages (text, or exact bytes) as HEP3 frames dated `tsSec` (plus `tsUsec`). */
  send(items: readonly { text: string | Buffer; tsSec: number; tsUsec?: number; srcIp?: string }[]): Promise<void> {
    const frames = items.map((m) =>
      encodeHep({
        version: 3,
        srcIp: m.srcIp ?? '192.0.2.10',
        dstIp: (m.srcIp ?? '').includes(':') ? '2001:db8::99' : '198.51.100.20',
        srcPort: 5060,
        dstPort: 5060,
        tsSec: m.tsSec,
        tsUsec: m.tsUsec ?? 0,
        captureId: 2001,
        payload: m.text,
      }),
    );
    return new Promise((resolve, reject) => this.sock.write(Buffer.concat(frames), (err) => (err ? reject(err) : resolve())));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.sock.end(resolve));
  }
}

/** Callids that occur more than once, and the number of distinct ones. */
export function tally(rows: readonly { callid: string }[]): { distinct: number; duplicates: string[] } {
  const seen = new Map<string, number>();
  for (const r of rows) seen.set(r.callid, (seen.get(r.callid) ?? 0) + 1);
  return { distinct: seen.size, duplicates: [...seen].filter(([, n]) => n > 1).map(([c]) => c) };
}


/** The config of a daemon taking HEP over TCP on `port` into `dbUrl`, with a spool, for the fault tests. */
export function faultTestConfig(dbUrl: string, port: number, spoolDir: string, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    db_url: dbUrl,
    routes: 'default',
    table_name: 'sip_capture',
    capture_on: 1,
    hep_capture_on: 1,
    listen: [`tcp:127.0.0.1:${port}`],
    http_listen: '',
    rpc_socket: '',
    spool_dir: spoolDir,
    batch_size: 100,
    batch_timeout_ms: 200,
    log_level: 'info',
    ...over,
  });
}
