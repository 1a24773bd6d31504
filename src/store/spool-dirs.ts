/**
 * Where each database's spool lives in `spool_dir`, and the spools an earlier configuration
 * left there.
 *
 * A spool directory is named from the database's destination (config/db-url.ts
 * `destinationOf`: backend, user, host, port, database, no password), hashed so nothing of it
 * shows in a path: a password rotation or `postgres://` → `postgresql://` keeps the directory.
 * Earlier versions named it from the whole URL, password included; such a directory of a URL
 * still configured is renamed to the new name at start (or, if both exist, replayed beside it).
 * Any other directory with records waiting is a spool of an earlier URL: with one database it is
 * replayed into it; with several, nothing says which it belongs to, and it is reported.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { destinationOf } from '../config/db-url.js';

const hash16 = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** The spool directory of one database URL. */
export function spoolDirFor(spoolDir: string, dbUrl: string): string {
  return join(spoolDir, hash16(destinationOf(dbUrl)));
}

/** The directory earlier versions used: a hash of the whole URL. */
export function legacySpoolDirFor(spoolDir: string, dbUrl: string): string {
  return join(spoolDir, hash16(dbUrl));
}

/**
 * Before the spool of `dbUrl` is opened: an earlier version's directory of the same URL becomes
 * the new one when there is none yet. Returns the old directory when both exist (it is then
 * replayed beside the new one), else undefined.
 */
export function adoptLegacyDir(spoolDir: string, dbUrl: string): string | undefined {
  const legacy = legacySpoolDirFor(spoolDir, dbUrl);
  const current = spoolDirFor(spoolDir, dbUrl);
  if (legacy === current || !existsSync(legacy)) return undefined;
  if (!existsSync(current)) {
    renameSync(legacy, current);
    return undefined;
  }
  return legacy;
}

/** A database spool's directory name (a hash); others (a forward destination's `forward-…`) are not a database's. */
const DB_SPOOL_NAME = /^[0-9a-f]{16}$/;

/** Directories of `spoolDir` named like a database spool that hold segment files and are not in `inUse`. */
export function otherSpoolDirs(spoolDir: string, inUse: ReadonlySet<string>): string[] {
  let names: string[];
  try {
    names = readdirSync(spoolDir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names.sort()) {
    const dir = join(spoolDir, name);
    if (!DB_SPOOL_NAME.test(name) || inUse.has(dir)) continue;
    try {
      if (readdirSync(dir).some((f) => f.endsWith('.spool'))) out.push(dir);
    } catch {
      // not a directory, or unreadable: not a spool
    }
  }
  return out;
}
