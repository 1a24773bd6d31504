/**
 * `routes`: the request_route equivalent. Either a preset name or a list of rules; the first
 * rule whose conditions all hold decides the table and capture mode (types.ts, RouteRule).
 */
import type { RouteRule, SipcaptureConfig } from './types.js';
import type { ConfigProblem } from './errors.js';
import { show, typeName } from './errors.js';
import { checkTableTemplate } from './table-template.js';
import { didYouMean } from './suggest.js';

export type RoutesSetting = SipcaptureConfig['routes'];
export const ROUTE_PRESETS = ['homer5', 'default'] as const;
export const ROUTE_RULE_KEYS = ['method', 'type', 'event', 'has_to_tag', 'table', 'capture_mode', 'shard', 'store', 'forward'] as const;

const CALL = 'sip_capture_call_%Y%m%d';

/**
 * The Homer 5 example config's route[STORE], with the packet's date (the README's
 * `sip_capture("sip_capture_call_%Y%m%d")` form; the example itself uses the current date).
 * Kamailio matches `$rm =~ "(INVITE|…|CANCEL)$"`, a case-insensitive regular expression anchored
 * only at the end; we compare whole method names ignoring case, which differs only for invented
 * methods such as `XINVITE`.
 */
export const HOMER5_RULES: readonly RouteRule[] = Object.freeze([
  { method: ['REGISTER'], table: 'sip_capture_registration_%Y%m%d' },
  { method: ['INVITE', 'UPDATE', 'BYE', 'ACK', 'PRACK', 'REFER', 'CANCEL'], table: CALL },
  { method: ['NOTIFY'], event: 'refer;', table: CALL },
  { method: ['INFO'], table: CALL },
  { table: 'sip_capture_rest_%Y%m%d' },
]);

/** `sip_capture()` with no arguments: the default mode and its table_name list. */
export const DEFAULT_RULES: readonly RouteRule[] = Object.freeze([{}]);

