/**
 * The request_route equivalent: the first rule whose conditions all hold decides the capture
 * mode and table of a SIP message. A rule's own `table` wins (Kamailio's
 * `sip_capture(table, cmode)`); otherwise the mode's list is used with its mt_mode. Either way
 * the name goes through strftime on the packet's UTC time and is then validated as an
 * identifier. Everything that can be checked once is checked in the constructor, so a bad
 * config fails at start-up rather than per packet.
 */
import type { CaptureMode, RouteRule, SipcaptureConfig } from '../config/types.js';
import { DropReason, type DropReasonValue } from '../telemetry/drop-reasons.js';
import { compileStrftime, type StrftimeTemplate } from './strftime.js';
import { tableNameProblem } from './table-name.js';
import { TableSelector, type HashSources, type TableSelectorOptions } from './table-select.js';
import type { RouteFacts } from './facts.js';

export interface RouteTarget {
  mode: CaptureMode;
  table: string;
  /** Set when mt_mode=hash had an empty source and index 0 was used (Kamailio drops the row). */
  hashFallback?: true;
  /** The rule's `forward` destinations (also stored). */
  forward?: readonly string[];
}

export interface RouteDrop {
  drop: DropReasonValue;
  detail: string;
  /** The rule's `forward` destinations: not stored, but not dropped either when there are some. */
  forward?: readonly string[];
}

export type RouteResult = RouteTarget | RouteDrop;

export interface RouterOptions extends TableSelectorOptions {
  /**
   * A packet dated before now − this many days, or after now + 1 day, gets the table name of
   * the current time instead (its row keeps the packet's time): a wrong agent clock must not
   * create tables years away, which rotation would never see. 0 or absent: no limit.
   */
  tableDateWindowDays?: number;
  /** The current time, seconds since the epoch (tests). */
  nowSec?: () => number;
}

const DAY_SEC = 86_400;

/** A template plus the validity of the last name it produced (names change once a day or so). */
class TableTemplate {
  private lastName: string | null = null;
  private lastProblem: string | undefined;

  constructor(readonly compiled: StrftimeTemplate) {}

  /** The name for this time, or a problem description. */
  resolve(timeSec: number): string | { problem: string } {
    const name = this.compiled.format(timeSec);
    if (name !== this.lastName) {
      this.lastName = name;
      this.lastProblem = tableNameProblem(name);
    }
    return this.lastProblem === undefined ? name : { problem: `${this.lastProblem} (template ${this.compiled.template})` };
  }
}

interface CompiledMode {
  mode: CaptureMode;
  selector: TableSelector;
  templates: TableTemplate[];
}

interface CompiledRule {
  /** Upper-cased method names. */
  methods: ReadonlySet<string> | null;
  /** Required presence of a To tag, or null for any. */
  hasToTag: boolean | null;
  type: 0 | 1 | 2;
  event: RegExp | null;
  store: boolean;
  forward: readonly string[] | null;
  table: TableTemplate | null;
  target: CompiledMode | null;
  /** `shard`: the modes a Call-ID hash picks from (target is the first), or null. */
  shards: { modes: CompiledMode[]; selector: TableSelector } | null;
  filteredDetail: string;
}

const NO_MATCH_DETAIL = 'no route rule matched';

export class Router {
  private readonly rules: CompiledRule[];
  private readonly modes = new Map<string, CompiledMode>();
  private readonly windowPastSec: number;
  private readonly nowSec: () => number;
  private clamped = 0;

  /**
   * @param rules resolved route rules (presets already expanded), in order
   * @param modes every capture mode by name, `default` included
   * @throws Error naming the rule or mode when something is invalid
   */
  constructor(rules: readonly RouteRule[], modes: ReadonlyMap<string, CaptureMode>, opts: RouterOptions = {}) {
    for (const [name, mode] of modes) {
      this.modes.set(name, {
        mode,
        selector: new TableSelector(mode, opts),
        templates: mode.table_name.map((t) => compileTemplate(t, `capture mode ${name}`)),
      });
    }
    this.rules = rules.map((rule, i) => this.compileRule(rule, i));
    this.windowPastSec = Math.max(0, opts.tableDateWindowDays ?? 0) * DAY_SEC;
    this.nowSec = opts.nowSec ?? (() => Date.now() / 1000);
  }

  /** Messages whose table name used the current time because their own was outside the window. */
  get tableDateClampedCount(): number {
    return this.clamped;
  }

  /** Destinations some rule forwards to: they get only what such rules send them. */
  get forwardedByRules(): ReadonlySet<string> {
    const names = new Set<string>();
    for (const r of this.rules) for (const n of r.forward ?? []) names.add(n);
    return names;
  }

  /** True when no rule stores: the pipeline need not parse for storage (a relay). */
  get storesNothing(): boolean {
    return this.rules.every((r) => !r.store || r.target === null);
  }

  /** Rows that used table index 0 because the hash source was empty, over all modes. */
  get emptyHashSourceCount(): number {
    let n = 0;
    for (const m of this.modes.values()) n += m.selector.emptyHashSourceCount;
    return n;
  }

