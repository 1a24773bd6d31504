/**
 * Configuration reload (SIGHUP, RPC `sipcapture.reload`). The file is loaded and validated as at
 * start-up; an invalid file changes nothing. Then each changed parameter either takes effect for
 * the next packet or keeps its old value until a restart, as its `reload` class in the parameter
 * table (config/params.ts) says.
 */
import type { CaptureState } from '../pipeline/capture-state.js';
import type { SipcaptureConfig } from '../config/types.js';
import type { Logger } from '../telemetry/logger.js';
import { PARAMS, type ParamName, type ReloadClass } from '../config/params.js';

export interface ReloadReport {
  /** Parameters whose new value is in effect. */
  applied: string[];
  /** Parameters that changed in the file but keep their running value until a restart. */
  restartNeeded: string[];
}

const RELOAD_OF: ReadonlyMap<string, ReloadClass> = new Map(PARAMS.map((p) => [p.name, p.reload]));

export interface ReloadPlan {
  report: ReloadReport;
  /** The configuration to run with: new values for what applies, old ones for the rest. */
  next: SipcaptureConfig;
  routingChanged: boolean;
  rowOptionsChanged: boolean;
  hookChanged: boolean;
  logChanged: boolean;
  dedupChanged: boolean;
  captureOnChanged: boolean;
  hepCaptureOnChanged: boolean;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Decides what a reload from `running` to `loaded` does. Pure. `openDbUrls` are the databases
 * with a store (a capture mode on another URL needs a restart).
 */
export function planReload(running: SipcaptureConfig, loaded: SipcaptureConfig, openDbUrls: ReadonlySet<string>): ReloadPlan {
  const changed = PARAMS.map((p) => p.name).filter((k) => !same(running[k], loaded[k]));
  const applied: string[] = [];
  const restartNeeded: string[] = [];
  const next: Record<string, unknown> = { ...running };

  // The routing keys decide the table and database of a row: applied together, or not at all.
  const routingChanged = changed.some((k) => RELOAD_OF.get(k) === 'routing');
  // The store of an open URL writes one schema: another one for it needs a restart.
  const runningSchema = new Map([...running.captureModes.values()].map((m) => [m.db_url, m.schema ?? 'homer5']));
  const routingOk =
    routingChanged && [...loaded.captureModes.values()].every((m) => openDbUrls.has(m.db_url) && runningSchema.get(m.db_url) === (m.schema ?? 'homer5'));
  for (const k of changed) {
    const reload = RELOAD_OF.get(k);
    const live = reload === 'routing' ? routingOk : reload !== 'restart';
    if (live) {
      applied.push(k);
      next[k] = loaded[k];
    } else {
      restartNeeded.push(k);
    }
  }
  if (routingOk) {
    next['captureModes'] = loaded.captureModes;
    next['routeRules'] = loaded.routeRules;
  }
  const has = (reload: ReloadClass): boolean => applied.some((k) => RELOAD_OF.get(k) === reload);
  return {
    report: { applied, restartNeeded },
    next: next as unknown as SipcaptureConfig,
    routingChanged: routingOk,
    rowOptionsChanged: has('row'),
    hookChanged: has('hook'),
    logChanged: has('log'),
    dedupChanged: has('dedup'),
    captureOnChanged: applied.includes('capture_on'),
    hepCaptureOnChanged: applied.includes('hep_capture_on'),
  };
}

/** The parameter names a reload can apply without a restart (for docs and tests). */
export function liveReloadKeys(): ParamName[] {
  return PARAMS.filter((p) => p.reload !== 'restart').map((p) => p.name);
}

/** What a reload acts on: the daemon provides these (daemon.ts). */
export interface ReloadHost {
  /** The file to re-read; null for a daemon started from a config object. */
  configFile: string | null;
  load(file: string): SipcaptureConfig;
  running(): SipcaptureConfig;
  setRunning(cfg: SipcaptureConfig): void;
  openDbUrls(): ReadonlySet<string>;
  state: CaptureState;
  /**
   * Builds the router and row options for `cfg` (throws if the rules are invalid) and returns
   * the function that switches the pipeline to them.
   */
  prepareRouting(cfg: SipcaptureConfig, routingChanged: boolean): () => void;
  applyLogging(cfg: SipcaptureConfig): void;
  /** Replaces the dedup table (dedup, dedup_window_ms, dedup_max_entries changed). */
  applyDedup(cfg: SipcaptureConfig): void;
  /** Restarts (or starts, or stops) the hook with the new settings; re-imports the module. */
  applyHook(cfg: SipcaptureConfig): Promise<void>;
  logger: Logger;
}

/** Runs reloads one at a time and counts them (metrics). */
export class Reloader {
  readonly counts = { ok: 0, failed: 0 };
  private running: Promise<ReloadReport> | null = null;

  constructor(private readonly host: ReloadHost) {}

  /**
   * Reloads the config file. Rejects (changing nothing) when it cannot be read or is invalid.
   * `by`: who asked (SIGHUP, or the RPC caller), logged with the switches it flips.
   */
  reload(by = 'SIGHUP'): Promise<ReloadReport> {
    // Two SIGHUPs in a row: the second waits for the first, then reads the file again.
    const run = (this.running ?? Promise.resolve()).catch(() => undefined).then(() => this.once(by));
    this.running = run;
    return run;
  }

  private async once(by: string): Promise<ReloadReport> {
    const host = this.host;
    try {
      if (host.configFile === null) throw new Error('this daemon was not started from a config file');
      const loaded = host.load(host.configFile);
      const plan = planReload(host.running(), loaded, host.openDbUrls());
      // Everything that can fail comes first (rules, then the hook), so a failure changes nothing.
      const commitRouting = plan.routingChanged || plan.rowOptionsChanged ? host.prepareRouting(plan.next, plan.routingChanged) : null;
      // The hook re-imports its module on every reload, so edited hook code takes effect too.
      if (plan.next.nonsip_hook === 1 || plan.hookChanged) await host.applyHook(plan.next);
      commitRouting?.();
      if (plan.captureOnChanged) host.state.switchTo('capture_on', plan.next.capture_on !== 0, `reload (${by})`, host.logger);
      if (plan.hepCaptureOnChanged) host.state.switchTo('hep_capture_on', plan.next.hep_capture_on !== 0, `reload (${by})`, host.logger);
      if (plan.logChanged) host.applyLogging(plan.next);
      if (plan.dedupChanged) host.applyDedup(plan.next);
      host.setRunning(plan.next);
      this.counts.ok++;
      host.logger.info({ config: host.configFile, by, applied: plan.report.applied, restartNeeded: plan.report.restartNeeded }, 'configuration reloaded');
      if (plan.report.restartNeeded.length > 0) {
        host.logger.warn({ keys: plan.report.restartNeeded }, 'changed parameters keep their running value until a restart');
      }
      return plan.report;
    } catch (err) {
      this.counts.failed++;
      host.logger.error({ config: host.configFile, by, err: (err as Error).message }, 'configuration reload failed; nothing changed');
      throw err;
    }
  }
}
