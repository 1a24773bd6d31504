/**
 * Helpers for the control-plane tests: a real daemon on free ports with a SQLite file in a
 * temporary folder, started from a config file (so reload works), and readers for its rows.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/control/config/load.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon.js';
import { encodeHep, type HepEncodeOptions } from '../../src/hep/encode.js';
import { freePort } from '../helpers/net.js';

export const TS_SEC = 1795348800; // 2026-11-22 12:00:00 UTC
export const DAY = '20261122';

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

export async function startTestDaemon(overrides: Record<string, unknown> = {}): Promise<TestDaemon> {
  const dir = makeTmpDir('sipcapture-control-');
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
  const daemon = await startDaemon(loadConfig(configFile), memoryLogger(logs), { configFile, processMetrics: false });
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

/** A HEP3 packet with test addresses and the test timestamp. */
export function hep(payload: string | Buffer, extra: Partial<HepEncodeOptions> = {}): Buffer {
  return encodeHep({ srcIp: '192.0.2.1', dstIp: '192.0.2.2', srcPort: 5060, dstPort: 5080, tsSec: TS_SEC, tsUsec: 5, captureId: 7, payload, ...extra });
}

/** POSTs one JSON-RPC request to the daemon's /RPC; resolves to the HTTP status and parsed body. */
export async function rpcHttp(httpPort: number, method: string, params: unknown[] = [], id: number | string = 1): Promise<{ status: number; body: { result?: unknown; error?: { code: number; message: string }; id?: unknown } }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/RPC`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id }),
  });
  return { status: res.status, body: (await res.json()) as { result?: unknown; error?: { code: number; message: string } } };
}
