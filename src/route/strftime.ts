/**
 * strftime() in UTC for table name templates (Kamailio formats the chosen name with
 * the packet's capture time through gmtime()). Templates are compiled once; the formatted name
 * is cached per time bucket (second, minute, hour or day, the finest unit the template uses),
 * so the hot path formats a daily table name once a day, not once per packet.
 *
 * The table-safe conversion letters are defined by the config validator
 * (`STRFTIME_CONVERSIONS` in config/table-template.ts); this module implements all of
 * them plus `%e` and `%%`, which are valid strftime but never yield a valid table name.
 */
import { STRFTIME_CONVERSIONS } from '../config/table-template.js';

/** Conversions implemented here besides the table-safe ones (Kamailio's strftime has them). */
export const STRFTIME_EXTRA_CONVERSIONS: readonly string[] = Object.freeze(['e', '%']);

/** Every conversion letter `compileStrftime` accepts. */
export const STRFTIME_IMPLEMENTED: ReadonlySet<string> = new Set([
  ...Object.keys(STRFTIME_CONVERSIONS),
  ...STRFTIME_EXTRA_CONVERSIONS,
]);

const DAY = 86_400;
/** Finest unit a conversion depends on, in seconds (Unix time has exactly 86400 s per day). */
const UNIT: Readonly<Record<string, number>> = {
  s: 1,
  S: 1,
  M: 60,
  H: 3600,
  I: 3600,
};

export interface StrftimeTemplate {
  readonly template: string;
  /** True when the template has no time conversion (the name never changes). */
  readonly isConstant: boolean;
  /** Seconds during which the output cannot change (1, 60, 3600, 86400; Infinity if constant). */
  readonly granularitySec: number;
  /** The name for a packet time in seconds since the epoch (fractions ignored). */
  format(timeSec: number): string;
}

type Part = string | { conv: string };

/** Compiles a template; throws on an unknown conversion or a lone trailing `%`. */
export function compileStrftime(template: string): StrftimeTemplate {
  const parts: Part[] = [];
  let literal = '';
  let granularity = Infinity;
  for (let i = 0; i < template.length; i++) {
    const c = template.charAt(i);
    if (c !== '%') {
      literal += c;
      continue;
    }
    const letter = template.charAt(i + 1);
    if (letter === '') throw new Error(`strftime template ${JSON.stringify(template)} ends with a lone "%"`);
    if (!STRFTIME_IMPLEMENTED.has(letter)) {
      throw new Error(`strftime template ${JSON.stringify(template)}: "%${letter}" is not supported`);
    }
    i++;
    if (letter === '%') {
      literal += '%';
      continue;
    }
    if (literal !== '') parts.push(literal);
    literal = '';
    parts.push({ conv: letter });
    granularity = Math.min(granularity, UNIT[letter] ?? DAY);
  }
  if (literal !== '') parts.push(literal);
  return granularity === Infinity ? constantTemplate(template, literal) : new CachedTemplate(template, parts, granularity);
}

function constantTemplate(template: string, value: string): StrftimeTemplate {
  return { template, isConstant: true, granularitySec: Infinity, format: () => value };
}

class CachedTemplate implements StrftimeTemplate {
  readonly isConstant = false;
  // Two entries, so packets that straddle a boundary (late packets from the previous day
  // interleaved with new ones) do not thrash the cache.
  private bucketA = NaN;
  private nameA = '';
  private bucketB = NaN;
  private nameB = '';

  constructor(
    readonly template: string,
    private readonly parts: readonly Part[],
    readonly granularitySec: number,
  ) {}

  format(timeSec: number): string {
    const t = Number.isFinite(timeSec) ? Math.floor(timeSec) : 0;
    const bucket = Math.floor(t / this.granularitySec);
    if (bucket === this.bucketA) return this.nameA;
    if (bucket === this.bucketB) return this.nameB;
    const name = formatParts(this.parts, t);
    this.bucketB = this.bucketA;
    this.nameB = this.nameA;
    this.bucketA = bucket;
    this.nameA = name;
    return name;
  }
}

const templateCache = new Map<string, StrftimeTemplate>();

/** One-off formatting (tests, tools); compiled templates are cached by text. */
export function strftimeUtc(template: string, timeSec: number): string {
  let compiled = templateCache.get(template);
  if (compiled === undefined) {
    compiled = compileStrftime(template);
    if (templateCache.size < 1024) templateCache.set(template, compiled);
  }
  return compiled.format(timeSec);
}

function formatParts(parts: readonly Part[], t: number): string {
  const f = new UtcFields(t);
  let out = '';
  for (const p of parts) out += typeof p === 'string' ? p : f.conv(p.conv, t);
  return out;
}

const pad2 = (n: number): string => (n < 10 ? '0' : '') + String(n);
const pad3 = (n: number): string => (n < 10 ? '00' : n < 100 ? '0' : '') + String(n);

/** Broken-down UTC time, as gmtime() gives it. */
class UtcFields {
  readonly year: number;
  readonly mon: number; // 1-12
  readonly mday: number;
  readonly yday: number; // 0-365
  readonly wday: number; // 0 = Sunday
  readonly hour: number;
  readonly min: number;
  readonly sec: number;

  constructor(t: number) {
    const d = new Date(t * 1000);
    this.year = d.getUTCFullYear();
    this.mon = d.getUTCMonth() + 1;
    this.mday = d.getUTCDate();
    this.wday = d.getUTCDay();
    this.hour = d.getUTCHours();
    this.min = d.getUTCMinutes();
    this.sec = d.getUTCSeconds();
    this.yday = Math.floor((Date.UTC(this.year, this.mon - 1, this.mday) - Date.UTC(this.year, 0, 1)) / 86_400_000);
  }

  conv(letter: string, t: number): string {
    switch (letter) {
      case 'Y':
        return String(this.year);
      case 'C':
        return pad2(Math.floor(this.year / 100));
      case 'y':
        return pad2(((this.year % 100) + 100) % 100);
      case 'G':
        return String(this.isoWeek().year);
      case 'g':
        return pad2(((this.isoWeek().year % 100) + 100) % 100);
      case 'm':
        return pad2(this.mon);
      case 'd':
        return pad2(this.mday);
      case 'e':
        return (this.mday < 10 ? ' ' : '') + String(this.mday);
      case 'j':
        return pad3(this.yday + 1);
      case 'H':
        return pad2(this.hour);
      case 'I':
        return pad2(this.hour % 12 === 0 ? 12 : this.hour % 12);
      case 'M':
        return pad2(this.min);
      case 'S':
        return pad2(this.sec);
      case 'u':
        return String(this.wday === 0 ? 7 : this.wday);
      case 'w':
        return String(this.wday);
      case 'U':
        return pad2(Math.floor((this.yday + 7 - this.wday) / 7));
      case 'W':
        return pad2(Math.floor((this.yday + 7 - ((this.wday + 6) % 7)) / 7));
      case 'V':
        return pad2(this.isoWeek().week);
      case 's':
        return String(t);
      default:
        // compileStrftime rejects anything else; keep the letter visible if that ever changes.
        return '%' + letter;
    }
  }

  /** ISO 8601 week: the week (Monday first) containing this week's Thursday. */
  private isoWeek(): { year: number; week: number } {
    const mondayBased = (this.wday + 6) % 7; // 0 = Monday
    const thursday = new Date(Date.UTC(this.year, this.mon - 1, this.mday + 3 - mondayBased));
    const year = thursday.getUTCFullYear();
    const yday = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / 86_400_000);
    return { year, week: Math.floor(yday / 7) + 1 };
  }
}
