/**
 * The RPC methods (spec §8.2, §15.2): Kamailio's `sipcapture.status` with its exact replies and
 * faults, the MI command `sip_capture` of the older admin guide, and what an operator needs
 * besides (statistics, reload, the core introspection methods).
 */
import type { DatabaseProblem } from '../db-health.js';
import type { CaptureState } from '../../pipeline/capture-state.js';
import type { MemoryGuardState } from '../memory-guard.js';
import type { Stats } from '../../telemetry/stats.js';
import type { ReloadReport } from '../reload.js';
import { RpcErrorCode, RpcFault, standardFault, type RpcMethod, type RpcParams } from './jsonrpc.js';

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
  /** Routing counters (absent in contexts without a router). */
  routing?: () => RoutingCounters;
  /** Databases refusing, unreachable or hung (control/db-health.ts); absent where nothing watches them. */
  databaseProblems?: () => DatabaseProblem[];
  /** Re-reads the config file; rejects with the reason it could not. */
  reload(): Promise<ReloadReport>;
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

function statusMethod(name: string, doc: string, get: () => boolean, set: (on: boolean) => void): RpcMethod {
  return {
    name,
    doc,
    handler: (params) => {
      const k = statusKeyword(params);
      if (k !== 'check') set(k === 'on');
      return get() ? 'Enabled' : 'Disabled';
    },
  };
}

/** The MI command removed in 2017 (spec §8.2): `on`/`off` exactly (any case), or nothing to read. */
function miSipCapture(state: CaptureState): RpcMethod {
  return {
    name: 'sip_capture',
    doc: 'Old MI command: without a parameter, the capture status (on or off); with on or off, switch capture.',
    handler: (params) => {
      if (params.length === 0) return state.captureOn ? 'on' : 'off';
      const p = params[0];
      if (params.length > 1 || typeof p !== 'string') throw new RpcFault(400, 'Bad parameter');
      const lower = p.toLowerCase();
      if (lower !== 'on' && lower !== 'off') throw new RpcFault(400, 'Bad parameter');
      state.captureOn = lower === 'on';
      return 'OK';
    },
  };
}

function statsResult(ctx: ControlContext): Record<string, unknown> {
  const snap = ctx.stats.snapshot();
  const batches = ctx.stats.batchSummaries();
  const hookDepth = ctx.hookQueueDepth();
  const dedup = ctx.dedup?.() ?? null;
  const routing = ctx.routing?.() ?? null;
  const backpressure = ctx.tcpBackpressure?.() ?? null;
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
    ...(backpressure === null ? {} : { tcp_backpressure: { paused_connections: backpressure.pausedConnections, episodes: backpressure.episodes } }),
    ...(hookDepth === null ? {} : { hook: snap.hook, hook_queue: hookDepth }),
    ...(dedup === null ? {} : { dedup: { entries: dedup.entries, max_entries: dedup.maxEntries, evicted: dedup.evicted } }),
    ...(routing === null ? {} : { routing: { table_date_clamped: routing.tableDateClamped, empty_hash_source: routing.emptyHashSource } }),
    ...memoryResult(ctx),
    stores: ctx.stores().map((s) => {
      const b = batches.get(s.db);
      return {
        db: s.db,
        queue_rows: s.queueDepth,
        ...(s.queueBytes === undefined ? {} : { queue_bytes: s.queueBytes }),
        batches_in_flight: s.inFlightBatches,
        failing: s.failing,
        ...(s.spoolBytes === undefined ? {} : { spool_bytes: s.spoolBytes }),
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

export function createRpcMethods(ctx: ControlContext, listNames: () => string[], helpOf: (name: string) => string | undefined): RpcMethod[] {
  const { state } = ctx;
  return [
    statusMethod(
      'sipcapture.status',
      'Get status or turn on/off sipcapture.',
      () => state.captureOn,
      (on) => (state.captureOn = on),
    ),
    statusMethod(
      'sipcapture.hep_status',
      'Get status or turn on/off HEP decoding on the listeners (hep_capture_on). Parameters: on, off or check.',
      () => state.hepCaptureOn,
      (on) => (state.hepCaptureOn = on),
    ),
    miSipCapture(state),
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
      handler: async (params) => {
        noParams(params);
        try {
          const r = await ctx.reload();
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
