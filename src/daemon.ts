/**
 * Starts and stops one running sipcapture. Each component builds itself from the configuration
 * (`…From(cfg)`); this file only orders them: stores and writers per database URL, the
 * pipeline, the nonsip_hook, the control plane (RPC, metrics, health), then the listeners.
 * `startDaemon` resolves once every listener receives; `stop()` stops the listeners first, lets
 * the hook answer, drains every writer into its database, closes the stores, then the control
 * plane. What a reload swaps (router, dedup table, hook) is held in one small object.
 */
import { rowOptionsFrom } from './capture/sip-row.js';
import { loadConfig } from './config/load.js';
import type { SipcaptureConfig } from './config/types.js';
import { applyHeapGrowingPercent } from './control/heap-growth.js';
import { memoryGuardFrom } from './control/memory-guard.js';
import { Reloader, type ReloadHost, type ReloadReport } from './control/reload.js';
import { DatabaseHealth } from './control/db-health.js';
import { ControlPlane } from './control/rpc/control-plane.js';
import { storeViewsOf } from './control/rpc/methods.js';
import { HookRunner, hookSettingsFrom } from './hook/runner.js';
import { hepListenersFrom, listeningLogFields, tcpConnections, tcpPausedConnections } from './listeners/from-config.js';
import type { Listener } from './listeners/types.js';
import type { AuthKeys } from './listeners/access.js';
import { udpKernelDrops, watchUdpKernelDrops } from './listeners/udp-kernel-drop-watch.js';
import { CaptureState } from './pipeline/capture-state.js';
import { dedupFrom, type DedupTable } from './pipeline/dedup.js';
import { HepIngest } from './pipeline/hep-ingest.js';
import { IngestGate } from './pipeline/ingest-gate.js';
import { Pipeline } from './pipeline/pipeline.js';
import { hepKind } from './pipeline/hep-ingest.js';
import { PipelinePool, pipelineThreadsOf } from './pipeline/threads/pool.js';
import { RawCaptureSupervisor, rawCaptureMode } from './raw/supervisor.js';
import { routerFrom, type Router } from './route/router.js';
import { StoreSet } from './store/store-set.js';
import { SummaryLog } from './telemetry/summary-log.js';
import { ForwardSet } from './forward/forward-set.js';
import { HeplifyCounters } from './telemetry/heplify-counters.js';
import type { StoreWriter } from './store/writer/writer.js';
import { DropReason } from './telemetry/drop-reasons.js';
import type { Logger } from './telemetry/logger.js';
import { Stats } from './telemetry/stats.js';
import { packageVersion } from './util/package-info.js';
import { RetentionScheduler } from './store/retention/run.js';

export interface RunningDaemon {
  readonly config: SipcaptureConfig;
  readonly stats: Stats;
  readonly state: CaptureState;
  readonly listeners: readonly Listener[];
  readonly writers: ReadonlyMap<string, StoreWriter>;
  /** Per database: queue depth, spool size, value counters (`storage.storageStats()`). */
  readonly storage: StoreSet;
  /** The main thread's router (raw capture, and HEP without pipeline threads); replaced by a reload. */
  readonly router: Router;
  /** Routing counters of every router, the pipeline threads' and those a reload replaced included. */
  routing(): { tableDateClamped: number; emptyHashSource: number };
  /** RPC dispatcher, metrics, and the HTTP / unix-socket servers (`httpPort`). */
  readonly control: ControlPlane;
  /** The nonsip_hook, or null when it is off. */
  readonly hook: HookRunner | null;
  /** Retention (retention_days, size guard): its schedule and counters. */
  readonly retention: RetentionScheduler;
  /** The dedup table, or null when `dedup` is off; replaced by a reload that changes it. */
  readonly dedup: DedupTable | null;
  /** The `forward` destinations, or null without any. */
  readonly forward: ForwardSet | null;
  /** Re-reads the config file (SIGHUP, RPC sipcapture.reload); rejects when it is invalid. `by`: who asked. */
  reload(by?: string): Promise<ReloadReport>;
  /** Stops receiving, drains queues to the databases, closes connections. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** The file `cfg` was loaded from; without it reload() fails. */
  configFile?: string;
  /** Export process/Node.js metrics (default true; tests with many daemons turn it off). */
  processMetrics?: boolean;
  /** Where the memory guard reads the RSS, bytes (tests). Default process.memoryUsage.rss. */
  rss?: () => number;
  /** The clock retention prunes by, ms since 1970 (tests). Default Date.now. */
  nowMs?: () => number;
}

