/**
 * The viewer on the control HTTP server: the page (`/`, `/call/<Call-ID>`), its three static
 * files, and a read-only JSON API under `/api/`. SIP content comes from strangers, so the page is
 * built with textContent only and served under a Content-Security-Policy that allows nothing but
 * this server's own script and style; with http_viewer_token set, every request needs the token.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import { pcapFile } from '../raw/pcap-writer.js';
import { packageRoot } from '../util/package-info.js';
import { buildLadder } from './ladder.js';
import { callText } from './ladder-text.js';
import { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, type CallReader, type SearchQuery, type TimeRange } from './types.js';

export interface ViewerOptions {
  /** Opens the reader on first use (no database connection until someone looks). */
  openReader: () => Promise<CallReader>;
  /** Required from every client when not empty. */
  token: string;
}

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

const ASSETS: Readonly<Record<string, string>> = {
  '/assets/app.js': 'text/javascript; charset=utf-8',
  '/assets/style.css': 'text/css; charset=utf-8',
};
const TOKEN_COOKIE = 'sipcapture_viewer';
/** Viewer queries running at once at most; more wait for none and get 429 (the capture comes first). */
const MAX_CONCURRENT_QUERIES = 4;
const HOUR_US = 3_600_000_000;
const DAY_US = 24 * HOUR_US;

export class ViewerRoutes {
  private reader: Promise<CallReader> | null = null;
  private running = 0;
  private readonly files = new Map<string, Buffer>();

  constructor(private readonly opts: ViewerOptions) {}

  /** True when `pathname` is the viewer's (answered here), false to let the caller go on. */
  async handle(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, search: URLSearchParams): Promise<boolean> {
    if (pathname === '/favicon.ico') {
      send(res, 204, 'image/x-icon', '');
      return true;
    }
    const page = pathname === '/' || pathname === '/index.html' || pathname.startsWith('/call/');
    const api = pathname.startsWith('/api/');
    if (!page && !api && !(pathname in ASSETS)) return false;
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'the viewer is read-only: GET only\n', { allow: 'GET, HEAD' });
      return true;
    }
    if (!this.authorized(req, res, pathname, search, page)) return true;
    if (page) send(res, 200, 'text/html; charset=utf-8', this.file('index.html'));
    else if (!api) send(res, 200, ASSETS[pathname]!, this.file(pathname.slice('/assets/'.length)));
    else await this.api(res, pathname, search);
    return true;
  }

  async close(): Promise<void> {
    const r = this.reader;
    this.reader = null;
    if (r !== null) await (await r.catch(() => null))?.close();
  }

  private authorized(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, search: URLSearchParams, page: boolean): boolean {
    const token = this.opts.token;
    if (token === '') return true;
    const offered = bearer(req.headers.authorization) ?? cookie(req.headers.cookie, TOKEN_COOKIE);
    if (offered !== null && sameSecret(offered, token)) return true;
    const inUrl = search.get('token');
    if (page && inUrl !== null && sameSecret(inUrl, token)) {
      // The token moves from the address bar (history, logs) to a cookie only this server gets.
      search.delete('token');
      const rest = search.toString();
      send(res, 303, 'text/plain; charset=utf-8', '', {
        location: `${pathname}${rest === '' ? '' : `?${rest}`}`,
        'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
      });
      return false;
    }
    send(res, 401, 'text/plain; charset=utf-8', 'the viewer needs its token (http_viewer_token): open /?token=… once, or send Authorization: Bearer …\n', {
      'www-authenticate': 'Bearer realm="sipcapture viewer"',
    });
    return false;
  }

  private file(name: string): Buffer {
    let data = this.files.get(name);
    if (data === undefined) {
      data = readFileSync(path.join(packageRoot(), 'assets', 'viewer', name));
      this.files.set(name, data);
    }
    return data;
  }

  private async api(res: http.ServerResponse, pathname: string, q: URLSearchParams): Promise<void> {
    if (this.running >= MAX_CONCURRENT_QUERIES) return sendJson(res, 429, { error: `more than ${MAX_CONCURRENT_QUERIES} viewer queries at once; try again` });
    this.running++;
    try {
      this.reader ??= this.opts.openReader();
      const reader = await this.reader.catch((err: unknown) => {
        this.reader = null;
        throw err;
      });
      if (pathname === '/api/search') return sendJson(res, 200, await reader.search(searchQuery(q)));
      if (pathname === '/api/latest') {
        const after = Number(q.get('after') ?? 0);
        return sendJson(res, 200, { messages: await reader.latest(Number.isFinite(after) ? after : 0, limitOf(q, 100)) });
      }
      const call = /^\/api\/call\/([^/]+)(\/pcap|\/text)?$/.exec(pathname);
      if (call !== null) {
        const callId = decodeURIComponent(call[1]!);
        const flow = await reader.callFlow(callId, callRange(q));
        const ladder = buildLadder(callId, flow.messages);
        const file = safeFileName(callId);
        if (call[2] === '/pcap') {
          const body = pcapFile(flow.messages.map((m) => ({ ...m, payload: Buffer.from(m.msg, 'utf8') })));
          return send(res, 200, 'application/vnd.tcpdump.pcap', body, { 'content-disposition': `attachment; filename="${file}.pcap"` });
        }
        if (call[2] === '/text') return send(res, 200, 'text/plain; charset=utf-8', callText(flow, ladder, true), { 'content-disposition': `attachment; filename="${file}.txt"` });
        return sendJson(res, 200, { flow, ladder });
      }
      sendJson(res, 404, { error: 'not found: /api/search, /api/latest, /api/call/<Call-ID>[/pcap|/text]' });
    } catch (err) {
      // RangeError: a bad parameter; URIError: a malformed %-escape in the Call-ID.
      if (err instanceof RangeError || err instanceof URIError) sendJson(res, 400, { error: err.message });
      else sendJson(res, 503, { error: `the database did not answer: ${(err as Error).message}` });
    } finally {
      this.running--;
    }
  }
}

