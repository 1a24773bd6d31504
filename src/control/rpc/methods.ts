/**
 * The RPC methods: Kamailio's `sipcapture.status` with its exact replies and
 * faults, the MI command `sip_capture` of the older admin guide, and what an operator needs
 * besides (statistics, reload, the core introspection methods).
 */
import type { DatabaseProblem } from '../db-health.js';
import type { CaptureState, CaptureSwitchKey } from '../../pipeline/capture-state.js';
import type { MemoryGuardState } from '../memory-guard.js';
import type { Stats } from '../../telemetry/stats.js';
import type { ReloadReport } from '../reload.js';
import type { StoreSet } from '../../store/store-set.js';
import type { ForwarderStats } from '../../forward/forwarder.js';
import type { HeplifyCounters } from '../../telemetry/heplify-counters.js';
import type { Logger } from '../../telemetry/logger.js';
import { RpcErrorCode, RpcFault, standardFault, type RpcCaller, type RpcMethod, type RpcParams } from './jsonrpc.js';

/** One database's writer as the control plane sees it. */
export interface StoreView {
  /** Display URL (password masked). */
  db: string;
  queueDepth: number;
  /** Estimated bytes of the waiting rows (queue_max_bytes). */
  queueBytes?: number;
  inFlightBatches: number;
  failing: boolean;
  /** Bytes in the on-disk spool for this database, when it has one. */
  spoolBytes?: number;
  /** The spool's counters, when it has one (docs/storage.md, "Spool"). */
  spool?: SpoolCounters;
  /** Text values the store changed (cut to the column, NULs removed, invalid text replaced). */
  values?: { truncatedValues: number; truncatedRows: number; nulStripped: number; invalidReplaced: number };
  /** HOMER 7 partitions created, and rows whose own partition could not be (schema homer7 only). */
  homer7?: { partitionsCreated: number; fallbackRows: number };
}

/** The writers of a StoreSet as the control plane sees them. */
export function storeViewsOf(storage: Pick<StoreSet, 'storageStats'>): StoreView[] {
  return storage.storageStats().map((s) => ({
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
    ...(s.homer7 === null ? {} : { homer7: s.homer7 }),
  }));
}

export interface SpoolCounters {
  /** Batches the spool refused because it was full (their rows are counted spool_full). */
  rejectedFull: number;
  /** Damaged records skipped at replay, and their bytes. */
  corruptRecords: number;
  corruptBytes: number;
  /** Replayed records found already committed by an earlier run (not written again), and their rows. */
  alreadyCommittedBatches: number;
  alreadyCommittedRows: number;
}

/** Routing counters, summed over reloads. */
export interface RoutingCounters {
  /** Packets whose table date was clamped to today (table_date_window_days). */
  tableDateClamped: number;
  /** mt_mode hash with an empty hash source: the first table was used. */
  emptyHashSource: number;
}

/** The dedup table as the control plane sees it. */
export interface DedupView {
  /** Packets remembered now. */
  entries: number;
  maxEntries: number;
  /** Entries forgotten before their window ended because the table was full. */
  evicted: number;
}

/** What the RPC methods, metrics and /health read from (and do to) the running daemon. */
export interface ControlContext {
  stats: Stats;
  state: CaptureState;
  stores(): StoreView[];
  /** Packets waiting for the nonsip_hook, or null when no hook is configured. */
  hookQueueDepth(): number | null;
  /** What retention dropped (tables by `db|kind|reason`) and its passes; absent in contexts without it. */
  retention?: () => { dropped: ReadonlyMap<string, number>; runs: { ok: number; failed: number; skipped: number } };
  /** Per forward destination: counters, queue, spool (absent or [] without `forward`). */
  forward?: () => ForwarderStats[];
  /** heplify-server compatible counts (heplify_metrics: 1), or null / absent. */
  heplify?: HeplifyCounters | null;
  /** The dedup table, or null (or absent) when dedup is off. */
  dedup?: () => DedupView | null;
  /** Open TCP/TLS connections per listener (absent in contexts without listeners). */
  tcpConnections?: () => Record<string, number>;
  /** Datagrams the kernel dropped per UDP listener (receive buffer full); listeners where it cannot be read are absent. */
  udpKernelDrops?: () => Record<string, number>;
  /** The memory guard's state, or null without memory_limit_mb. */
  memory?: () => MemoryGuardState | null;
  /** TCP/TLS connections not read right now because the writers' queues are congested, and how often that began. */
  tcpBackpressure?: () => { pausedConnections: number; episodes: number };
  /** The pipeline threads (pipeline_threads), or null / absent when the pipeline runs on the main thread. */
  pipelineThreads?: () => PipelineThreadsView | null;
  /** Routing counters (absent in contexts without a router). */
  routing?: () => RoutingCounters;
  /** Databases refusing, unreachable or hung (control/db-health.ts); absent where nothing watches them. */
  databaseProblems?: () => DatabaseProblem[];
  /** Re-reads the config file; rejects with the reason it could not. `by`: who asked, for the log. */
  reload(by?: string): Promise<ReloadReport>;
  version: string;
  /** Date.now() at start-up. */
  startedAtMs: number;
}

