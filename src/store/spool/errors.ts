/** How the spool refuses a record: full (spool_max_bytes) or no space left on its disk. */

/** append() found the spool full (spool_max_bytes): the caller counts the rows `spool_full`. */
export class SpoolFullError extends Error {
  constructor(dir: string, maxBytes: number, why?: string) {
    super(why === undefined ? `spool ${dir} is full (${maxBytes} bytes)` : `spool ${dir}: ${why}`);
    this.name = 'SpoolFullError';
  }
}

/** The file system holding the spool is out of space or quota: as good as a full spool. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
