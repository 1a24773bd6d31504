/**
 * Wires one running sipcapture: stores and writers per database URL, the router, the pipeline,
 * and the listeners. `startDaemon` resolves once every listener receives; `stop()` stops the
 * listeners first, then drains every writer into its database, then closes the stores.
 */
import { CaptureState } from './control/capture-state.js';
import type { SipcaptureConfig } from './control/config/types.js';
import type { Logger } from './control/logger.js';
import { Stats } from './control/stats.js';
import type { SipRowOptions } from './capture/sip-row.js';
import { TcpListener } from './listeners/tcp.js';
import type { Listener } from './listeners/types.js';
import { UdpListener } from './listeners/udp.js';
import { HepIngest } from './pipeline/hep-ingest.js';
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
  /** Stops receiving, drains queues to the databases, closes connections. */
  stop(): Promise<void>;
}

/** TCP connections idle this long are closed (agents reconnect). */
const TCP_IDLE_TIMEOUT_MS = 5 * 60_000;

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

export async function startDaemon(cfg: SipcaptureConfig, logger: Logger): Promise<RunningDaemon> {
  const stats = new Stats(logger, cfg.log_rate_limit_s * 1000);
  const state = new CaptureState(cfg);

  const storeSet = await StoreSet.open(cfg, stats, logger);

  const defaultMode = cfg.captureModes.get('default');
  const pipeline = new Pipeline({
    stats,
    state,
    router: new Router(cfg.routeRules, cfg.captureModes),
    rowOptions: rowOptionsFrom(cfg),
    writerFor: (dbUrl) => storeSet.writerFor(dbUrl),
    defaultDbUrl: defaultMode?.db_url ?? null,
  });
  const ingest = new HepIngest(pipeline, stats, state);
  const onHep = (data: Buffer, listener: string): void => ingest.handle(data, listener);

  const listeners: Listener[] = cfg.listenAddresses.map((address) =>
    address.protocol === 'udp'
      ? new UdpListener({ address, recvBufferSize: cfg.udp_recv_buffer, onDatagram: onHep })
      : new TcpListener({ address, maxFrame: cfg.tcp_max_frame, idleTimeoutMs: TCP_IDLE_TIMEOUT_MS, onFrame: onHep, stats }),
  );
  const started: Listener[] = [];
  try {
    for (const listener of listeners) {
      await listener.start();
      started.push(listener);
      const extra = listener instanceof UdpListener ? { recvBuffer: listener.recvBufferSize } : {};
      logger.info({ listener: listener.name, ...extra }, 'listening');
    }
  } catch (err) {
    await Promise.allSettled(started.map((l) => l.stop()));
    await storeSet.close();
    throw err;
  }

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await Promise.allSettled(listeners.map((l) => l.stop()));
      await storeSet.close();
      logger.info({ stats: stats.snapshot() }, 'stopped');
    })();
    return stopping;
  };

  return { config: cfg, stats, state, listeners, writers: storeSet.writers, stop };
}