const STATUS_NOT_ENOUGH = 'Not enough parameters (on, off or check)';
const STATUS_BAD = 'Bad parameter (on, off or check)';

/**
 * Kamailio's parameter rule: a string compared case-insensitively as a prefix against `on`,
 * then `off`, then `check` (so `ONxyz` is on, `o` is bad); a missing or non-string parameter
 * is "Not enough parameters" (jsonrpcs' scan of "S" fails on a number).
 */
export function statusKeyword(params: RpcParams): 'on' | 'off' | 'check' {
  const p = params[0];
  if (typeof p !== 'string') throw new RpcFault(500, STATUS_NOT_ENOUGH);
  const lower = p.toLowerCase();
  for (const k of ['on', 'off', 'check'] as const) if (lower.startsWith(k)) return k;
  throw new RpcFault(500, STATUS_BAD);
}

/** One of the two run-time switches as the methods use it. */
interface CaptureSwitch {
  get(): boolean;
  set(on: boolean, caller: RpcCaller): void;
}

function captureSwitch(state: CaptureState, key: CaptureSwitchKey, logger: Logger | undefined): CaptureSwitch {
  return { get: () => state.get(key), set: (on, caller) => state.switchTo(key, on, caller, logger) };
}

function statusMethod(name: string, doc: string, sw: CaptureSwitch): RpcMethod {
  return {
    name,
    doc,
    handler: (params, caller) => {
      const k = statusKeyword(params);
      if (k !== 'check') sw.set(k === 'on', caller);
      return sw.get() ? 'Enabled' : 'Disabled';
    },
  };
}

/** The MI command removed in 2017: `on`/`off` exactly (any case), or nothing to read. */
function miSipCapture(sw: CaptureSwitch): RpcMethod {
  return {
    name: 'sip_capture',
    doc: 'Old MI command: without a parameter, the capture status (on or off); with on or off, switch capture.',
    handler: (params, caller) => {
      if (params.length === 0) return sw.get() ? 'on' : 'off';
      const p = params[0];
      if (params.length > 1 || typeof p !== 'string') throw new RpcFault(400, 'Bad parameter');
      const lower = p.toLowerCase();
      if (lower !== 'on' && lower !== 'off') throw new RpcFault(400, 'Bad parameter');
      sw.set(lower === 'on', `${caller} (MI sip_capture)`);
      return 'OK';
    },
  };
}

/** `forward` of sipcapture.stats: one entry per destination. */
function forwardResult(ctx: ControlContext): Record<string, unknown> {
  const list = ctx.forward?.() ?? [];
  if (list.length === 0) return {};
  return {
    forward: list.map((f) => ({
      name: f.name,
      address: f.address,
      up: f.up,
      forwarded: f.forwarded,
      spooled: f.spooled,
      replayed: f.replayed,
      dropped: f.dropped,
      queue_packets: f.queuePackets,
      queue_bytes: f.queueBytes,
      spool_bytes: f.spoolBytes,
      spool_pending_bytes: f.spoolPendingBytes,
      connects: f.connects,
      last_error: f.lastError,
    })),
  };
}

/** What the stats and metrics show of the pipeline threads. */
export interface PipelineThreadsView {
  threads: number;
  queuedBytes: number;
  maxQueuedBytes: number;
  restarts: number;
}

