/**
 * Helpers for the control-plane tests: a real daemon on free ports with a SQLite file in a
 * temporary folder, started from a config file (so reload works), and readers for its rows.
 */
import { encodeHep, type HepEncodeOptions } from '../../src/hep/encode.js';

export { makeTmpDir, startTestDaemon, tableNames, tableRows, type TestDaemon } from '../helpers/daemon.js';

export const TS_SEC = 1795348800; // 2026-11-22 12:00:00 UTC
export const DAY = '20261122';

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
