/**
 * Wires one running sipcapture: stores and writers per database URL, the router, the pipeline,
 * the nonsip_hook, the control plane (RPC, metrics, health) and the listeners. `startDaemon`
 * resolves once every listener receives; `stop()` stops the listeners first, lets the hook
 * answer, drains every writer into its database, closes the stores, then the control plane.
 */
import { applyHeapGrowingPercent } from './control/heap-growth.js';
import { CaptureState } from './pipeline/capture-state.js';
import { loadConfig } from './config/load.js';
import type { SipcaptureConfig } from './config/types.js';
import { DropReason } from './telemetry/drop-reasons.js';
import type { Logger } from './telemetry/logger.js';
import { packageVersion } from './util/package-info.js';
import { Reloader, type ReloadReport } from './control/reload.js';
import { ControlPlane } from './control/rpc/control-plane.js';
import { Stats } from './telemetry/stats.js';
import { MemoryGuard } from './control/memory-guard.js';
import { DatabaseHealth } from './control/db-health.js';
import type { SipRowOptions } from './capture/sip-row.js';
import { RawCaptureSupervisor, rawCaptureMode } from './raw/supervisor.js';
import { TcpListener } from './listeners/tcp.js';
import type { Listener } from './listeners/types.js';
import { authKeys } from './listeners/access.js';
import { UdpListener } from './listeners/udp.js';
import { HepIngest } from './pipeline/hep-ingest.js';
import { IngestGate } from './pipeline/ingest-gate.js';
import { HookRunner, hookSettingsFrom } from './hook/runner.js';
import { dedupFrom, type DedupTable } from './pipeline/dedup.js';
import { Pipeline } from './pipeline/pipeline.js';
import { Router } from './route/router.js';
import { StoreSet } from './store/store-set.js';
import type { StoreWriter } from './store/writer.js';

export interface RunningDaemon {
  readonly config: SipcaptureConfig;
  readonly stats: Stats;
  readonly state: CaptureState;
  readonly listeners: readonly Listener[];
  readonly writers: ReadonlyMap<string, StoreWriter>;
  /** Per database: queue depth, spool size, value counters (`storage.storageStats()`). */
  readonly storage: StoreSet;
  /** Routing counters (`tableDateClampedCount`, `emptyHashSourceCount`); replaced by a reload. */
  readonly router: Router;
  /** RPC dispatcher, metrics, and the HTTP / unix-socket servers (`httpPort`). */
  readonly control: ControlPlane;
  /** The nonsip_hook, or null when it is off. */
  readonly hook: HookRunner | null;
  /** The dedup table, or null when `dedup` is off; replaced by a reload that changes it. */
  readonly dedup: DedupTable | null;
  /** Re-reads the config file (SIGHUP, RPC sipcapture.reload); rejects when it is invalid. */
  reload(): Promise<ReloadReport>;
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
}

export function rowOptionsFrom(cfg: SipcaptureConfig): SipRowOptions {
  return {
    captureNode: cfg.capture_node,
    callidAlegHeaders: cfg.callid_aleg_header.split(';').filter((h) => h !== '').slice(0, 16),
    customFieldHeaders: [cfg.custom_field1_header, cfg.custom_field2_header, cfg.custom_field3_header],
    topoh: cfg.topoh_unmask === 1 ? { key: cfg.topoh_mask_key, prefix: cfg.topoh_callid_prefix } : null,
    captureBadMsgs: cfg.capture_bad_msgs !== 0,
    dateTimeZone: cfg.date_time_zone,
  };
}

