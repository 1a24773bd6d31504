/**
 * The files and folders the daemon writes (SQLite files, the spool, the RPC socket), checked
 * for the user running the check: `check-config` run as the service user (the unit's
 * ExecStartPre) refuses a config whose data paths that user cannot create or write, instead of
 * letting `run` die on EACCES and systemd restart it in a loop.
 */
import { accessSync, constants, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dbUrlKind, sqliteFilePath } from './db-url.js';
import type { ConfigProblem } from './errors.js';
import type { SipcaptureConfig } from './types.js';

/** The folders the daemon creates or writes in, each with the key that names it. */
function dataPaths(cfg: SipcaptureConfig): { key: string; dir: string; file?: string }[] {
  const out: { key: string; dir: string; file?: string }[] = [];
  for (const mode of cfg.captureModes.values()) {
    if (dbUrlKind(mode.db_url) !== 'sqlite') continue;
    const file = sqliteFilePath(mode.db_url);
    if (file === ':memory:' || file === '') continue;
    // SQLite writes its -wal and -shm files beside the database: the folder must be writable too.
    out.push({ key: mode.name === 'default' ? 'db_url' : `capture_mode ${mode.name}`, dir: path.dirname(file), file });
  }
  if (cfg.spool_max_bytes > 0) out.push({ key: 'spool_dir', dir: cfg.spool_dir });
  if (cfg.rpc_socket !== '') out.push({ key: 'rpc_socket', dir: path.dirname(cfg.rpc_socket) });
  return out;
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

function writable(p: string): boolean {
  try {
    accessSync(p, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Missing folders are created by the daemon: the nearest one that exists is the one that must be writable. */
function nearestExisting(dir: string): string {
  let d = dir;
  while (!exists(d)) {
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  return d;
}

function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** One problem per data path the current user could not create or write. */
export function unwritableDataPaths(cfg: SipcaptureConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const who = userName();
  for (const p of dataPaths(cfg)) {
    if (p.file !== undefined && exists(p.file)) {
      try {
        accessSync(p.file, constants.W_OK);
      } catch {
        problems.push({ key: p.key, message: `${p.file} is not writable by ${who}` });
        continue;
      }
    }
    const existing = nearestExisting(p.dir);
    if (!statSync(existing).isDirectory()) {
      problems.push({ key: p.key, message: `${p.dir} cannot be created: ${existing} is not a folder` });
    } else if (!writable(existing)) {
      const what = existing === p.dir ? `${p.dir} is not writable` : `${p.dir} does not exist and ${existing} is not writable`;
      problems.push({ key: p.key, message: `${what} by ${who} (run check-config as the user the daemon runs as; systemd creates /var/lib/sipcapture and /run/sipcapture for the unit)` });
    }
  }
  return problems;
}
