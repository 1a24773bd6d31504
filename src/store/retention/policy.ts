/**
 * What retention may drop, and when: the tables a configuration's own templates produce, each
 * with the time range its name (Homer 5 daily tables) or its partition bound (HOMER 7) covers,
 * and the number of days each kind is kept. A table no template could have produced — a user's
 * own table, a look-alike name, an impossible date — is never classified, so never dropped.
 */
import type { SipcaptureConfig } from '../../config/types.js';
import { compileStrftime, type StrftimeTemplate } from '../../route/strftime.js';
import { HOMER7_PARENTS, type Homer7Parent } from '../homer7/row.js';
import { parsePartitionName } from '../homer7/schema.js';
import { templatesByUrl } from '../tables-ahead.js';

export const RETENTION_KINDS = ['call', 'registration', 'default', 'rtcp', 'logs', 'report'] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];

/** A table retention may drop: its kind and the time range its rows belong to (ms since 1970, end exclusive). */
export interface PrunableTable {
  name: string;
  kind: RetentionKind;
  startMs: number;
  endMs: number;
}

/** Days kept per kind (0 = forever), from retention_days and the per-kind keys (-1 = retention_days). */
export function retentionDays(cfg: Pick<SipcaptureConfig, 'retention_days' | `retention_days_${RetentionKind}`>): Record<RetentionKind, number> {
  const out = {} as Record<RetentionKind, number>;
  for (const k of RETENTION_KINDS) {
    const own = cfg[`retention_days_${k}`];
    out[k] = own >= 0 ? own : cfg.retention_days;
  }
  return out;
}

/** The kind of a Homer 5 daily table, by its template's name: registration, call, or the rest. */
export function homer5KindOf(template: string): RetentionKind {
  if (/regist/i.test(template)) return 'registration';
  if (/call/i.test(template)) return 'call';
  return 'default';
}

const KIND_OF_PARENT: Readonly<Record<Homer7Parent, RetentionKind>> = {
  hep_proto_1_call: 'call',
  hep_proto_1_registration: 'registration',
  hep_proto_1_default: 'default',
  hep_proto_5_default: 'rtcp',
  hep_proto_35_default: 'report',
  hep_proto_100_default: 'logs',
};

export function homer7KindOf(parent: Homer7Parent): RetentionKind {
  return KIND_OF_PARENT[parent];
}

/** Conversions a prunable template may use, and the digits each produces. */
const DIGITS: Readonly<Record<string, number>> = { Y: 4, y: 2, m: 2, d: 2, j: 3, H: 2 };

/** Reads the dates out of the names one strftime template produces. */
export class DatedTemplate {
  private readonly re: RegExp;
  private readonly convs: string[] = [];
  private readonly compiled: StrftimeTemplate;

  private constructor(
    readonly template: string,
    readonly kind: RetentionKind,
  ) {
    this.compiled = compileStrftime(template);
    let re = '';
    for (let i = 0; i < template.length; i++) {
      const c = template.charAt(i);
      if (c === '%') {
        const letter = template.charAt(++i);
        re += `(\\d{${DIGITS[letter]!}})`;
        this.convs.push(letter);
      } else {
        re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }
    }
    this.re = new RegExp(`^${re}$`, 'i');
  }

  /**
   * A template whose names carry a whole date (year, and month and day or day of year), with no
   * conversion but those of DIGITS; null otherwise (constant names, weekly names …: not prunable).
   */
  static of(template: string, kind: RetentionKind): DatedTemplate | null {
    const letters = [...template.matchAll(/%(.)/g)].map((m) => m[1]!);
    if (letters.length === 0 || letters.some((l) => DIGITS[l] === undefined)) return null;
    const has = (l: string): boolean => letters.includes(l);
    if (!(has('Y') || has('y')) || !((has('m') && has('d')) || has('j'))) return null;
    try {
      return new DatedTemplate(template, kind);
    } catch {
      return null;
    }
  }

  /** The range of a name this template produces, or null (another name, or a date that does not exist). */
  match(name: string): PrunableTable | null {
    const m = this.re.exec(name);
    if (m === null) return null;
    let year = NaN;
    let month = 1;
    let day = 1;
    let yday = 0;
    let hour = 0;
    this.convs.forEach((c, i) => {
      const v = Number(m[i + 1]);
      if (c === 'Y') year = v;
      else if (c === 'y') year = 2000 + v;
      else if (c === 'm') month = v;
      else if (c === 'd') day = v;
      else if (c === 'j') yday = v;
      else hour = v;
    });
    const startMs = yday > 0 ? Date.UTC(year, 0, yday, hour) : Date.UTC(year, month - 1, day, hour);
    // Formatting the date back must give the very name: rejects 20261399, 2026_02_30 and the like.
    if (!Number.isFinite(startMs) || this.compiled.format(startMs / 1000).toLowerCase() !== name.toLowerCase()) return null;
    return { name, kind: this.kind, startMs, endMs: startMs + this.compiled.granularitySec * 1000 };
  }
}

/** Homer 5 templates of each database URL that has dated names (schema homer5 modes only). */
export function homer5Templates(cfg: Pick<SipcaptureConfig, 'routeRules' | 'captureModes'>): Map<string, DatedTemplate[]> {
  const out = new Map<string, DatedTemplate[]>();
  for (const [url, templates] of templatesByUrl(cfg.routeRules, cfg.captureModes)) {
    const mode = [...cfg.captureModes.values()].find((m) => m.db_url === url);
    if (mode?.schema === 'homer7') continue;
    out.set(
      url,
      templates.flatMap((t) => DatedTemplate.of(t, homer5KindOf(t)) ?? []),
    );
  }
  return out;
}

/**
 * A HOMER 7 partition: a name of the `<parent>_YYYYMMDD_HHMM` form under one of our parents,
 * with the range of its partition bound (`FROM ('…') TO ('…')`, as pg_get_expr prints it).
 */
export function homer7Partition(name: string, parent: string, bound: string): PrunableTable | null {
  const parsed = parsePartitionName(name);
  if (parsed === null || parsed.parent !== parent || !(HOMER7_PARENTS as readonly string[]).includes(parent)) return null;
  const m = /^FOR VALUES FROM \('([^']+)'\) TO \('([^']+)'\)$/.exec(bound);
  if (m === null) return null;
  const startMs = Date.parse(m[1]!.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  const endMs = Date.parse(m[2]!.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs)) return null;
  return { name, kind: homer7KindOf(parsed.parent), startMs, endMs };
}
