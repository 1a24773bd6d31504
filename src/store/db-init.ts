/**
 * `initDatabase(url)`: creates everything sipcapture and Homer 5 expect in a database, so the
 * daemon never meets a missing table on its first day (Kamailio creates nothing, spec §3.5
 * item 6, §13 item 9): sip_capture, rtcp_capture, report_capture, logs_capture, and the
 * Homer 5 daily tables sip_capture_{call,registration,rest}_YYYYMMDD for today and tomorrow
 * (UTC dates, like the table-name strftime). Idempotent: existing tables are left as they are.
 * Works for every backend the store factory knows (sqlite, postgres, mysql).
 */
import type { TableKind } from '../capture/rows.js';
import type { CaptureMode, SipcaptureConfig } from '../config/types.js';
import type { Homer7Store } from './homer7/index.js';
import { HOMER7_PARENTS } from './homer7/row.js';
import { homer7StoreOptions } from './store-set.js';
import { createStore, type CreateStoreOptions } from './factory.js';
import { maskPasswords } from '../config/db-url.js';
import { tablesAhead, type TableSpec } from './tables-ahead.js';

export interface InitDatabaseOptions {
  /** The day daily tables start from (default: now). Its UTC date is used. */
  now?: Date;
  /** How many days of daily tables, starting with `now`'s (default 2: today and tomorrow). */
  days?: number;
  /** Base names of the daily tables (default Homer 5's call / registration / rest). */
  dailyBases?: readonly string[];
  /** Passed to the store factory unchanged. */
  storeOptions?: CreateStoreOptions;
  /** The tables to create, instead of the fixed and Homer 5 daily ones above. */
  tables?: readonly TableSpec[];
}

export interface InitDatabaseResult {
  backend: string;
  /** Every table ensured, in creation order. */
  tables: { name: string; kind: TableKind }[];
}

export const HOMER5_DAILY_BASES: readonly string[] = ['sip_capture_call', 'sip_capture_registration', 'sip_capture_rest'];

export const FIXED_TABLES: readonly { name: string; kind: TableKind }[] = [
  { name: 'sip_capture', kind: 'sip' },
  { name: 'rtcp_capture', kind: 'rtcp' },
  { name: 'report_capture', kind: 'report' },
  { name: 'logs_capture', kind: 'logs' },
];

