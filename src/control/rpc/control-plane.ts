/**
 * The control plane of one daemon: the RPC dispatcher, Prometheus metrics and /health, served
 * on http_listen and rpc_socket. Started after the stores and listeners, stopped last, so a
 * scrape or `sipcapture.status check` still answers while the queues drain.
 */
import type { SipcaptureConfig } from '../../config/types.js';
import { parseListen } from '../../config/listen.js';
import { healthReport } from '../health.js';
import type { Logger } from '../../telemetry/logger.js';
import { Metrics } from '../metrics.js';
import { ControlHttpServer } from './http-server.js';
import { RpcDispatcher } from './jsonrpc.js';
import { createRpcMethods, type ControlContext } from './methods.js';
import { ControlSocketServer } from './socket-server.js';
import { ViewerRoutes } from '../../viewer/http-routes.js';
import { openCallReader } from '../../viewer/open-reader.js';

export interface ControlPlaneOptions {
  cfg: Pick<SipcaptureConfig, 'http_listen' | 'http_rpc' | 'rpc_socket' | 'http_viewer' | 'http_viewer_token' | 'routeRules' | 'captureModes' | 'date_time_zone' | 'table_date_window_days' | 'homer7_data_header'>;
  ctx: ControlContext;
  logger: Logger;
  reloads?: () => { ok: number; failed: number };
  /** Export process/Node.js metrics too (default true). */
  processMetrics?: boolean;
}

export class ControlPlane {
  readonly rpc: RpcDispatcher;
  readonly metrics: Metrics;
  private http: ControlHttpServer | null = null;
  private socket: ControlSocketServer | null = null;
  private viewer: ViewerRoutes | null = null;

  private constructor(private readonly opts: ControlPlaneOptions) {
    const { ctx, logger } = opts;
    let dispatcher: RpcDispatcher | null = null;
    const methods = createRpcMethods(
      ctx,
      () => dispatcher?.names() ?? [],
      (name) => dispatcher?.method(name)?.doc,
      logger,
    );
    dispatcher = new RpcDispatcher(methods, (method, err) => logger.error({ err, method }, 'RPC method failed'));
    this.rpc = dispatcher;
    this.metrics = new Metrics(ctx, {
      ...(opts.reloads === undefined ? {} : { reloads: opts.reloads }),
      ...(opts.processMetrics === undefined ? {} : { processMetrics: opts.processMetrics }),
    });
  }

  static async start(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const plane = new ControlPlane(opts);
    try {
      await plane.listen();
    } catch (err) {
      await plane.close();
      throw err;
    }
    return plane;
  }

  /** Port of the HTTP server (0 when http_listen is ""). */
  get httpPort(): number {
    return this.http?.port ?? 0;
  }

  private async listen(): Promise<void> {
    const { cfg, ctx, logger } = this.opts;
    if (cfg.http_listen !== '') {
      const a = parseListen(`tcp:${cfg.http_listen}`);
      if (typeof a === 'string') throw new Error(`http_listen ${cfg.http_listen}: ${a}`);
      this.viewer = cfg.http_viewer === 1 ? new ViewerRoutes({ openReader: () => openCallReader(cfg), token: cfg.http_viewer_token }) : null;
      const http = new ControlHttpServer({
        host: a.host,
        port: a.port,
        rpc: cfg.http_rpc === 1 ? this.rpc : null,
        metrics: async () => ({ contentType: this.metrics.contentType, text: await this.metrics.text() }),
        health: () => healthReport(ctx),
        viewer: this.viewer,
        logger,
      });
      this.http = http;
      await http.start();
      logger.info(
        { http: http.name, rpc: cfg.http_rpc === 1, viewer: this.viewer === null ? false : `http://${http.name}/`, viewerToken: cfg.http_viewer_token !== '' },
        `control HTTP listening (${this.viewer === null ? '' : 'viewer at /, '}/RPC, /metrics, /health)`,
      );
    }
    if (cfg.rpc_socket !== '') {
      const socket = new ControlSocketServer(cfg.rpc_socket, this.rpc, logger);
      this.socket = socket;
      await socket.start();
      logger.info({ socket: cfg.rpc_socket }, 'JSON-RPC socket listening');
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.http?.stop(), this.socket?.stop()]);
    await this.viewer?.close();
    this.viewer = null;
    this.http = null;
    this.socket = null;
  }
}
