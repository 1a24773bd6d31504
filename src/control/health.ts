/**
 * GET /health: 200 while every database takes rows, 503 as soon as one is failing (a load
 * balancer or systemd watchdog script can act on it). Capture switched off is reported, not
 * unhealthy: it is an operator's choice. A forward destination that is down makes the status
 * "degraded", still 200: its packets wait in its spool, nothing is lost yet.
 */
import type { HealthReport } from './rpc/http-server.js';
import type { ControlContext } from './rpc/methods.js';

export function healthReport(ctx: ControlContext): HealthReport {
  const stores = ctx.stores();
  const reasons = stores.filter((s) => s.failing).map((s) => `database ${s.db} is failing`);
  const healthy = reasons.length === 0;
  const forward = ctx.forward?.() ?? [];
  const down = forward.filter((f) => !f.up).map((f) => `forward destination ${f.name} (${f.address}) is down${f.lastError === null ? '' : `: ${f.lastError}`}`);
  const all = [...reasons, ...down];
  return {
    healthy,
    body: {
      status: !healthy ? 'unhealthy' : down.length > 0 ? 'degraded' : 'ok',
      ...(all.length === 0 ? {} : { reasons: all }),
      capture_on: ctx.state.captureOn,
      hep_capture_on: ctx.state.hepCaptureOn,
      uptime_s: Math.floor((Date.now() - ctx.startedAtMs) / 1000),
      stores: stores.map((s) => ({ db: s.db, failing: s.failing, queue_rows: s.queueDepth, ...(s.spoolBytes === undefined ? {} : { spool_bytes: s.spoolBytes }) })),
      ...(forward.length === 0 ? {} : { forward: forward.map((f) => ({ name: f.name, up: f.up, spool_pending_bytes: f.spoolPendingBytes })) }),
    },
  };
}