/** RFC 3261 `token`: what a SIP method name is made of. */
const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates the shape of `routes` (not yet whether the capture modes exist). */
export function validateRoutes(value: unknown): { routes?: RoutesSetting; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  if (typeof value === 'string') {
    if ((ROUTE_PRESETS as readonly string[]).includes(value)) return { routes: value as 'homer5' | 'default', problems };
    problems.push({
      key: 'routes',
      message: `${show(value)} is not a preset (allowed: "homer5", "default", or an array of rules)${didYouMean(value, ROUTE_PRESETS)}`,
    });
    return { problems };
  }
  if (!Array.isArray(value)) {
    problems.push({ key: 'routes', message: `expected "homer5", "default" or an array of rules, got ${typeName(value)} ${show(value)}` });
    return { problems };
  }
  if (value.length === 0) {
    problems.push({ key: 'routes', message: '[] has no rules, so nothing would be stored (give at least one rule; {} matches everything)' });
    return { problems };
  }
  const rules: RouteRule[] = [];
  value.forEach((raw: unknown, i) => {
    const at = `routes[${i}]`;
    if (!isRecord(raw)) {
      problems.push({ key: at, message: `expected an object such as { method: ["INVITE"], table: "calls_%Y%m%d" }, got ${typeName(raw)} ${show(raw)}` });
      return;
    }
    const rule: RouteRule = {};
    for (const [k, v] of Object.entries(raw)) {
      const key = `${at}.${k}`;
      switch (k) {
        case 'method': {
          const list = typeof v === 'string' ? v.split('|') : v;
          if (!Array.isArray(list) || list.length === 0 || !list.every((m): m is string => typeof m === 'string')) {
            problems.push({ key, message: `${show(v)}: expected a non-empty array of method names, e.g. ["INVITE", "BYE"]` });
            break;
          }
          const bad = list.filter((m) => !TOKEN.test(m));
          if (bad.length > 0) {
            problems.push({ key, message: `${show(v)}: ${bad.map((b) => show(b)).join(', ')} is not a SIP method name (a token: letters, digits and .!%*_+\`'~-)` });
            break;
          }
          rule.method = list;
          break;
        }
        case 'type':
          if (v === 'request' || v === 'reply') rule.type = v;
          else problems.push({ key, message: `${show(v)} is not allowed (allowed: "request", "reply")` });
          break;
        case 'event':
          if (typeof v !== 'string' || v === '') {
            problems.push({ key, message: `${show(v)}: expected a regular expression as a non-empty string, e.g. "refer;"` });
            break;
          }
          try {
            new RegExp(v);
            rule.event = v;
          } catch (e) {
            problems.push({ key, message: `${show(v)} is not a valid regular expression (${(e as Error).message})` });
          }
          break;
        case 'table': {
          if (typeof v !== 'string') {
            problems.push({ key, message: `expected a table name template (string), got ${typeName(v)} ${show(v)}` });
            break;
          }
          // An empty table means "use the mode's table_name list", as sip_capture("") does.
          const why = v === '' ? undefined : checkTableTemplate(v);
          if (why !== undefined) problems.push({ key, message: `${show(v)}: ${why}` });
          else if (v !== '') rule.table = v;
          break;
        }
        case 'capture_mode':
          if (typeof v === 'string' && v !== '') rule.capture_mode = v;
          else problems.push({ key, message: `expected a capture mode name (non-empty string), got ${typeName(v)} ${show(v)}` });
          break;
        case 'has_to_tag':
          if (typeof v === 'boolean') rule.has_to_tag = v;
          else problems.push({ key, message: `${show(v)}: expected true (in-dialog: a To tag is present) or false` });
          break;
        case 'store':
          if (typeof v === 'boolean') rule.store = v;
          else problems.push({ key, message: `${show(v)}: expected true or false` });
          break;
        case 'shard': {
          if (!Array.isArray(v) || v.length < 2 || !v.every((m): m is string => typeof m === 'string' && m !== '')) {
            problems.push({ key, message: `${show(v)}: expected an array of at least two capture mode names, e.g. ["db1", "db2"]` });
            break;
          }
          if ('capture_mode' in raw) problems.push({ key, message: 'give either capture_mode or shard, not both' });
          else rule.shard = v;
          break;
        }
        case 'forward': {
          const list = typeof v === 'string' ? [v] : v;
          if (!Array.isArray(list) || !list.every((m): m is string => typeof m === 'string' && m !== '')) {
            problems.push({ key, message: `${show(v)}: expected an array of forward destination names, e.g. ["central"]` });
            break;
          }
          rule.forward = list;
          break;
        }
        default:
          problems.push({
            key,
            message: `unknown rule key${didYouMean(k, ROUTE_RULE_KEYS)} (allowed: ${ROUTE_RULE_KEYS.join(', ')})`,
          });
      }
    }
    rules.push(rule);
  });
  return problems.length > 0 ? { problems } : { routes: rules, problems };
}

/** The rules a `routes` setting stands for (presets expanded; copies, so callers may keep them). */
export function expandRoutes(routes: RoutesSetting): RouteRule[] {
  const rules = routes === 'homer5' ? HOMER5_RULES : routes === 'default' ? DEFAULT_RULES : routes;
  return rules.map((r) => ({ ...r, ...(r.method ? { method: [...r.method] } : {}), ...(r.forward ? { forward: [...r.forward] } : {}), ...(r.shard ? { shard: [...r.shard] } : {}) }));
}

/** Names of the capture modes that rules store through (`default` when a rule names none). */
export function modesUsedByRules(rules: readonly RouteRule[]): Set<string> {
  const used = new Set<string>();
  for (const r of rules) {
    if (r.store === false) continue;
    if (r.shard !== undefined) for (const m of r.shard) used.add(m);
    else used.add(r.capture_mode ?? 'default');
  }
  return used;
}
