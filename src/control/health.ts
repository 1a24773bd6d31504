/**
 * GET /health: 200 `ok` while every database takes rows; 503 otherwise, with the reasons:
 * `unhealthy` when one is failing, refuses the credentials, does not exist or cannot be reached
 * (found at start, before any row fails), `degraded` when one has committed nothing for 10 s
 * while rows wait (a hung database: control/db-health.ts). A forward destination that is down
 * makes the status "degraded" too, but still 200: its packets wait in its spool, nothing is lost
 * yet. A load balancer or a systemd watchdog script can act on it. Capture switched off is
 * reported, not unhealthy: it is an operator's choice.
 */
import type { HealthReport } from './rpc/http-server.js';
import type { ControlContext } from './rpc/methods.js';

export function healthReport(ctx: ControlContext): HealthReport {
  const stores = ctx.stores();
  const problems = ctx.databaseProblems?.() ?? [];
  const failing = stores.filter((s) => s.failing && !problems.some((p) => p.db === s.db && p.status === 'unhealthy'));
  const forward = ctx.forward?.() ?? [];
  const down = forward.filter((f) => !f.up).map((f) => `forward destination ${f.name} (${f.address}) is down${f.lastError === null ? '' : `: ${f.lastError}`}`);
  const reasons = [...failing.map((s) => `database ${s.db} is failing`), ...problems.map((p) => p.reason), ...down];
  const dbStatus = failing.length > 0 || problems.some((p) => p.status === 'unhealthy') ? 'unhealthy' : problems.length > 0 ? 'degraded' : 'ok';
  const status = dbStatus === 'ok' && down.length > 0 ? 'degraded' : dbStatus;
  // A destination down alone keeps 200: nothing is lost while its spool has room.
  const healthy = dbStatus === 'ok';
  return {
    healthy,
    body: {
      status,
      ...(reasons.length === 0 ? {} : { reasons }),
      capture_on: ctx.state.captureOn,
      hep_capture_on: ctx.state.hepCaptureOn,
      uptime_s: Math.floor((Date.now() - ctx.startedAtMs) / 1000),
      stores: stores.map((s) => ({ db: s.db, failing: s.failing, queue_rows: s.queueDepth, ...(s.spoolBytes === undefined ? {} : { spool_bytes: s.spoolBytes }) })),
      ...(forward.length === 0 ? {} : { forward: forward.map((f) => ({ name: f.name, up: f.up, spool_pending_bytes: f.spoolPendingBytes })) }),
    },
  };
}
