/**
 * One retention pass over one database (docs/retention.md): under the database's retention lock,
 * drop the prunable tables (policy.ts) that are older than their kind's retention, then, while
 * the database is over retention_max_db_mb (or, for SQLite, its disk has less than
 * retention_min_free_disk_mb free), the oldest remaining ones. A table whose range reaches the
 * present is never dropped, whatever the size. A dry run lists the same drops (the size guard
 * by each table's own size) and drops nothing.
 */
import type { SipcaptureConfig } from '../../config/types.js';
import type { RetentionDb } from './databases.js';
import { homer5Templates, homer7Partition, retentionDays, type DatedTemplate, type PrunableTable, type RetentionKind } from './policy.js';

export interface PrunePolicy {
  /** Days kept per kind; 0 = forever. */
  days: Readonly<Record<RetentionKind, number>>;
  /** Database size limit, bytes; 0 = none. */
  maxDbBytes: number;
  /** SQLite: free disk to keep, bytes; 0 = off. */
  minFreeBytes: number;
  /** Homer 5 templates of this database (empty for a homer7 one). */
  templates: readonly DatedTemplate[];
  /** This database holds HOMER 7 partitions. */
  homer7: boolean;
}

export interface PruneDrop extends PrunableTable {
  reason: 'age' | 'size';
}

export interface PruneResult {
  db: string;
  /** Dropped (or, in a dry run, to drop), in order. */
  drops: PruneDrop[];
  /** Set when the pass did not run: another daemon holds the lock. */
  skipped?: string;
  /** Set when the size guard is still over its limit with nothing old enough left to drop. */
  overLimit?: string;
}

const DAY_MS = 86_400_000;
const MIB = 1024 * 1024;

/** Is retention on at all (age or size) for this configuration? */
export function retentionEnabled(cfg: SipcaptureConfig): boolean {
  return Object.values(retentionDays(cfg)).some((d) => d > 0) || cfg.retention_max_db_mb > 0 || cfg.retention_min_free_disk_mb > 0;
}

/** The policy of every database URL of a configuration. */
export function prunePolicies(cfg: SipcaptureConfig): Map<string, PrunePolicy> {
  const templates = homer5Templates(cfg);
  const days = retentionDays(cfg);
  const out = new Map<string, PrunePolicy>();
  for (const mode of cfg.captureModes.values()) {
    if (out.has(mode.db_url)) continue;
    out.set(mode.db_url, {
      days,
      maxDbBytes: cfg.retention_max_db_mb * MIB,
      minFreeBytes: cfg.retention_min_free_disk_mb * MIB,
      templates: templates.get(mode.db_url) ?? [],
      homer7: mode.schema === 'homer7',
    });
  }
  return out;
}

function classify(tables: readonly { name: string; parent?: string; bound?: string }[], policy: PrunePolicy): PrunableTable[] {
  const out: PrunableTable[] = [];
  for (const t of tables) {
    let p: PrunableTable | null = null;
    if (policy.homer7 && t.parent !== undefined && t.bound !== undefined) p = homer7Partition(t.name, t.parent, t.bound);
    else if (!policy.homer7) for (const tpl of policy.templates) if ((p = tpl.match(t.name)) !== null) break;
    if (p !== null) out.push(p);
  }
  return out.sort((a, b) => a.endMs - b.endMs || a.name.localeCompare(b.name));
}

export interface PruneOptions {
  nowMs: number;
  dryRun?: boolean;
  /** Told about each drop as it happens (or would happen). */
  onDrop?: (drop: PruneDrop) => void;
}

export async function pruneDatabase(db: RetentionDb, policy: PrunePolicy, opts: PruneOptions): Promise<PruneResult> {
  const result: PruneResult = { db: db.displayUrl, drops: [] };
  const dryRun = opts.dryRun === true;
  if (!dryRun && !(await db.tryLock())) {
    result.skipped = 'another sipcapture holds the retention lock of this database';
    return result;
  }
  const prunable = classify(await db.listTables(), policy);
  const drop = async (t: PrunableTable, reason: PruneDrop['reason']): Promise<void> => {
    if (!dryRun) await db.drop(t.name);
    const d = { ...t, reason };
    result.drops.push(d);
    opts.onDrop?.(d);
  };

  const left: PrunableTable[] = [];
  for (const t of prunable) {
    const days = policy.days[t.kind];
    if (days > 0 && t.endMs <= opts.nowMs - days * DAY_MS) await drop(t, 'age');
    else left.push(t);
  }

  // The size guard: oldest first, never a table whose range reaches now.
  const candidates = left.filter((t) => t.endMs <= opts.nowMs);
  const droppedBytes = async (): Promise<number> => {
    let n = 0;
    for (const d of result.drops) n += await db.tableBytes(d.name);
    return n;
  };
  if (policy.maxDbBytes > 0) {
    // A dry run drops nothing, so it counts each listed table's own size off the total.
    let used = (await db.usedBytes()) - (dryRun ? await droppedBytes() : 0);
    while (used > policy.maxDbBytes) {
      const next = candidates.shift();
      if (next === undefined) {
        result.overLimit = `database larger than ${policy.maxDbBytes / MIB} MiB and no table old enough left to drop`;
        break;
      }
      const bytes = dryRun ? await db.tableBytes(next.name) : 0;
      await drop(next, 'size');
      used = dryRun ? used - bytes : await db.usedBytes();
    }
  }
  if (policy.minFreeBytes > 0) {
    let free = await db.freeBytes();
    if (free !== null && dryRun) free += await droppedBytes();
    while (free !== null && free < policy.minFreeBytes) {
      const next = candidates.shift();
      if (next === undefined) {
        result.overLimit = `less than ${policy.minFreeBytes / MIB} MiB free on the database's disk and no table old enough left to drop`;
        break;
      }
      const bytes = dryRun ? await db.tableBytes(next.name) : 0;
      await drop(next, 'size');
      free = dryRun ? free + bytes : await db.freeBytes();
    }
  }
  return result;
}
