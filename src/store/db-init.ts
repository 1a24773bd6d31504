/**
 * `initDatabase(url)`: creates everything sipcapture and Homer 5 expect in a database, so the
 * daemon never meets a missing table on its first day (Kamailio creates nothing, spec §3.5
 * item 6, §13 item 9): sip_capture, rtcp_capture, report_capture, logs_capture, and the
 * Homer 5 daily tables sip_capture_{call,registration,rest}_YYYYMMDD for today and tomorrow
 * (UTC dates, like the table-name strftime). Idempotent: existing tables are left as they are.
 * Works for every backend the store factory knows (sqlite, postgres, mysql).
 */
import type { TableKind } from '../capture/rows.js';
import type { SipcaptureConfig } from '../config/types.js';
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
    try {
      const res = await initDatabase(url, { tables, storeOptions: { dbInsertMode: cfg.db_insert_mode } });
      print(`${maskPasswords(url)}: ${res.tables.length} tables ready: ${res.tables.map((t) => t.name).join(', ')}`);
    } catch (err) {
      ok = false;
      print(`${maskPasswords(url)}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return ok;
}