/** `base_YYYYMMDD` for `days` consecutive UTC days starting at `now`. */
export function dailyTableNames(now: Date, days: number, bases: readonly string[] = HOMER5_DAILY_BASES): string[] {
  const names: string[] = [];
  const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  for (let d = 0; d < days; d++) {
    const ymd = new Date(start + d * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
    for (const b of bases) names.push(`${b}_${ymd}`);
  }
  return names;
}

export async function initDatabase(url: string, opts: InitDatabaseOptions = {}): Promise<InitDatabaseResult> {
  const tables: { name: string; kind: TableKind }[] = opts.tables
    ? [...opts.tables]
    : [
        ...FIXED_TABLES,
        ...dailyTableNames(opts.now ?? new Date(), opts.days ?? 2, opts.dailyBases).map((name) => ({ name, kind: 'sip' as const })),
      ];
  const store = await createStore(url, opts.storeOptions ?? {});
  try {
    for (const t of tables) await store.ensureTable(t.name, t.kind);
  } finally {
    await store.close();
  }
  return { backend: store.backend, tables };
}

const REPORT_TABLES = FIXED_TABLES.filter((t) => t.kind !== 'sip');

/**
 * What `sipcapture db init -c FILE` creates, per database URL of the config: the SIP tables its
 * routes write to (constant names; strftime names for today and tomorrow, UTC — the same list
 * the daemon keeps ahead, tables-ahead.ts), and rtcp_capture / report_capture / logs_capture in
 * the default capture mode's database, where non-SIP HEP goes.
 */
export function tablesForConfig(cfg: SipcaptureConfig, now: Date = new Date()): Map<string, TableSpec[]> {
  const ahead = tablesAhead(cfg.routeRules, cfg.captureModes, Math.floor(now.getTime() / 1000));
  const defaultUrl = cfg.captureModes.get('default')?.db_url;
  const out = new Map<string, TableSpec[]>();
  for (const mode of cfg.captureModes.values()) {
    if (out.has(mode.db_url)) continue;
    out.set(mode.db_url, [...(ahead.get(mode.db_url) ?? []), ...(mode.db_url === defaultUrl ? REPORT_TABLES : [])]);
  }
  return out;
}

/**
 * `sipcapture db init`: initialises every database of the config, reporting one line per
 * database through `print`. Resolves false when any database failed (the others are still done).
 */
export async function initConfigDatabases(cfg: SipcaptureConfig, print: (line: string) => void, now: Date = new Date()): Promise<boolean> {
  let ok = true;
  for (const [url, tables] of tablesForConfig(cfg, now)) {
    const mode = [...cfg.captureModes.values()].find((m) => m.db_url === url);
    if (mode?.schema === 'homer7') {
      ok = (await initHomer7(url, mode, cfg, print, now)) && ok;
      continue;
    }
    try {
      const res = await initDatabase(url, { tables, storeOptions: { dbInsertMode: cfg.db_insert_mode } });
      print(`${maskPasswords(url)}: ${res.tables.length} tables ready: ${res.tables.map((t) => t.name).join(', ')}`);
    } catch (err) {
      ok = false;
      const hint = whatToDo(err);
      print(`${maskPasswords(url)}: FAILED: ${err instanceof Error ? err.message : String(err)}${hint === '' ? '' : `\n  ${hint}`}`);
    }
  }
  return ok;
}

/**
 * The next step for the errors a new installation meets: the database or its user not created
 * yet (sipcapture creates tables, never databases or users).
 */
function whatToDo(err: unknown): string {
  const e = err as { code?: unknown; errno?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  const recipe = 'docs/operations.md, "Creating the database and its user"';
  // PostgreSQL 3D000 / MySQL ER_BAD_DB_ERROR: no such database.
  if (code === '3D000' || code === 'ER_BAD_DB_ERROR' || /database .* does not exist|Unknown database/i.test(message)) {
    return `the database does not exist: create it (and a user owning it) first, then run db init again — ${recipe}`;
  }
  // PostgreSQL 28P01 / 28000, MySQL ER_ACCESS_DENIED_ERROR: the user or its password.
  if (code === '28P01' || code === '28000' || code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR') {
    return `the server refused the user of db_url: create it with the password of db_url and grant it the database — ${recipe}`;
  }
  // PostgreSQL 42501 / MySQL ER_TABLEACCESS_DENIED_ERROR: no right to create tables.
  if (code === '42501' || code === 'ER_TABLEACCESS_DENIED_ERROR') {
    return `the user may not create tables: sipcapture creates one per day, so it needs CREATE (the database owner has it) — ${recipe}`;
  }
  return '';
}

/** `db init` of a `schema: homer7` database: the hep_proto_* parents and today's and tomorrow's partitions. */
async function initHomer7(url: string, mode: CaptureMode, cfg: SipcaptureConfig, print: (line: string) => void, now: Date): Promise<boolean> {
  try {
    const store = (await createStore(url, { poolSize: 1, ...homer7StoreOptions(mode, cfg, null), homer7: { ...homer7StoreOptions(mode, cfg, null).homer7, aheadIntervalMs: 0 } })) as Homer7Store;
    try {
      const names = await store.ensureAhead(now.getTime());
      print(`${maskPasswords(url)}: HOMER 7 schema ready: ${HOMER7_PARENTS.join(', ')}; ${names.length} partitions of ${cfg.homer7_partition_minutes} min for today and tomorrow (UTC), ${names[0] ?? ''} … ${names.at(-1) ?? ''}`);
    } finally {
      await store.close();
    }
    return true;
  } catch (err) {
    print(`${maskPasswords(url)}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
}
