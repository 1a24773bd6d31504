/** The random id of a spool directory (file `id`): with segment and byte offset it names a record for good. */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const ID_RE = /^[0-9a-f]{32}$/;


/**
 * The directory's id, created on first open (before any record can be appended, so every record
 * is named under the id it keeps). Written to a temporary file and renamed: never half there.
 * If it cannot be written (disk full) the id lives in memory only; a crash before it is written
 * then loses the duplicate protection of that run's records, nothing else.
 */
export function spoolId(dir: string, sync: boolean): string {
  const path = join(dir, 'id');
  try {
    const old = readFileSync(path, 'utf8').trim();
    if (ID_RE.test(old)) return old;
  } catch {
    // missing: a new spool directory (or one written before ids)
  }
  const id = randomBytes(16).toString('hex');
  writeSpoolId(dir, id, sync);
  return id;
}

/** Writes `id` as the directory's id (also to put it back into a directory recreated while open). */
export function writeSpoolId(dir: string, id: string, sync: boolean): void {
  const path = join(dir, 'id');
  const tmp = `${path}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, id);
      if (sync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    if (sync) {
      const d = openSync(dir, 'r');
      try {
        fsyncSync(d);
      } finally {
        closeSync(d);
      }
    }
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean up
    }
  }
}
