/**
 * Which tables a configuration will write to soon, so they can be created before the first row
 * needs them (Kamailio creates none, spec §13 item 9).
 *
 * For every route rule that stores, the table templates it can use (its own `table`, else its
 * capture mode's `table_name` list) are expanded:
 *   - a constant name (no strftime conversion): that name;
 *   - a template that changes at most once an hour (%Y %m %d %H …): the name for now and for the
 *     next period — today's and tomorrow's table for the daily Homer 5 names (UTC dates, like
 *     the routing), this hour's and the next hour's for hourly ones;
 *   - finer templates (%M, %S, %s): nothing ahead; they are created on first use.
 * Non-SIP tables (rtcp_capture, report_capture, logs_capture) are fixed names created on first
 * use by the daemon and by `sipcapture db init`.
 */
import type { TableKind } from '../capture/rows.js';
import type { CaptureMode, RouteRule } from '../config/types.js';
import { compileStrftime } from '../route/strftime.js';
import { tableNameProblem } from '../route/table-name.js';

export interface TableSpec {
  name: string;
  kind: TableKind;
}

/** Templates finer than this are not created ahead. */
const COARSEST_FINE_GRANULARITY_SEC = 3600;

/** Every table template each database URL can receive SIP rows in, in rule order, no repeats. */
export function templatesByUrl(rules: readonly RouteRule[], modes: ReadonlyMap<string, CaptureMode>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const rule of rules) {
    if (rule.store === false) continue;
    for (const name of rule.shard ?? [rule.capture_mode ?? 'default']) {
      const mode = modes.get(name);
      if (mode === undefined) continue;
      const templates = rule.table !== undefined && rule.table !== '' ? [rule.table] : mode.table_name;
      let list = out.get(mode.db_url);
      if (list === undefined) out.set(mode.db_url, (list = []));
      for (const t of templates) if (!list.includes(t)) list.push(t);
    }
  }
  return out;
}

/** Names of `templates` for now and the next period (see the file comment), valid names only. */
export function namesAhead(templates: readonly string[], nowSec: number): string[] {
  const names: string[] = [];
  const add = (n: string): void => {
    if (tableNameProblem(n) === undefined && !names.includes(n)) names.push(n);
  };
  for (const t of templates) {
    let compiled;
    try {
      compiled = compileStrftime(t);
    } catch {
      continue; // the router reports bad templates at start-up
    }
    if (compiled.isConstant) {
      add(compiled.format(nowSec));
    } else if (compiled.granularitySec >= COARSEST_FINE_GRANULARITY_SEC) {
      add(compiled.format(nowSec));
      add(compiled.format(nowSec + compiled.granularitySec));
    }
  }
  return names;
}

/** For each database URL, the SIP tables to have ready at `nowSec`. */
export function tablesAhead(rules: readonly RouteRule[], modes: ReadonlyMap<string, CaptureMode>, nowSec: number): Map<string, TableSpec[]> {
  const out = new Map<string, TableSpec[]>();
  for (const [url, templates] of templatesByUrl(rules, modes)) {
    out.set(
      url,
      namesAhead(templates, nowSec).map((name) => ({ name, kind: 'sip' as const })),
    );
  }
  return out;
}
