/**
 * `initDatabase(url)`: creates everything sipcapture and Homer 5 expect in a database, so the
 * daemon never meets a missing table on its first day (Kamailio creates nothing, spec §3.5
 * item 6, §13 item 9): sip_capture, rtcp_capture, report_capture, logs_capture, and the
 * Homer 5 daily tables sip_capture_{call,registration,rest}_YYYYMMDD for today and tomorrow
 * (UTC dates, like the table-name strftime). Idempotent: existing tables are left as they are.
 * Works for every backend the store factory knows (sqlite, postgres, mysql).
 */
import type { TableKind } from '../capture/rows.js';
import { createStore } from './factory.js';

export interface InitDatabaseOptions {
  /** The day daily tables start from (default: now). Its UTC date is used. */
  now?: Date;
  /** How many days of daily tables, starting with `now`'s (default 2: today and tomorrow). */
  days?: number;
  /** Base names of the daily tables (default Homer 5's call / registration / rest). */
  dailyBases?: readonly string[];
  /** Passed to the store factory unchanged. */
  storeOptions?: Record<string, unknown>;
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
  const tables: { name: string; kind: TableKind }[] = [
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
