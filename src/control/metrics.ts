/**
 * Prometheus metrics (prom-client), read at scrape time from Stats and the running daemon, so
 * the receive path only bumps the plain counters in Stats. One Registry per daemon (tests run
 * several daemons in one process). Counter names end in `_total`, durations are in seconds.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DropReason } from '../telemetry/drop-reasons.js';
import { ConnectionRejectReason } from '../telemetry/stats.js';
import type { ControlContext } from './rpc/methods.js';
import { registerForwardMetrics } from './forward-metrics.js';
import { registerHeplifyMetrics } from './heplify-metrics.js';

/** Upper bounds of the database batch latency histogram, seconds. */
export const BATCH_SECONDS_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface MetricsOptions {
  /** Also export the prom-client process/Node.js metrics (CPU, memory, event loop lag). Default true. */
  processMetrics?: boolean;
  /** Config reloads so far, by outcome. */
  reloads?: () => { ok: number; failed: number };
}

export class Metrics {
  readonly registry = new Registry();

  constructor(ctx: ControlContext, opts: MetricsOptions = {}) {
    const reg = [this.registry];
    const { stats, state } = ctx;

    new Gauge({
      name: 'sipcapture_info',
      help: 'Always 1; the label carries the version.',
      labelNames: ['version'],
      registers: reg,
      collect() {
        this.set({ version: ctx.version }, 1);
      },
    });
    new Gauge({
      name: 'sipcapture_capture_on',
      help: 'capture_on: 1 while rows are stored (sipcapture.status on/off).',
      registers: reg,
      collect() {
        this.set(state.captureOn ? 1 : 0);
      },
    });
    new Gauge({
      name: 'sipcapture_hep_capture_on',
      help: 'hep_capture_on: 1 while HEP is decoded on the listeners.',
      registers: reg,
      collect() {
        this.set(state.hepCaptureOn ? 1 : 0);
      },
    });
    new Counter({
      name: 'sipcapture_packets_received_total',
      help: 'Packets (UDP datagrams, TCP frames) received, per listener and HEP version (hep1, hep2, hep3, unknown).',
      labelNames: ['listener', 'kind'],
      registers: reg,
      collect() {
        this.reset();
        for (const [key, n] of Object.entries(stats.snapshot().received)) {
          const bar = key.lastIndexOf('|');
          this.inc({ listener: key.slice(0, bar), kind: key.slice(bar + 1) }, n);
        }
      },
    });
    new Counter({
      name: 'sipcapture_rows_stored_total',
      help: 'Rows committed to the database, per table.',
      labelNames: ['table'],
      registers: reg,
      collect() {
        this.reset();
        for (const [table, n] of Object.entries(stats.snapshot().stored)) this.inc({ table }, n);
      },
    });
    const reasons = Object.values(DropReason) as string[];
    new Counter({
      name: 'sipcapture_packets_dropped_total',
      help: 'Packets or rows not stored, per reason (every reason is exported, 0 included).',
      labelNames: ['reason'],
      registers: reg,
      collect() {
        this.reset();
        const dropped = stats.snapshot().dropped;
        for (const reason of new Set([...reasons, ...Object.keys(dropped)])) this.inc({ reason }, dropped[reason] ?? 0);
      },
    });
    const rejectReasons = Object.values(ConnectionRejectReason) as string[];
    new Counter({
      name: 'sipcapture_tcp_connections_rejected_total',
      help: 'TCP/TLS connections refused or closed by sipcapture, per reason: source_denied, limit_total, limit_per_ip, tls_handshake, tls_client_cert, idle_timeout (every reason is exported, 0 included).',
      labelNames: ['reason'],
      registers: reg,
      collect() {
        this.reset();
        const rejected = stats.snapshot().tcpRejected;
        for (const reason of new Set([...rejectReasons, ...Object.keys(rejected)])) this.inc({ reason }, rejected[reason] ?? 0);
      },
    });
    new Gauge({
      name: 'sipcapture_tcp_connections',
      help: 'Open TCP/TLS connections, per listener.',
      labelNames: ['listener'],
      registers: reg,
      collect() {
        this.reset();
        for (const [listener, n] of Object.entries(ctx.tcpConnections?.() ?? {})) this.set({ listener }, n);
      },
    });
    new Counter({
      name: 'sipcapture_hook_calls_total',
      help: 'nonsip_hook outcomes: continue (1), handled (0), rejected (<0), bad_return, error, timeout, overload, unavailable.',
      labelNames: ['result'],
      registers: reg,
      collect() {
        this.reset();
        for (const [result, n] of Object.entries(stats.snapshot().hook)) this.inc({ result }, n);
      },
    });
    new Gauge({
      name: 'sipcapture_hook_queue_packets',
      help: 'Packets waiting for the nonsip_hook (0 without a hook).',
      registers: reg,
      collect() {
        this.set(ctx.hookQueueDepth() ?? 0);
      },
    });
    new Gauge({
      name: 'sipcapture_queue_rows',
      help: 'Rows waiting for the database (batched, ready or being written), per database.',
      labelNames: ['db'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of ctx.stores()) this.set({ db: s.db }, s.queueDepth);
      },
    });
    new Gauge({
      name: 'sipcapture_queue_bytes',
      help: 'Estimated bytes of the rows waiting for the database (what queue_max_bytes bounds), per database.',
      labelNames: ['db'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of ctx.stores()) if (s.queueBytes !== undefined) this.set({ db: s.db }, s.queueBytes);
      },
    });
    new Gauge({
      name: 'sipcapture_memory_shedding',
      help: '1 while packets are dropped at ingress because RSS is above memory_limit_mb (0 without a limit).',
      registers: reg,
      collect() {
        this.set(ctx.memory?.()?.shedding === true ? 1 : 0);
      },
    });
    new Gauge({
      name: 'sipcapture_memory_limit_bytes',
      help: 'memory_limit_mb in bytes (0 = no limit).',
      registers: reg,
      collect() {
        this.set(ctx.memory?.()?.limitBytes ?? 0);
      },
    });
    new Gauge({
      name: 'sipcapture_batches_in_flight',
      help: 'Batches being written right now, per database.',
      labelNames: ['db'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of ctx.stores()) this.set({ db: s.db }, s.inFlightBatches);
      },
    });
    new Gauge({
      name: 'sipcapture_store_failing',
      help: '1 while inserts into this database fail (from the first failure to the next success).',
      labelNames: ['db'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of ctx.stores()) this.set({ db: s.db }, s.failing ? 1 : 0);
      },
    });
    new Gauge({
      name: 'sipcapture_spool_bytes',
      help: 'Bytes in the on-disk spool, per database (only databases with a spool).',
      labelNames: ['db'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of ctx.stores()) if (s.spoolBytes !== undefined) this.set({ db: s.db }, s.spoolBytes);
      },
    });
    new Gauge({
      name: 'sipcapture_pipeline_threads',
      help: 'Pipeline threads running (pipeline_threads); 0 when packets become rows on the main thread.',
      registers: reg,
      collect() {
        this.set(ctx.pipelineThreads?.()?.threads ?? 0);
      },
    });
    new Gauge({
      name: 'sipcapture_pipeline_queued_bytes',
      help: 'Bytes of HEP packets handed to the pipeline threads and not yet turned into rows (bounded; past the bound they are counted queue_full).',
      registers: reg,
      collect() {
        this.set(ctx.pipelineThreads?.()?.queuedBytes ?? 0);
      },
    });
    new Counter({
      name: 'sipcapture_pipeline_thread_restarts_total',
      help: 'Pipeline threads started again after one died (what it held is counted pipeline_thread_failed).',
      registers: reg,
      collect() {
        this.reset();
        this.inc(ctx.pipelineThreads?.()?.restarts ?? 0);
      },
    });
    new Gauge({
      name: 'sipcapture_tcp_connections_paused',
      help: "TCP/TLS connections not read right now: the writers' queues are three quarters full, or a receive thread read as far ahead as they have room for (the agents wait; nothing is dropped).",
      registers: reg,
      collect() {
        this.reset();
        const b = ctx.tcpBackpressure?.();
        if (b !== undefined) this.set(b.pausedConnections);
      },
    });
    new Counter({
      name: 'sipcapture_tcp_backpressure_episodes_total',
      help: 'Times TCP/TLS reading was paused because the writers fell behind.',
      registers: reg,
      collect() {
        this.reset();
        const b = ctx.tcpBackpressure?.();
        if (b !== undefined) this.inc(b.episodes);
      },
    });
    new Counter({
      name: 'sipcapture_spool_rejected_full_total',
      help: 'Batches the on-disk spool refused because it was full (spool_max_bytes, or the disk); their rows are counted spool_full. Per database.',
      labelNames: ['db'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of ctx.stores()) if (s.spool !== undefined) this.inc({ db: s.db }, s.spool.rejectedFull);
      },
    });
    new Counter({
      name: 'sipcapture_spool_corrupt_records_total',
      help: 'Damaged spool records skipped at replay (logged; never replayed as garbage), per database.',
      labelNames: ['db'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of ctx.stores()) if (s.spool !== undefined) this.inc({ db: s.db }, s.spool.corruptRecords);
      },
    });
    new Counter({
      name: 'sipcapture_spool_already_committed_rows_total',
      help: 'Rows of replayed spool records found already committed by an earlier run (their marker row exists) and not written again: not a drop, the rows are in the database. Per database.',
      labelNames: ['db'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of ctx.stores()) if (s.spool !== undefined) this.inc({ db: s.db }, s.spool.alreadyCommittedRows);
      },
    });
    new Counter({
      name: 'sipcapture_table_date_clamped_total',
      help: "Packets whose timestamp was outside table_date_window_days: their table was named by today's date instead.",
      registers: reg,
      collect() {
        this.reset();
        const r = ctx.routing?.();
        if (r !== undefined) this.inc(r.tableDateClamped);
      },
    });
    new Counter({
      name: 'sipcapture_hash_source_empty_total',
      help: 'mt_mode hash with an empty hash_source value: the first table of the capture mode was used.',
      registers: reg,
      collect() {
        this.reset();
        const r = ctx.routing?.();
        if (r !== undefined) this.inc(r.emptyHashSource);
      },
    });
    new Counter({
      name: 'sipcapture_text_values_changed_total',
      help: 'Text values the store changed to fit the database, per database and change: truncated (cut to the column width), nul_stripped (NUL characters removed), invalid_replaced (bytes that were not UTF-8, or unpaired surrogates, replaced by U+FFFD).',
      labelNames: ['db', 'change'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of ctx.stores()) {
          if (s.values === undefined) continue;
          this.inc({ db: s.db, change: 'truncated' }, s.values.truncatedValues);
          this.inc({ db: s.db, change: 'nul_stripped' }, s.values.nulStripped);
          this.inc({ db: s.db, change: 'invalid_replaced' }, s.values.invalidReplaced);
        }
      },
    });
    new Counter({
      name: 'sipcapture_homer7_partitions_created_total',
      help: 'HOMER 7 partitions this daemon created (ahead, or on demand for a row), per database.',
      labelNames: ['db'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of ctx.stores()) if (s.homer7 !== undefined) this.inc({ db: s.db }, s.homer7.partitionsCreated);
      },
    });
    new Counter({
      name: 'sipcapture_homer7_fallback_rows_total',
      help: 'HOMER 7 rows whose own partition could not be created (dated beyond the on-demand window, or overlapping a partition of another step): stored in the overlapping or the DEFAULT partition, per database.',
      labelNames: ['db'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of ctx.stores()) if (s.homer7 !== undefined) this.inc({ db: s.db }, s.homer7.fallbackRows);
      },
    });
    new Counter({
      name: 'sipcapture_retention_dropped_tables_total',
      help: 'Tables and partitions retention dropped, per database, kind (call, registration, default, rtcp, logs, report) and reason (age: older than its retention_days; size: the size guard).',
      labelNames: ['db', 'kind', 'reason'],
      registers: reg,
      collect() {
        this.reset();
        for (const [key, n] of ctx.retention?.().dropped ?? []) {
          const [db = '', kind = '', reason = ''] = key.split('|');
          this.inc({ db, kind, reason }, n);
        }
      },
    });
    new Counter({
      name: 'sipcapture_retention_runs_total',
      help: 'Retention passes over one database, by result: ok, failed (logged), skipped (another daemon held the retention lock).',
      labelNames: ['result'],
      registers: reg,
      collect() {
        this.reset();
        const r = ctx.retention?.().runs;
        if (r === undefined) return;
        this.inc({ result: 'ok' }, r.ok);
        this.inc({ result: 'failed' }, r.failed);
        this.inc({ result: 'skipped' }, r.skipped);
      },
    });
    new Counter({
      name: 'sipcapture_udp_kernel_drops_total',
      help: 'Datagrams the kernel dropped on a UDP listener because its receive buffer was full, before sipcapture could read them (the drops column of /proc/net/udp; Linux only). Raise udp_recv_buffer and net.core.rmem_max, or add CPU.',
      labelNames: ['listener'],
      registers: reg,
      collect() {
        this.reset();
        for (const [listener, n] of Object.entries(ctx.udpKernelDrops?.() ?? {})) this.inc({ listener }, n);
      },
    });
    new Gauge({
      name: 'sipcapture_dedup_entries',
      help: 'SIP packets remembered by dedup right now (0 when dedup is off).',
      registers: reg,
      collect() {
        this.reset();
        const d = ctx.dedup?.() ?? null;
        if (d !== null) this.set(d.entries);
      },
    });
    new Counter({
      name: 'sipcapture_dedup_evicted_total',
      help: 'dedup entries forgotten before their window ended because dedup_max_entries was reached (copies may then be stored twice).',
      registers: reg,
      collect() {
        this.reset();
        const d = ctx.dedup?.() ?? null;
        if (d !== null) this.inc(d.evicted);
      },
    });
    const batchSeconds = new Histogram({
      name: 'sipcapture_db_batch_duration_seconds',
      help: 'Duration of one database batch write attempt, per database and outcome (ok, failed).',
      labelNames: ['db', 'outcome'],
      buckets: [...BATCH_SECONDS_BUCKETS],
      registers: reg,
    });
    stats.onBatchWritten((db, _rows, seconds, ok) => batchSeconds.observe({ db, outcome: ok ? 'ok' : 'failed' }, seconds));
    const reloads = opts.reloads;
    if (reloads !== undefined) {
      new Counter({
        name: 'sipcapture_config_reloads_total',
        help: 'Configuration reloads (SIGHUP, sipcapture.reload), by result.',
        labelNames: ['result'],
        registers: reg,
        collect() {
          this.reset();
          const r = reloads();
          this.inc({ result: 'ok' }, r.ok);
          this.inc({ result: 'failed' }, r.failed);
        },
      });
    }
    registerForwardMetrics(this.registry, ctx);
    if (ctx.heplify != null) registerHeplifyMetrics(this.registry, ctx.heplify);
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
