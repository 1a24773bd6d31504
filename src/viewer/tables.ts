/**
 * Which tables of a database hold what the viewer looks for. The daemon writes SIP rows into
 * tables named by strftime templates (the routes' `table`, the capture modes' `table_name`
 * lists), so the reader turns each template back into a pattern, lists the tables the
 * database has, and keeps those a time range can touch: a daily `sip_capture_call_%Y%m%d`
 * only for the days of the range, a fixed `sip_capture` always.
 */
import type { SipcaptureConfig } from '../config/types.js';
import { STRFTIME_CONVERSIONS } from '../config/table-template.js';
import type { TimeRange } from './types.js';

/** A SIP table template as a pattern; `day` reads the table's UTC day when the name has one. */
export interface TablePattern {
  template: string;
  regex: RegExp;
  /** Group numbers of %Y, %m and %d, when all three are in the template. */
  dayGroups: { y: number; m: number; d: number } | null;
}

/** Where non-SIP HEP goes (fixed names, in the default capture mode's database). */
export const SIDE_TABLES = [
  { name: 'rtcp_capture', kind: 'rtcp' },
  { name: 'report_capture', kind: 'report' },
  { name: 'logs_capture', kind: 'logs' },
] as const;

export function tablePattern(template: string): TablePattern {
  let source = '';
  let group = 0;
  const groups: Record<string, number> = {};
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    const letter = template[i + 1];
    if (c === '%' && letter !== undefined && letter in STRFTIME_CONVERSIONS) {
      group++;
      groups[letter] ??= group;
      source += letter === 's' ? '(\\d+)' : `(\\d{${STRFTIME_CONVERSIONS[letter]!.width}})`;
      i++;
    } else {
      source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  const { Y: y, m, d } = groups;
  // PostgreSQL folds the names to lower case.
  return { template, regex: new RegExp(`^${source}$`, 'i'), dayGroups: y !== undefined && m !== undefined && d !== undefined ? { y, m, d } : null };
}

/**
 * The SIP table templates that write into `dbUrl`: each rule's table (or, without one, its
 * capture mode's table_name list), for the rules that store into a mode of that database.
 */
export function sipTemplatesFor(cfg: Pick<SipcaptureConfig, 'routeRules' | 'captureModes'>, dbUrl: string): string[] {
  const out = new Set<string>();
  for (const rule of cfg.routeRules) {
    if (rule.store === false) continue;
    const mode = cfg.captureModes.get(rule.capture_mode ?? 'default');
    if (mode === undefined || mode.db_url !== dbUrl) continue;
    if (rule.table !== undefined) out.add(rule.table);
    else for (const t of mode.table_name) out.add(t);
  }
  return [...out];
}

const DAY_US = 86_400_000_000;

/**
 * The tables among `existing` that match a pattern and may hold rows of `range`. A daily name
 * is kept when its UTC day is within a day of the range (rows are named by the packet's UTC
 * day; the margin covers clocks and the date_time_zone of the `date` column), or when it is
 * `windowDays` (table_date_window_days) or more after the range: a packet older than that when
 * it arrived (an imported capture, a late sender) was stored in the table of its arrival day.
 */
export function tablesFor(patterns: readonly TablePattern[], existing: readonly string[], range: TimeRange, windowDays = 0): string[] {
  const out: string[] = [];
  for (const name of existing) {
    for (const p of patterns) {
      const m = p.regex.exec(name);
      if (m === null) continue;
      if (p.dayGroups !== null) {
        const dayUs = Date.UTC(Number(m[p.dayGroups.y]), Number(m[p.dayGroups.m]) - 1, Number(m[p.dayGroups.d])) * 1000;
        const inRange = dayUs + 2 * DAY_US > range.fromUs && dayUs - DAY_US <= range.toUs;
        const arrivedLate = windowDays > 0 && dayUs + 2 * DAY_US > range.fromUs + windowDays * DAY_US;
        if (!inRange && !arrivedLate) break;
      }
      out.push(name);
      break;
    }
  }
  // Newest names last: daily tables sort by day.
  return out.sort();
}