/** Milliseconds since the epoch, or a date text Date.parse reads; undefined when absent. */
function timeParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new RangeError(`${name}: ${JSON.stringify(v)} is not a time (milliseconds since 1970, or ISO 8601)`);
  return ms * 1000;
}

function limitOf(q: URLSearchParams, fallback: number): number {
  const v = q.get('limit');
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_SEARCH_LIMIT) throw new RangeError(`limit: ${JSON.stringify(v)} is not an integer from 1 to ${MAX_SEARCH_LIMIT}`);
  return n;
}

/** The search of the query string; the time range is the last hour unless given. */
export function searchQuery(q: URLSearchParams, nowUs = Date.now() * 1000): SearchQuery {
  const toUs = timeParam(q, 'to') ?? nowUs;
  const fromUs = timeParam(q, 'from') ?? toUs - HOUR_US;
  const out: SearchQuery = { fromUs, toUs, limit: limitOf(q, DEFAULT_SEARCH_LIMIT) };
  const fields = { callId: 'callid', fromUser: 'from_user', toUser: 'to_user', ruriUser: 'ruri_user', method: 'method', sourceIp: 'source_ip', destinationIp: 'destination_ip', node: 'node', userAgent: 'user_agent' } as const;
  for (const [key, name] of Object.entries(fields) as [keyof typeof fields, string][]) {
    const v = q.get(name)?.trim();
    if (v !== undefined && v !== '') out[key] = v;
  }
  return out;
}

/** Around `at` (µs, a message of the call) when given, else the last 7 days. */
function callRange(q: URLSearchParams): TimeRange {
  const at = q.get('at');
  if (at !== null && /^\d+$/.test(at)) return { fromUs: Number(at) - DAY_US, toUs: Number(at) + DAY_US };
  const nowUs = Date.now() * 1000;
  return { fromUs: timeParam(q, 'from') ?? nowUs - 7 * DAY_US, toUs: timeParam(q, 'to') ?? nowUs + 60_000_000 };
}

function safeFileName(callId: string): string {
  return `call-${callId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80)}`;
}

function bearer(h: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)$/i.exec(h ?? '');
  return m === null ? null : m[1]!;
}

function cookie(h: string | undefined, name: string): string | null {
  for (const part of (h ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);
}
