/**
 * The middle of the pipeline: CapturedMessage → (capture switch) → (dedup) → SIP parse → row → route →
 * the writer of the chosen database. Every message that does not reach a writer is counted
 * here under one DropReason; the writers count what happens after.
 */
import type { CapturedMessage, MessageSink } from '../capture/message.js';
import { buildReportRow, nonSipTarget } from '../capture/report-row.js';
import { buildSipRow, hashSourcesOf, type SipRowOptions } from '../capture/sip-row.js';
import type { CaptureState } from './capture-state.js';
import { DropReason } from '../telemetry/drop-reasons.js';
import type { PacketCounts } from '../telemetry/stats.js';
import type { Router } from '../route/router.js';
import { parseSip, type SipParseOptions } from '../sip/parser.js';
import { routeFactsOf } from '../route/facts.js';
import type { DuplicateCheck } from './dedup.js';
import type { TableKind } from '../capture/rows.js';
import type { ReportRow, SipCaptureRow } from '../capture/rows.js';
import type { ForwardSet } from '../forward/forward-set.js';
import type { HeplifyCounters } from '../telemetry/heplify-counters.js';

/** Where the pipeline hands a row: a database's writer, or a pipeline thread's collector. */
export interface RowSink {
  enqueue(table: string, kind: TableKind, row: SipCaptureRow | ReportRow): void;
}

export interface PipelineOptions {
  stats: PacketCounts;
  state: CaptureState;
  router: Router;
  rowOptions: SipRowOptions;
  /** The writer for a capture mode's db_url. */
  writerFor(dbUrl: string): RowSink;
  /** db_url of the default capture mode (non-SIP rows go there, as in Kamailio); null when there is none. */
  defaultDbUrl: string | null;
  /** De-duplication of SIP copies (dedup.ts); null or absent when `dedup` is off. */
  dedup?: DuplicateCheck | null;
  /** The memory guard (control/memory-guard.ts); raw capture messages are shed here. */
  guard?: { readonly shedding: boolean } | null;
  /** The `forward` destinations, or null (or absent) without any. */
  forward?: ForwardSet | null;
  /** heplify-server compatible counts (heplify_metrics: 1), or null / absent. */
  heplify?: HeplifyCounters | null;
}

const SIP_PROTO_TYPE = 1;
/** Parse options for capture_bad_msgs 1 / 0, made once (parsing runs per message). */
const LENIENT: SipParseOptions = { lenient: true };
const STRICT: SipParseOptions = { lenient: false };

export class Pipeline implements MessageSink {
  constructor(private opts: PipelineOptions) {}

  /** Routing and row options from a reload (control/reload.ts); the next message uses them. */
  reconfigure(next: Partial<Pick<PipelineOptions, 'router' | 'rowOptions' | 'defaultDbUrl' | 'dedup'>>): void {
    this.opts = { ...this.opts, ...next };
  }

  accept(msg: CapturedMessage): void {
    const { stats, state } = this.opts;
    if (!state.captureOn) {
      stats.drop(DropReason.CAPTURE_OFF, `${msg.listener}: capture_on is 0`);
      return;
    }
    if (this.opts.guard?.shedding === true) {
      stats.drop(DropReason.MEMORY_LIMIT, `${msg.listener}: daemon memory above memory_limit_mb`);
      return;
    }
    const heplify = this.opts.heplify ?? null;
    const nodeId = heplify === null ? '' : String(msg.hepTime?.captureId ?? 0);
    heplify?.packet(nodeId, msg.protoType, msg.payload);
    // Forwarded as received, before dedup and parsing: the next tier decides what to keep.
    const forward = this.opts.forward ?? null;
    if (forward !== null) {
      const taken = forward.offerAll(msg);
      if (this.opts.router.storesNothing && !forward.hasRuleBound) {
        // A pure relay: nothing to store, so a message no destination took is the one loss to count.
        if (taken === 0) stats.drop(DropReason.FILTERED, `${msg.listener}: no forward destination takes it (hep_types, methods, sources)`);
        return;
      }
    }
    if (msg.protoType !== SIP_PROTO_TYPE) {
      this.acceptNonSip(msg);
      return;
    }
    // Before parsing, which costs more than the hash; HEP and raw capture alike.
    const dedup = this.opts.dedup;
    if (dedup != null && dedup.isDuplicate(msg)) {
      stats.drop(DropReason.DUPLICATE, `${msg.listener} ${msg.srcIp}:${msg.srcPort}: copy of a packet seen within ${dedup.windowMs} ms (dedup ${dedup.mode})`);
      return;
    }
    const parsed = parseSip(msg.payload, this.opts.rowOptions.captureBadMsgs ? LENIENT : STRICT);
    if (!parsed.ok) {
      stats.drop(DropReason.SIP_MALFORMED, `${msg.listener} ${msg.srcIp}:${msg.srcPort}: ${parsed.error.message}`);
      return;
    }
    const built = buildSipRow(msg, parsed.message, this.opts.rowOptions);
    if (!built.ok) {
      stats.drop(DropReason.SIP_MALFORMED, `${msg.listener} ${msg.srcIp}:${msg.srcPort}: ${built.message}`);
      return;
    }
    const row = built.row;
    heplify?.sip(nodeId, row.callid, parsed.message.method(), parsed.message.cseqMethod());
    const dest = this.opts.router.route(
      routeFactsOf(parsed.message),
      hashSourcesOf(row),
      Math.floor(row.micro_ts / 1e6),
    );
    const forwarded = dest.forward !== undefined && forward !== null ? forward.offerTo(dest.forward, msg) : 0;
    if ('drop' in dest) {
      // A rule that forwards and does not store has not lost the message.
      if (dest.forward === undefined) stats.drop(dest.drop, `${msg.listener}: ${dest.detail}`);
      else if (forwarded === 0) stats.drop(dest.drop, `${msg.listener}: ${dest.detail}; no forward destination takes it`);
      return;
    }
    this.opts.writerFor(dest.mode.db_url).enqueue(dest.table, 'sip', row);
  }

  /** RTCP, QoS reports and logs go to their fixed tables. */
  private acceptNonSip(msg: CapturedMessage): void {
    const { stats } = this.opts;
    const target = nonSipTarget(msg.protoType);
    if (target === null) {
      stats.drop(DropReason.UNSUPPORTED_PROTO_TYPE, `${msg.listener}: HEP protocol type ${msg.protoType} has no table`);
      return;
    }
    const dbUrl = this.opts.defaultDbUrl;
    if (dbUrl === null) {
      stats.drop(DropReason.NON_SIP_UNSTORABLE, `${msg.listener}: no default capture mode for ${target.table}`);
      return;
    }
    const built = buildReportRow(msg, target.type, this.opts.rowOptions);
    if (!built.ok) {
      stats.drop(DropReason.NON_SIP_UNSTORABLE, `${msg.listener}: ${built.message}`);
      return;
    }
    this.opts.writerFor(dbUrl).enqueue(target.table, target.kind, built.row);
  }
}
