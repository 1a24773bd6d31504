/**
 * A real daemon for end-to-end tests: free ports, a SQLite file and spool in a temporary
 * folder, started from a config file (so reload works), plus readers for its rows.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { startDaemon, type DaemonOptions, type RunningDaemon } from '../../src/daemon.js';
import { freePort } from './net.js';

export interface TestDaemon {
  daemon: RunningDaemon;
  dir: string;
  dbFile: string;
  configFile: string;
  port: number;
  httpPort: number;
  socket: string;
  /** Log lines (JSON) written by the daemon. */
  logs: string[];
  /** Rewrites the config file with `overrides` merged into the base settings. */
  rewrite(overrides: Record<string, unknown>): void;
  close(): Promise<void>;
}

export function makeTmpDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A logger that keeps its JSON lines in `lines`. */
export function memoryLogger(lines: string[], level = 'info'): Logger {
  return pino({ level }, { write: (s: string) => void lines.push(s) });
}

export async function startTestDaemon(overrides: Record<string, unknown> = {}, options: Omit<DaemonOptions, 'configFile'> = {}): Promise<TestDaemon> {
  const dir = makeTmpDir('sipcapture-test-');
  const dbFile = path.join(dir, 'capture.sqlite');
  const configFile = path.join(dir, 'sipcapture.json5');
  const port = await freePort();
  const httpPort = await freePort();
  const socket = path.join(dir, 'rpc.sock');
  const base: Record<string, unknown> = {
    db_url: `sqlite://${dbFile}`,
    capture_on: 1,
    hep_capture_on: 1,
    listen: [`udp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port}`],
    http_listen: `127.0.0.1:${httpPort}`,
    rpc_socket: socket,
    spool_dir: path.join(dir, 'spool'),
    batch_timeout_ms: 20,
    log_rate_limit_s: 0,
  };
  const rewrite = (o: Record<string, unknown>): void => writeFileSync(configFile, JSON.stringify({ ...base, ...o }, null, 2));
  rewrite(overrides);
  const logs: string[] = [];
  const daemon = await startDaemon(loadConfig(configFile), memoryLogger(logs), { configFile, processMetrics: false, ...options });
  return {
    daemon,
    dir,
    dbFile,
    configFile,
    port,
    httpPort,
    socket,
    logs,
    rewrite,
    close: async () => {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Rows of `table` (all columns), [] when the file or table does not exist yet. */
export function tableRows(dbFile: string, table: string): Record<string, unknown>[] {
  let db: Database.Database;
  try {
    db = new Database(dbFile, { readonly: true, fileMustExist: true });
  } catch {
    return [];
  }
  try {
    return db.prepare(`SELECT * FROM "${table}" ORDER BY id`).all() as Record<string, unknown>[];
  } catch {
    return [];
  } finally {
    db.close();
  }
}

export function tableNames(dbFile: string): string[] {
  let db: Database.Database;
  try {
    db = new Database(dbFile, { readonly: true, fileMustExist: true });
  } catch {
    return [];
  }
  try {
    return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  } finally {
    db.close();
  }
}
