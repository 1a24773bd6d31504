/** The lock that keeps a spool directory to one process. */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';


/** Directories opened by this process: a second open in-process is refused like another pid's. */
const openDirs = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function takeLock(dir: string): void {
  if (openDirs.has(dir)) throw new Error(`spool ${dir} is already open in this process`);
  const path = join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let pid = NaN;
      try {
        pid = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // unreadable lock: treat as stale
      }
      // Our own pid here means a previous instance of this process that never closed (crash
      // simulation in tests); any other live pid owns the directory.
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
        throw new Error(`spool ${dir} is locked by running process ${pid}`, { cause: err });
      }
      unlinkSync(path);
      continue;
    }
    writeSync(fd, String(process.pid));
    closeSync(fd);
    openDirs.add(dir);
    return;
  }
  throw new Error(`spool ${dir}: could not take the lock`);
}

/** Gives the directory up (the spool is closed, or failed to open). */
export function releaseLock(dir: string): void {
  try {
    unlinkSync(join(dir, 'lock'));
  } catch {
    // already gone
  }
  openDirs.delete(dir);
}
