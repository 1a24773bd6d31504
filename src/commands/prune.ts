/**
 * `sipcapture db prune -c FILE [--dry-run]`: one retention pass over every database of the
 * config (store/retention/), printing one line per table dropped (or, with --dry-run, that
 * would be) and one summary line per database.
 */
import type { SipcaptureConfig } from '../config/types.js';
import { pruneAll, type PruneAllOptions } from '../store/retention/run.js';
import { retentionEnabled } from '../store/retention/prune.js';

export interface PruneCommandOptions extends Pick<PruneAllOptions, 'nowMs' | 'open'> {
  dryRun: boolean;
  print: (line: string) => void;
}

/** Resolves false when a database failed (the others are still pruned). */
export async function pruneCommand(cfg: SipcaptureConfig, opts: PruneCommandOptions): Promise<boolean> {
  if (!retentionEnabled(cfg)) {
    opts.print('retention is off (retention_days 0 for every kind, no size guard): nothing to prune');
    return true;
  }
  const verb = opts.dryRun ? 'would drop' : 'dropped';
  const results = await pruneAll(cfg, {
    dryRun: opts.dryRun,
    ...(opts.nowMs === undefined ? {} : { nowMs: opts.nowMs }),
    ...(opts.open === undefined ? {} : { open: opts.open }),
    onDrop: (db, d) =>
      opts.print(`${db}: ${verb} ${d.name} (${d.kind}, ${d.reason === 'age' ? 'older than its retention' : 'size guard, oldest first'}; rows from ${new Date(d.startMs).toISOString()} to ${new Date(d.endMs).toISOString()})`),
  });
  let ok = true;
  for (const r of results) {
    if (r.error !== undefined) {
      ok = false;
      opts.print(`${r.db}: FAILED: ${r.error}`);
    } else if (r.skipped !== undefined) {
      opts.print(`${r.db}: skipped: ${r.skipped}`);
    } else {
      opts.print(`${r.db}: ${r.drops.length} table(s) ${verb}${r.overLimit === undefined ? '' : `; still ${r.overLimit}`}`);
    }
  }
  return ok;
}
