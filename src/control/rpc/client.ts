/**
 * A JSON-RPC client for sipcapture's own control plane: over the unix socket (one request line,
 * one reply line) or over HTTP (POST /RPC). Used by `sipcapture rpc` and the tests.
 */
import net from 'node:net';
import type { RpcResponse } from './jsonrpc.js';

export type RpcTarget = { socket: string } | { url: string };

export function describeTarget(t: RpcTarget): string {
  return 'socket' in t ? `unix socket ${t.socket}` : t.url;
}

let nextId = 1;

/** Sends one request and resolves to the reply (a fault is a reply, not a rejection). */
export async function callRpc(target: RpcTarget, method: string, params: readonly unknown[] = [], timeoutMs = 10_000): Promise<RpcResponse> {
  const request = JSON.stringify({ jsonrpc: '2.0', method, params, id: nextId++ });
  const text = 'socket' in target ? await viaSocket(target.socket, request, timeoutMs) : await viaHttp(target.url, request, timeoutMs);
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    throw new Error(`${describeTarget(target)} answered something that is not JSON: ${text.slice(0, 200)}`);
  }
  if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
    throw new Error(`${describeTarget(target)} answered something that is not a JSON-RPC reply: ${text.slice(0, 200)}`);
  }
  return reply as RpcResponse;
}

function viaSocket(file: string, request: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(file);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer on ${file} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${request}\n`));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        sock.end();
        resolve(buf.slice(0, nl));
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach the sipcapture RPC socket ${file}: ${err.message}`));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      if (!buf.includes('\n')) reject(new Error(`${file} closed the connection without an answer`));
    });
  });
}

async function viaHttp(url: string, request: string, timeoutMs: number): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: request,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new Error(`cannot reach ${url}: ${cause ?? (err as Error).message}`, { cause: err });
  }
  const text = await res.text();
  if (!(res.headers.get('content-type') ?? '').includes('json')) throw new Error(`${url} answered HTTP ${res.status}: ${text.trim().slice(0, 200)}`);
  return text;
}