  /**
   * Where one SIP message goes.
   * @param packetTimeSec capture time in seconds since the epoch (HEP time, else receive time)
   */
  route(facts: RouteFacts, hashSources: HashSources, packetTimeSec: number): RouteResult {
    for (const rule of this.rules) {
      if (rule.type !== 0 && rule.type !== facts.type) continue;
      // Kamailio's `$rm =~` is case-insensitive: a request sent as `invite` matches INVITE.
      if (rule.methods !== null && !rule.methods.has(facts.method.toUpperCase())) continue;
      if (rule.hasToTag !== null && rule.hasToTag !== facts.hasToTag) continue;
      if (rule.event !== null && !rule.event.test(facts.event)) continue;
      if (!rule.store || rule.target === null) {
        return rule.forward === null ? { drop: DropReason.FILTERED, detail: rule.filteredDetail } : { drop: DropReason.FILTERED, detail: rule.filteredDetail, forward: rule.forward };
      }
      const target = rule.shards === null ? rule.target : rule.shards.modes[rule.shards.selector.select(hashSources).index]!;
      let template = rule.table;
      let hashFallback = false;
      if (template === null) {
        const sel = target.selector.select(hashSources);
        template = target.templates[sel.index] ?? null;
        hashFallback = sel.emptyHashSource;
        if (template === null) return { drop: DropReason.BAD_TABLE_NAME, detail: `capture mode ${target.mode.name}: no table` };
      }
      const name = template.resolve(this.tableTime(template, packetTimeSec));
      if (typeof name !== 'string') return { drop: DropReason.BAD_TABLE_NAME, detail: name.problem };
      const result: RouteTarget = hashFallback ? { mode: target.mode, table: name, hashFallback: true } : { mode: target.mode, table: name };
      if (rule.forward !== null) result.forward = rule.forward;
      return result;
    }
    return { drop: DropReason.FILTERED, detail: NO_MATCH_DETAIL };
  }

  /** The time that names the table: the packet's, unless outside the window (then now). */
  private tableTime(template: TableTemplate, packetTimeSec: number): number {
    if (this.windowPastSec === 0 || template.compiled.isConstant) return packetTimeSec;
    const now = this.nowSec();
    if (Number.isFinite(packetTimeSec) && packetTimeSec >= now - this.windowPastSec && packetTimeSec <= now + DAY_SEC) return packetTimeSec;
    this.clamped++;
    return now;
  }

  private compileRule(rule: RouteRule, i: number): CompiledRule {
    const where = `route rule #${i + 1}`;
    const store = rule.store !== false;
    let event: RegExp | null = null;
    if (rule.event !== undefined && rule.event !== '') {
      try {
        event = new RegExp(rule.event);
      } catch (err) {
        throw new Error(`${where}: event ${JSON.stringify(rule.event)} is not a valid regular expression: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    const modeName = rule.shard?.[0] ?? rule.capture_mode ?? 'default';
    const target = this.modes.get(modeName) ?? null;
    if (store && target === null) throw new Error(`${where}: unknown capture mode ${JSON.stringify(modeName)}`);
    let shards: CompiledRule['shards'] = null;
    if (store && rule.shard !== undefined) {
      const modes = rule.shard.map((name) => {
        const m = this.modes.get(name);
        if (m === undefined) throw new Error(`${where}: unknown capture mode ${JSON.stringify(name)} in shard`);
        return m;
      });
      // The same CRC-32 of the Call-ID as mt_mode=hash, over the list of modes instead of tables.
      shards = { modes, selector: new TableSelector({ name: `${where} shard`, table_name: rule.shard, mt_mode: 'hash', hash_source: 'call_id' }) };
    }
    const table = store && rule.table !== undefined && rule.table !== '' ? compileTemplate(rule.table, where) : null;
    return {
      methods: rule.method !== undefined && rule.method.length > 0 ? new Set(rule.method.map((m) => m.toUpperCase())) : null,
      hasToTag: rule.has_to_tag ?? null,
      type: rule.type === 'request' ? 1 : rule.type === 'reply' ? 2 : 0,
      event,
      store,
      forward: rule.forward !== undefined && rule.forward.length > 0 ? [...rule.forward] : null,
      table,
      target,
      shards,
      filteredDetail: `${where} has store: false`,
    };
  }
}

function compileTemplate(template: string, where: string): TableTemplate {
  let compiled: StrftimeTemplate;
  try {
    compiled = compileStrftime(template);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
  }
  if (compiled.isConstant) {
    // A name that never changes is checked now rather than dropping every packet later.
    const problem = tableNameProblem(compiled.format(0));
    if (problem !== undefined) throw new Error(`${where}: ${problem}`);
  }
  return new TableTemplate(compiled);
}

/** The router of a configuration: its route rules and capture modes. */
export function routerFrom(cfg: SipcaptureConfig): Router {
  return new Router(cfg.routeRules, cfg.captureModes, { tableDateWindowDays: cfg.table_date_window_days });
}