export async function startDaemon(cfg: SipcaptureConfig, logger: Logger, options: DaemonOptions = {}): Promise<RunningDaemon> {
  const startedAtMs = Date.now();
  const stats = new Stats(logger, cfg.log_rate_limit_s * 1000);
  const state = new CaptureState(cfg);

  const storeSet = await StoreSet.open(cfg, stats, logger);
  // A refused password or an unreachable database is an ERROR now, and /health says so.
  const databaseHealth = new DatabaseHealth({ storage: storeSet, stats, logger });
  databaseHealth.start();
  const guard =
    cfg.memory_limit_mb > 0
      ? new MemoryGuard({
          limitBytes: cfg.memory_limit_mb * 1048576,
          logger,
          queuedBytes: () => storeSet.queuedBytes(),
          ...(options.rss === undefined ? {} : { rss: options.rss }),
        })
      : null;

  const defaultMode = cfg.captureModes.get('default');
  const routerFor = (c: SipcaptureConfig): Router => new Router(c.routeRules, c.captureModes, { tableDateWindowDays: c.table_date_window_days });
  let router = routerFor(cfg);
  const routingBefore = { tableDateClamped: 0, emptyHashSource: 0 };
  let dedup = dedupFrom(cfg);
  let dedupEvictedBefore = 0;
  const pipeline = new Pipeline({
    stats,
    state,
    router,
    rowOptions: rowOptionsFrom(cfg),
    writerFor: (dbUrl) => storeSet.writerFor(dbUrl),
    defaultDbUrl: defaultMode?.db_url ?? null,
    dedup,
    guard,
  });
  // TCP/TLS listeners stop reading while the writers' queues are three quarters full.
  const ingestGate = new IngestGate({ writers: () => storeSet.writers.values(), maxRows: cfg.queue_max_rows, maxBytes: cfg.queue_max_bytes });
  const ingest = new HepIngest(pipeline, stats, state);
  ingest.guard = guard;
  const onHep = (data: Buffer, listener: string): void => ingest.handle(data, listener);

  let running = cfg;
  let hook: HookRunner | null = null;
  const startHook = (c: SipcaptureConfig): Promise<HookRunner> =>
    HookRunner.start({
      settings: hookSettingsFrom(c, rowOptionsFrom(c)),
      state,
      stats,
      logger,
      onDefault: (data, listener, receivedAtUs) => ingest.decodeAndAccept(data, listener, receivedAtUs),
      enqueue: (dbUrl, table, kind, row) => {
        try {
          storeSet.writerFor(dbUrl).enqueue(table, kind, row);
        } catch (err) {
          stats.drop(DropReason.DB_ERROR, `hook row for ${table}: ${(err as Error).message}`);
        }
      },
    });
  const reloader = new Reloader({
    configFile: options.configFile ?? null,
    load: loadConfig,
    running: () => running,
    setRunning: (c) => (running = c),
    openDbUrls: () => new Set(storeSet.writers.keys()),
    state,
    prepareRouting: (c, routingChanged) => {
      const next = routingChanged ? routerFor(c) : router;
      const rowOptions = rowOptionsFrom(c);
      return () => {
        if (next !== router) {
          // The counters are counters: what the old router counted must not go back.
          routingBefore.tableDateClamped += router.tableDateClampedCount;
          routingBefore.emptyHashSource += router.emptyHashSourceCount;
        }
        router = next;
        pipeline.reconfigure({ router: next, rowOptions, defaultDbUrl: c.captureModes.get('default')?.db_url ?? null });
        if (routingChanged) storeSet.useRouting(c);
      };
    },
    applyDedup: (c) => {
      // A new table: what the old one remembered is forgotten (at most one window of copies gets through).
      dedupEvictedBefore += dedup?.evicted ?? 0; // the metric is a counter: it must not go back
      dedup = dedupFrom(c);
      pipeline.reconfigure({ dedup });
    },
    applyLogging: (c) => {
      logger.level = c.log_level;
      stats.setLogInterval(c.log_rate_limit_s * 1000);
    },
    applyHook: async (c) => {
      // The new hook must load before the old one is let go; if it does not, the old one stays.
      const next = c.nonsip_hook === 1 ? await startHook(c) : null;
      const previous = hook;
      hook = next;
      ingest.hook = next;
      await previous?.close();
    },
    logger,
  });

  const listeners: Listener[] = [];
  let control: ControlPlane;
  try {
    if (cfg.nonsip_hook === 1) {
      hook = await startHook(cfg);
      ingest.hook = hook;
    }
    control = await ControlPlane.start({
      cfg,
      logger,
      reloads: () => reloader.counts,
      ...(options.processMetrics === undefined ? {} : { processMetrics: options.processMetrics }),
      ctx: {
        stats,
        state,
        stores: () =>
          storeSet.storageStats().map((s) => ({
            db: s.db,
            queueDepth: s.queueDepth,
            queueBytes: s.queueBytes,
            inFlightBatches: s.inFlightBatches,
            failing: s.failing,
            ...(s.spool === null
              ? {}
              : {
                  spoolBytes: s.spool.bytes,
                  spool: {
                    rejectedFull: s.spool.rejectedFull,
                    corruptRecords: s.spool.corruptRecords,
                    corruptBytes: s.spool.corruptBytes,
                    alreadyCommittedBatches: s.spool.alreadyCommittedBatches,
                    alreadyCommittedRows: s.spool.alreadyCommittedRows,
                  },
                }),
            ...(s.values === null ? {} : { values: s.values }),
          })),
        hookQueueDepth: () => hook?.queueDepth ?? null,
        databaseProblems: () => databaseHealth.problems(),
        routing: () => ({ tableDateClamped: routingBefore.tableDateClamped + router.tableDateClampedCount, emptyHashSource: routingBefore.emptyHashSource + router.emptyHashSourceCount }),
        dedup: () => (dedup === null ? null : { entries: dedup.size, maxEntries: dedup.maxEntries, evicted: dedupEvictedBefore + dedup.evicted }),
        tcpConnections: () => Object.fromEntries(listeners.filter((l): l is TcpListener => l instanceof TcpListener).map((l) => [l.name, l.connections])),
        udpKernelDrops: () => udpKernelDrops(listeners),
        tcpBackpressure: () => ({
          pausedConnections: listeners.reduce((n, l) => n + (l instanceof TcpListener ? l.pausedConnections : 0), 0),
          episodes: ingestGate.episodes,
        }),
        memory: () => guard?.state() ?? null,
        reload: () => reloader.reload(),
        version: packageVersion(),
        startedAtMs,
      },
    });
  } catch (err) {
    databaseHealth.stop();
    await hook?.close();
    await storeSet.close();
    throw err;
  }

  listeners.push(
    ...cfg.listenAddresses.map((address) => {
      // Each listener checks its own auth keys (a listen object may have its own list).
      const keys = authKeys(address.access.authKeys);
      const onPacket = keys === null ? onHep : (data: Buffer, listener: string): void => ingest.handle(data, listener, keys);
      return address.protocol === 'udp'
        ? new UdpListener({ address, recvBufferSize: cfg.udp_recv_buffer, onDatagram: onPacket, stats, receiveThread: cfg.udp_receive_thread === 1, logger })
        : new TcpListener({
            address,
            maxFrame: cfg.tcp_max_frame,
            idleTimeoutMs: cfg.tcp_idle_timeout_s * 1000,
            maxConnections: cfg.tcp_max_connections,
            maxConnectionsPerIp: cfg.tcp_max_connections_per_ip,
            onFrame: onPacket,
            stats,
            flow: ingestGate,
          });
    }),
  );
  const started: Listener[] = [];
  try {
    // Raw IPIP / port-mirroring capture runs in supervised child processes (raw/supervisor.ts).
    if (rawCaptureMode(cfg) !== null) {
      listeners.push(new RawCaptureSupervisor({ config: cfg, sink: pipeline, stats, logger }));
    }
    for (const listener of listeners) {
      await listener.start();
      started.push(listener);
      const extra: Record<string, unknown> = listener instanceof UdpListener ? { recvBuffer: listener.recvBufferSize, receiveThread: listener.receiveThread !== null } : {};
      const address = cfg.listenAddresses.find((a) => a.spec === listener.name);
      if (address !== undefined) {
        const a = address.access;
        if (a.authKeys.length > 0) extra['authKeys'] = a.authKeys.length;
        if (a.allowSources.length > 0) extra['allowSources'] = a.allowSources;
        if (a.tls !== null) extra['tlsVerifyClient'] = a.tls.verifyClient;
      }
      logger.info({ listener: listener.name, ...extra }, 'listening');
    }
  } catch (err) {
    await Promise.allSettled(started.map((l) => l.stop()));
    databaseHealth.stop();
    await hook?.close();
    await storeSet.close();
    await control.close();
    throw err;
  }

  // After start-up: loading the modules with the bound set ran extra full GCs (+120 ms to listening).
  applyHeapGrowingPercent(cfg.heap_growing_percent);
  guard?.start();
  const kernelDropWatch = watchUdpKernelDrops(listeners, logger);
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      guard?.stop();
      databaseHealth.stop();
      clearInterval(kernelDropWatch);
      const kernelDrops = udpKernelDrops(listeners);
      await Promise.allSettled(listeners.map((l) => l.stop()));
      // Packets still with the hook come back (stored, or on the default path) before the drain.
      await hook?.close();
      await storeSet.close();
      await control.close();
      logger.info({ stats: stats.snapshot(), udpKernelDrops: kernelDrops }, 'stopped');
    })();
    return stopping;
  };

  return {
    get config() {
      return running;
    },
    stats,
    state,
    listeners,
    writers: storeSet.writers,
    storage: storeSet,
    get router() {
      return router;
    },
    control,
    get hook() {
      return hook;
    },
    get dedup() {
      return dedup;
    },
    reload: () => reloader.reload(),
    stop,
  };
}

