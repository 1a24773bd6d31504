/**
 * The lock that keeps a spool directory to one process: an exclusive flock(2) on the file
 * `lock`, held through an open descriptor for as long as the spool is open. The kernel releases
 * it when the holder exits, however it dies, so a lock left by a crash or a reboot never blocks
 * a start — unlike a pid file, whose pid may belong to another process by then. The file also
 * holds the holder's pid, for people only.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** The part of fs-ext (flock(2) for Node) used here. */
interface FsExt {
  flockSync(this: void, fd: number, flags: 'exnb' | 'un'): void;
}
const { flockSync } = createRequire(import.meta.url)('fs-ext') as FsExt;

/** Directories locked by this process and the descriptor holding each lock. */
const held = new Map<string, number>();

/** Takes the directory's lock or throws: another process (or this one) holds it. */
export function takeLock(dir: string): void {
  if (held.has(dir)) throw new Error(`spool ${dir} is already open in this process`);
  const path = join(dir, 'lock');
  // The file is removed only with an empty spool's directory, by the holder: if it was replaced
  // between our open and our flock, the lock taken is on a file nobody else will open; try again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const fd = openSync(path, 'a+');
    try {
      flockSync(fd, 'exnb');
    } catch (err) {
      closeSync(fd);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
        throw new Error(`spool ${dir} is in use by another running process (it holds ${path})`, { cause: err });
      }
      throw err;
    }
    if (sameFile(fd, path)) {
      ftruncateSync(fd, 0);
      writeSync(fd, `${process.pid}\n`, 0);
      held.set(dir, fd);
      return;
    }
    closeSync(fd);
  }
  throw new Error(`spool ${dir}: could not take the lock (${path} keeps being replaced)`);
}

/**
 * Gives the directory up (the spool is closed, or failed to open). With `removeFile` (the
 * directory is about to be removed) the lock file goes first, while still held.
 */
export function releaseLock(dir: string, removeFile = false): void {
  const fd = held.get(dir);
  if (fd === undefined) return;
  held.delete(dir);
  if (removeFile) {
    try {
      unlinkSync(join(dir, 'lock'));
    } catch {
      // already gone
    }
  }
  closeSync(fd);
}

/** True when the lock file was deleted (its directory removed) while held. */
export function lockLost(dir: string): boolean {
  const fd = held.get(dir);
  return fd !== undefined && !sameFile(fd, join(dir, 'lock'));
}

function sameFile(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}