/** The parts a reload swaps; everything else lives as long as the daemon. */
interface Swappable {
  config: SipcaptureConfig;
  router: Router;
  dedup: DedupTable | null;
  /** Evictions of the dedup tables a reload replaced (the metric is a counter: it must not go back). */
  dedupEvictedBefore: number;
  /** What the routers a reload replaced counted (counters must not go back). */
  routingBefore: { tableDateClamped: number; emptyHashSource: number };
  hook: HookRunner | null;
}

export async function startDaemon(cfg: SipcaptureConfig, logger: Logger, options: DaemonOptions = {}): Promise<RunningDaemon> {
  const startedAtMs = Date.now();
  const stats = new Stats(logger, cfg.log_rate_limit_s * 1000);
  const state = new CaptureState(cfg);

  const storeSet = await StoreSet.open(cfg, stats, logger);
  // A refused password or an unreachable database is an ERROR now, and /health says so.
  const databaseHealth = new DatabaseHealth({ storage: storeSet, stats, logger });
  databaseHealth.start();
  const retention = new RetentionScheduler(cfg, logger, options.nowMs);
  const guard = memoryGuardFrom(cfg, { logger, queuedBytes: () => storeSet.queuedBytes(), ...(options.rss === undefined ? {} : { rss: options.rss }) });
  const live: Swappable = { config: cfg, router: routerFrom(cfg), dedup: dedupFrom(cfg), dedupEvictedBefore: 0, routingBefore: { tableDateClamped: 0, emptyHashSource: 0 }, hook: null };
  const heplify = cfg.heplify_metrics === 1 ? new HeplifyCounters() : null;
  const forward =
    cfg.forward.length > 0
      ? await ForwardSet.open(cfg, live.router.forwardedByRules, logger).catch(async (err: unknown) => {
          await storeSet.close();
          throw err;
        })
      : null;
  const pipeline = new Pipeline({
    stats,
    state,
    router: live.router,
    rowOptions: rowOptionsFrom(cfg),
    writerFor: (dbUrl) => storeSet.writerFor(dbUrl),
    defaultDbUrl: cfg.captureModes.get('default')?.db_url ?? null,
    dedup: live.dedup,
    guard,
    forward,
    heplify,
  });
  // Packets become rows in pipeline threads (pipeline_threads) when there are any; the main
  // thread keeps the writers, the dedup table and the counters.
  const threads = pipelineThreadsOf(cfg);
  const pool =
    threads > 0
      ? new PipelinePool({ threads, cfg, state, stats, logger, writerFor: (dbUrl) => storeSet.writerFor(dbUrl), dedup: () => live.dedup, heplify, guard })
      : null;
  try {
    await pool?.start();
  } catch (err) {
    await forward?.close();
    await storeSet.close();
    throw err;
  }
  // TCP/TLS listeners stop reading while the writers' queues (or the threads) are three quarters full.
  const ingestGate = new IngestGate({ writers: () => storeSet.writers.values(), maxRows: cfg.queue_max_rows, maxBytes: cfg.queue_max_bytes, threads: pool });
  const ingest = new HepIngest(pipeline, stats, state);
  ingest.guard = guard;
  const startHook = (c: SipcaptureConfig): Promise<HookRunner> =>
    HookRunner.start({
      settings: hookSettingsFrom(c, rowOptionsFrom(c)),
      state,
      stats,
      logger,
      onDefault: (data, listener, receivedAtUs) => (pool === null ? ingest.decodeAndAccept(data, listener, receivedAtUs) : pool.submit(data, listener, true)),
      enqueue: (dbUrl, table, kind, row) => {
        try {
          storeSet.writerFor(dbUrl).enqueue(table, kind, row);
        } catch (err) {
          stats.drop(DropReason.DB_ERROR, `hook row for ${table}: ${(err as Error).message}`);
        }
      },
    });
  const summaryLog = new SummaryLog(stats, logger);
  const setHook = (hook: HookRunner | null): void => {
    live.hook = hook;
    ingest.hook = hook;
  };
  const reloader = new Reloader(reloadHost(live, { configFile: options.configFile ?? null, state, stats, logger, storeSet, pipeline, pool, forward, startHook, setHook, summaryLog }));

  const routing = (): { tableDateClamped: number; emptyHashSource: number } => ({
    tableDateClamped: live.routingBefore.tableDateClamped + live.router.tableDateClampedCount + (pool?.routing.tableDateClamped ?? 0),
    emptyHashSource: live.routingBefore.emptyHashSource + live.router.emptyHashSourceCount + (pool?.routing.emptyHashSource ?? 0),
  });
  const listeners: Listener[] = [];
  let control: ControlPlane;
  try {
    if (cfg.nonsip_hook === 1) setHook(await startHook(cfg));
    control = await ControlPlane.start({
      cfg,
      logger,
      reloads: () => reloader.counts,
      ...(options.processMetrics === undefined ? {} : { processMetrics: options.processMetrics }),
      ctx: {
        stats,
        state,
        stores: () => storeViewsOf(storeSet),
        hookQueueDepth: () => live.hook?.queueDepth ?? null,
        databaseProblems: () => databaseHealth.problems(),
        routing,
        pipelineThreads: () => (pool === null ? null : { threads: pool.threads, queuedBytes: pool.queuedBytes, maxQueuedBytes: pool.maxQueuedBytes, restarts: pool.restarts }),
        forward: () => forward?.stats() ?? [],
        heplify,
        dedup: () => (live.dedup === null ? null : { entries: live.dedup.size, maxEntries: live.dedup.maxEntries, evicted: live.dedupEvictedBefore + live.dedup.evicted }),
        tcpConnections: () => tcpConnections(listeners),
        udpKernelDrops: () => udpKernelDrops(listeners),
        tcpBackpressure: () => ({ pausedConnections: tcpPausedConnections(listeners), episodes: ingestGate.episodes }),
        memory: () => guard?.state() ?? null,
        retention: () => retention.counters,
        reload: (by) => reloader.reload(by),
        version: packageVersion(),
        startedAtMs,
      },
    });
  } catch (err) {
    databaseHealth.stop();
    await live.hook?.close();
    await pool?.close();
    await forward?.close();
    await storeSet.close();
    throw err;
  }

  // With pipeline threads a packet goes to them, unless the nonsip_hook is on: it sees every
  // packet first (here), and what it sends on goes to the threads (onDefault above).
  const onPacket = (data: Buffer, listener: string, keys: AuthKeys | null): void => {
    if (pool === null || live.hook !== null) ingest.handle(data, listener, keys);
    else {
      stats.received(listener, hepKind(data[0]));
      pool.submit(data, listener, false);
    }
  };
  const onBatch = (buf: ArrayBuffer, ends: Uint32Array, listener: string, keys: AuthKeys | null): void => {
    if (pool !== null && live.hook === null) {
      pool.postBatch(listener, buf, ends);
      return;
    }
    let start = 0;
    for (const end of ends) {
      ingest.handle(Buffer.from(buf, start, end - start), listener, keys);
      start = end;
    }
  };
  listeners.push(...hepListenersFrom(cfg, { onPacket, ...(pool === null ? {} : { onBatch }), stats, logger, flow: ingestGate }));
  const started: Listener[] = [];
  try {
    // Raw IPIP / port-mirroring capture runs in supervised child processes (raw/supervisor.ts).
    if (rawCaptureMode(cfg) !== null) {
      listeners.push(new RawCaptureSupervisor({ config: cfg, sink: pipeline, stats, logger }));
    }
    for (const listener of listeners) {
      await listener.start();
      started.push(listener);
      logger.info({ listener: listener.name, ...listeningLogFields(listener, cfg) }, 'listening');
    }
  } catch (err) {
    await Promise.allSettled(started.map((l) => l.stop()));
    databaseHealth.stop();
    await live.hook?.close();
    await pool?.close();
    await forward?.close();
    await storeSet.close();
    await control.close();
    throw err;
  }

  // After start-up: loading the modules with the bound set ran extra full GCs (+120 ms to listening).
  applyHeapGrowingPercent(cfg.heap_growing_percent);
  guard?.start();
  retention.start();
  const kernelDropWatch = watchUdpKernelDrops(listeners, logger);
  summaryLog.setInterval(cfg.log_summary_s);
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      guard?.stop();
      databaseHealth.stop();
      await retention.stop();
      clearInterval(kernelDropWatch);
      summaryLog.stop();
      const kernelDrops = udpKernelDrops(listeners);
      await Promise.allSettled(listeners.map((l) => l.stop()));
      // Packets still with the hook come back (stored, or on the default path) before the drain.
      await live.hook?.close();
      // What the threads still hold becomes rows before the writers drain.
      await pool?.close();
      await Promise.all([forward?.close(), storeSet.close()]);
      await control.close();
      logger.info({ stats: stats.snapshot(), udpKernelDrops: kernelDrops }, 'stopped');
    })();
    return stopping;
  };

  return {
    get config() {
      return live.config;
    },
    stats,
    state,
    retention,
    listeners,
    writers: storeSet.writers,
    storage: storeSet,
    get router() {
      return live.router;
    },
    routing,
    control,
    get hook() {
      return live.hook;
    },
    get dedup() {
      return live.dedup;
    },
    forward,
    reload: (by) => reloader.reload(by),
    stop,
  };
}