function statsResult(ctx: ControlContext): Record<string, unknown> {
  const snap = ctx.stats.snapshot();
  const batches = ctx.stats.batchSummaries();
  const hookDepth = ctx.hookQueueDepth();
  const dedup = ctx.dedup?.() ?? null;
  const routing = ctx.routing?.() ?? null;
  const backpressure = ctx.tcpBackpressure?.() ?? null;
  const threads = ctx.pipelineThreads?.() ?? null;
  return {
    capture_on: ctx.state.captureOn,
    hep_capture_on: ctx.state.hepCaptureOn,
    uptime_s: Math.floor((Date.now() - ctx.startedAtMs) / 1000),
    received: snap.received,
    dropped: snap.dropped,
    stored: snap.stored,
    tcp_connections: ctx.tcpConnections?.() ?? {},
    udp_kernel_drops: ctx.udpKernelDrops?.() ?? {},
    tcp_connections_rejected: snap.tcpRejected,
    ...(threads === null ? {} : { pipeline_threads: { threads: threads.threads, queued_bytes: threads.queuedBytes, max_queued_bytes: threads.maxQueuedBytes, restarts: threads.restarts } }),
    ...(backpressure === null ? {} : { tcp_backpressure: { paused_connections: backpressure.pausedConnections, episodes: backpressure.episodes } }),
    ...(hookDepth === null ? {} : { hook: snap.hook, hook_queue: hookDepth }),
    ...(dedup === null ? {} : { dedup: { entries: dedup.entries, max_entries: dedup.maxEntries, evicted: dedup.evicted } }),
    ...(routing === null ? {} : { routing: { table_date_clamped: routing.tableDateClamped, empty_hash_source: routing.emptyHashSource } }),
    ...memoryResult(ctx),
    ...forwardResult(ctx),
    stores: ctx.stores().map((s) => {
      const b = batches.get(s.db);
      return {
        db: s.db,
        queue_rows: s.queueDepth,
        ...(s.queueBytes === undefined ? {} : { queue_bytes: s.queueBytes }),
        batches_in_flight: s.inFlightBatches,
        failing: s.failing,
        ...(s.spoolBytes === undefined ? {} : { spool_bytes: s.spoolBytes }),
        ...(s.homer7 === undefined ? {} : { homer7: { partitions_created: s.homer7.partitionsCreated, fallback_rows: s.homer7.fallbackRows } }),
        ...(s.spool === undefined
          ? {}
          : {
              spool: {
                rejected_full: s.spool.rejectedFull,
                corrupt_records: s.spool.corruptRecords,
                corrupt_bytes: s.spool.corruptBytes,
                already_committed_batches: s.spool.alreadyCommittedBatches,
                already_committed_rows: s.spool.alreadyCommittedRows,
              },
            }),
        ...(s.values === undefined
          ? {}
          : {
              values: {
                truncated_values: s.values.truncatedValues,
                truncated_rows: s.values.truncatedRows,
                nul_stripped: s.values.nulStripped,
                invalid_replaced: s.values.invalidReplaced,
              },
            }),
        batches: b?.batches ?? 0,
        failed_batches: b?.failed ?? 0,
        batch_seconds_avg: b !== undefined && b.batches > 0 ? b.seconds / b.batches : 0,
        batch_seconds_max: b?.maxSeconds ?? 0,
      };
    }),
  };
}

function memoryResult(ctx: ControlContext): Record<string, unknown> {
  const m = ctx.memory?.() ?? null;
  // Where the memory is (heap, Buffers outside it): read on request only, never per packet.
  const u = process.memoryUsage();
  return {
    memory: {
      rss_bytes: m?.rssBytes ?? u.rss,
      heap_used_bytes: u.heapUsed,
      heap_total_bytes: u.heapTotal,
      external_bytes: u.external,
      array_buffers_bytes: u.arrayBuffers,
      limit_bytes: m?.limitBytes ?? 0,
      shedding: m?.shedding ?? false,
      shed_episodes: m?.episodes ?? 0,
    },
  };
}

function noParams(params: RpcParams): void {
  if (params.length > 0) throw standardFault(RpcErrorCode.INVALID_PARAMS);
}

/** `logger`: where switching capture on or off is logged, with who asked. */
export function createRpcMethods(ctx: ControlContext, listNames: () => string[], helpOf: (name: string) => string | undefined, logger?: Logger): RpcMethod[] {
  const capture = captureSwitch(ctx.state, 'capture_on', logger);
  return [
    statusMethod('sipcapture.status', 'Get status or turn on/off sipcapture.', capture),
    statusMethod(
      'sipcapture.hep_status',
      'Get status or turn on/off HEP decoding on the listeners (hep_capture_on). Parameters: on, off or check.',
      captureSwitch(ctx.state, 'hep_capture_on', logger),
    ),
    miSipCapture(capture),
    {
      name: 'sipcapture.stats',
      doc: 'Counters: packets received per listener and HEP version, drops per reason, rows stored per table, queues and stores.',
      handler: (params) => {
        noParams(params);
        return statsResult(ctx);
      },
    },
    {
      name: 'sipcapture.reload',
      doc: 'Re-read the config file (as SIGHUP): lists what took effect and what needs a restart.',
      handler: async (params, caller) => {
        noParams(params);
        try {
          const r = await ctx.reload(caller);
          return { applied: r.applied, restart_needed: r.restartNeeded };
        } catch (err) {
          throw new RpcFault(500, `Reload failed: ${(err as Error).message}`);
        }
      },
    },
    {
      name: 'core.version',
      doc: 'Version of the running sipcapture.',
      handler: () => `sipcapture ${ctx.version} (node ${process.version})`,
    },
    {
      name: 'core.uptime',
      doc: 'Current time, start time and seconds since start.',
      handler: () => ({
        now: new Date().toISOString(),
        up_since: new Date(ctx.startedAtMs).toISOString(),
        uptime: Math.floor((Date.now() - ctx.startedAtMs) / 1000),
      }),
    },
    {
      name: 'system.listMethods',
      doc: 'Lists the RPC methods.',
      handler: () => listNames(),
    },
    {
      name: 'system.methodHelp',
      doc: 'Documentation of one RPC method.',
      handler: (params) => {
        const name = params[0];
        if (typeof name !== 'string') throw new RpcFault(500, 'Method name expected');
        const doc = helpOf(name);
        if (doc === undefined) throw standardFault(RpcErrorCode.METHOD_NOT_FOUND);
        return doc;
      },
    },
  ];
}