/** Kernel receive-buffer drops per UDP listener (listeners where /proc cannot tell are absent). */
function udpKernelDrops(listeners: readonly Listener[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of listeners) {
    if (!(l instanceof UdpListener)) continue;
    const n = l.kernelDrops();
    if (n !== null) out[l.name] = n;
  }
  return out;
}

/**
 * Kernel drops happen before sipcapture reads a packet, so no drop reason can count them; they are
 * in /metrics and the RPC, and this warns (every 10 s at most) while they grow, with the cure.
 */
function watchUdpKernelDrops(listeners: readonly Listener[], logger: Logger): NodeJS.Timeout {
  const seen = udpKernelDrops(listeners);
  const timer = setInterval(() => {
    for (const [listener, total] of Object.entries(udpKernelDrops(listeners))) {
      const delta = total - (seen[listener] ?? 0);
      seen[listener] = total;
      if (delta <= 0) continue;
      const l = listeners.find((x) => x.name === listener);
      const recvBuffer = l instanceof UdpListener ? l.recvBufferSize : undefined;
      logger.warn(
        { listener, drops: delta, total, recvBuffer },
        'the kernel dropped datagrams: the UDP receive buffer was full (raise udp_recv_buffer and net.core.rmem_max, or give the daemon more CPU)',
      );
    }
  }, 10_000);
  timer.unref();
  return timer;
}