/** What a reload acts on: it prepares each swappable part from the new config, then swaps it in `live`. */
function reloadHost(
  live: Swappable,
  d: {
    configFile: string | null;
    state: CaptureState;
    stats: Stats;
    logger: Logger;
    storeSet: StoreSet;
    pipeline: Pipeline;
    pool: PipelinePool | null;
    forward: ForwardSet | null;
    startHook: (c: SipcaptureConfig) => Promise<HookRunner>;
    setHook: (hook: HookRunner | null) => void;
    summaryLog: SummaryLog;
  },
): ReloadHost {
  return {
    configFile: d.configFile,
    load: loadConfig,
    running: () => live.config,
    setRunning: (c) => {
      live.config = c;
      // The threads build their routing, rows and dedup keys from the whole new config.
      d.pool?.reconfigure(c);
    },
    openDbUrls: () => new Set(d.storeSet.writers.keys()),
    state: d.state,
    prepareRouting: (c, routingChanged) => {
      const next = routingChanged ? routerFrom(c) : live.router;
      const rowOptions = rowOptionsFrom(c);
      return () => {
        if (next !== live.router) {
          live.routingBefore.tableDateClamped += live.router.tableDateClampedCount;
          live.routingBefore.emptyHashSource += live.router.emptyHashSourceCount;
        }
        live.router = next;
        d.forward?.bindRules(next.forwardedByRules);
        d.pipeline.reconfigure({ router: next, rowOptions, defaultDbUrl: c.captureModes.get('default')?.db_url ?? null });
        if (routingChanged) d.storeSet.useRouting(c);
      };
    },
    applyDedup: (c) => {
      // A new table: what the old one remembered is forgotten (at most one window of copies gets through).
      live.dedupEvictedBefore += live.dedup?.evicted ?? 0;
      live.dedup = dedupFrom(c);
      d.pipeline.reconfigure({ dedup: live.dedup });
    },
    applyLogging: (c) => {
      d.logger.level = c.log_level;
      d.stats.setLogInterval(c.log_rate_limit_s * 1000);
      d.summaryLog.setInterval(c.log_summary_s);
    },
    applyHook: async (c) => {
      // The new hook must load before the old one is let go; if it does not, the old one stays.
      const next = c.nonsip_hook === 1 ? await d.startHook(c) : null;
      const previous = live.hook;
      d.setHook(next);
      await previous?.close();
    },
    logger: d.logger,
  };
}
