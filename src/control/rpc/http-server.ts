/**
 * The control HTTP server (http_listen): JSON-RPC 2.0 at POST /RPC (Kamailio's jsonrpcs path),
 * Prometheus metrics at GET /metrics, GET /health, and the call viewer (`/`, `/api/…`,
 * viewer/http-routes.ts). It runs on the receive loop, so every handler is short: the viewer's
 * queries run on their own connections and threads (viewer/sql-runner.ts), never on the writers'.
 */
import http from 'node:http';
import type { Logger } from '../../telemetry/logger.js';
import type { ViewerRoutes } from '../../viewer/http-routes.js';
import { httpStatusFor, MAX_REQUEST_BYTES, type RpcDispatcher } from './jsonrpc.js';

export interface HealthReport {
  healthy: boolean;
  body: Record<string, unknown>;
}

export interface ControlHttpOptions {
  host: string;
  port: number;
  /** null when http_rpc is 0: /RPC answers 404. */
  rpc: RpcDispatcher | null;
  metrics(): Promise<{ contentType: string; text: string }>;
  health(): HealthReport;
  /** null when http_viewer is 0: `/` answers 404. */
  viewer: ViewerRoutes | null;
  logger: Logger;
}

const JSON_TYPE = 'application/json';

export class ControlHttpServer {
  private server: http.Server | null = null;

  constructor(private readonly opts: ControlHttpOptions) {}

  /** `IP:PORT` as configured, for logs. */
  get name(): string {
    const { host, port } = this.opts;
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }

  /** The bound port. */
  get port(): number {
    const a = this.server?.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  start(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.opts.logger.error({ err }, 'control HTTP request failed');
        if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
        else res.destroy();
      });
    });
    // Slow or idle clients must not pile up on a control port.
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    server.keepAliveTimeout = 5_000;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`http_listen ${this.name}: ${err.message}`)));
      server.listen(this.opts.port, this.opts.host, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.opts.logger.error({ err }, 'control HTTP server error'));
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://control');
    } catch {
      return send(res, 400, 'text/plain', 'bad request target\n');
    }
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/metrics') {
      if (method !== 'GET' && method !== 'HEAD') return notAllowed(res, 'GET, HEAD');
      const m = await this.opts.metrics();
      return send(res, 200, m.contentType, method === 'HEAD' ? '' : m.text);
    }
    if (path === '/health') {
      if (method !== 'GET' && method !== 'HEAD') return notAllowed(res, 'GET, HEAD');
      const h = this.opts.health();
      return send(res, h.healthy ? 200 : 503, JSON_TYPE, method === 'HEAD' ? '' : `${JSON.stringify(h.body)}\n`);
    }
    if (path === '/RPC' || path.startsWith('/RPC/')) {
      const rpc = this.opts.rpc;
      if (rpc === null) return send(res, 404, 'text/plain', 'JSON-RPC over HTTP is off (http_rpc 0); use rpc_socket\n');
      if (method !== 'POST') return notAllowed(res, 'POST');
      const body = await readBody(req, MAX_REQUEST_BYTES);
      if (body === null) return send(res, 413, 'text/plain', `request larger than ${MAX_REQUEST_BYTES} bytes\n`);
      const reply = await rpc.handleText(body, `http ${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`);
      if (reply === null) return send(res, 204, 'text/plain', '');
      return send(res, httpStatusFor(reply), JSON_TYPE, `${JSON.stringify(reply)}\n`);
    }
    if (this.opts.viewer !== null && (await this.opts.viewer.handle(req, res, path, url.searchParams))) return;
    send(res, 404, 'text/plain', `not found: try ${this.opts.viewer === null ? '' : 'GET / (the viewer), '}POST /RPC, GET /metrics or GET /health\n`);
  }
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function notAllowed(res: http.ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  send(res, 405, 'text/plain', `method not allowed (allowed: ${allow})\n`);
}

/** The request body as text, or null when it exceeds `limit` bytes. */
function readBody(req: http.IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) tooBig = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(tooBig ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
