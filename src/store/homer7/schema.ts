/**
 * The HOMER 7 tables as heplify-server's rotator creates them: parents `PARTITION BY RANGE
 * (create_date)` with the same six columns, partitions `<parent>_YYYYMMDD_HHMM` of a fixed step,
 * and on each partition the indexes homer-app's searches use (none on the parents). Partition
 * bounds are UTC (heplify-server uses the process's local midnight).
 */
import { isSipParent, type Homer7Parent } from './row.js';

export const HOMER7_COLUMNS = ['sid', 'create_date', 'protocol_header', 'data_header', 'raw'] as const;

export function parentDdl(parent: Homer7Parent): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${parent} (id BIGSERIAL NOT NULL, sid varchar NOT NULL, ` +
    `create_date timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL, protocol_header jsonb NOT NULL, ` +
    `data_header jsonb NOT NULL, raw varchar NOT NULL) PARTITION BY RANGE (create_date)`
  );
}

/** Index name suffix → indexed expression, per partition (heplify-server's list). */
const COMMON_INDEXES: readonly (readonly [string, string])[] = [
  ['create_date', 'create_date'],
  ['sid', 'sid'],
  ['srcip', "(protocol_header->>'srcIp')"],
  ['dstip', "(protocol_header->>'dstIp')"],
  ['correlation_id', "(protocol_header->>'correlation_id')"],
];
const SIP_INDEXES: readonly (readonly [string, string])[] = [
  ...COMMON_INDEXES,
  ...['ruri_domain', 'ruri_user', 'from_user', 'to_user', 'pid_user', 'auth_user', 'callid', 'method'].map((k) => [k, `(data_header->>'${k}')`] as const),
];

export function indexDdl(parent: Homer7Parent, partition: string): string[] {
  return (isSipParent(parent) ? SIP_INDEXES : COMMON_INDEXES).map(([suffix, expr]) => `CREATE INDEX IF NOT EXISTS ${partition}_${suffix} ON ${partition} (${expr})`);
}

const US_PER_MIN = 60_000_000;

/** Start (µs since 1970) of the partition holding `us`; `stepMin` divides a day, so steps start at UTC midnight. */
export function partitionStartUs(us: number, stepMin: number): number {
  const step = stepMin * US_PER_MIN;
  return Math.floor(us / step) * step;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export function partitionName(parent: Homer7Parent, startUs: number): string {
  const d = new Date(startUs / 1000);
  return `${parent}_${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}_${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}`;
}

/** The catch-all partition for rows no ranged partition can take. */
export function defaultPartitionName(parent: Homer7Parent): string {
  return `${parent}_default`;
}

function isoUtc(us: number): string {
  return new Date(us / 1000).toISOString().replace('T', ' ').replace('Z', '+00');
}

export function partitionDdl(parent: Homer7Parent, startUs: number, stepMin: number): string {
  return `CREATE TABLE IF NOT EXISTS ${partitionName(parent, startUs)} PARTITION OF ${parent} FOR VALUES FROM ('${isoUtc(startUs)}') TO ('${isoUtc(startUs + stepMin * US_PER_MIN)}')`;
}

export function defaultPartitionDdl(parent: Homer7Parent): string {
  return `CREATE TABLE IF NOT EXISTS ${defaultPartitionName(parent)} PARTITION OF ${parent} DEFAULT`;
}

const PARTITION_RE = /^(hep_proto_(?:1_call|1_registration|1_default|5_default|35_default|100_default))_(\d{4})(\d\d)(\d\d)_(\d\d)(\d\d)$/;

/**
 * The parent and start of a partition name sipcapture (or heplify-server) creates, or null for
 * anything else: a look-alike name, an impossible date or time.
 */
export function parsePartitionName(name: string): { parent: Homer7Parent; startUs: number } | null {
  const m = PARTITION_RE.exec(name);
  if (m === null) return null;
  const [y, mo, d, h, mi] = [+m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!];
  const ms = Date.UTC(y, mo - 1, d, h, mi);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h || back.getUTCMinutes() !== mi) return null;
  return { parent: m[1] as Homer7Parent, startUs: ms * 1000 };
}

