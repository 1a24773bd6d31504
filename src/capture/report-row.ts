/**
 * Rows for non-SIP HEP payloads: RTCP (type 5), QoS reports (32, 34, 35, 99) and logs (100),
 * stored in the fixed tables Kamailio uses with its 12-column layout, and the
 * row of the hook's report_capture().
 */
import type { CapturedMessage } from './message.js';
import type { ReportRow, TableKind } from './rows.js';
import { formatRowDate, type SipRowOptions } from './sip-row.js';

export interface NonSipTarget {
  table: string;
  kind: TableKind;
  /** Value of the `type` column. */
  type: number;
}

const TARGETS: ReadonlyMap<number, NonSipTarget> = new Map([
  [5, { table: 'rtcp_capture', kind: 'rtcp', type: 3 }],
  [32, { table: 'report_capture', kind: 'report', type: 2 }],
  // Difference: Kamailio sends 34 and 35 (RTP agents' MOS full/short reports) to the SIP parser,
  // which loses them; they are reports, so they go where 32 and 99 go, typed by their HEP type.
  [34, { table: 'report_capture', kind: 'report', type: 34 }],
  [35, { table: 'report_capture', kind: 'report', type: 35 }],
  [99, { table: 'report_capture', kind: 'report', type: 4 }],
  [100, { table: 'logs_capture', kind: 'logs', type: 5 }],
]);

/** Where a HEP protocol type is stored, or null when it has no table. */
export function nonSipTarget(protoType: number): NonSipTarget | null {
  return TARGETS.get(protoType) ?? null;
}

export type ReportRowResult = { ok: true; row: ReportRow } | { ok: false; message: string };

export function buildReportRow(
  msg: CapturedMessage,
  type: number,
  opts: Pick<SipRowOptions, 'captureNode' | 'dateTimeZone'>,
): ReportRowResult {
  if (msg.correlationId === null || msg.correlationId === '') {
    // Kamailio: "no correlation id defined" — the row would be unfindable in HOMER.
    return { ok: false, message: `HEP protocol type ${msg.protoType} without correlation id` };
  }
  return { ok: true, row: reportRow(msg, type, opts, msg.correlationId, Buffer.from(msg.payload)) };
}

/**
 * The 12-column row for `report_capture(table, cid, data)`: `cid` when non-empty,
 * else the packet's correlation id, else ''; `data` when non-empty, else the payload. Time and
 * node come from this packet (Kamailio takes them from the previous HEP packet).
 */
export function buildReportCaptureRow(
  msg: CapturedMessage,
  type: number,
  opts: Pick<SipRowOptions, 'captureNode' | 'dateTimeZone'>,
  cid: string,
  data: Buffer | string,
): ReportRow {
  const correlationId = cid !== '' ? cid : (msg.correlationId ?? '');
  const body = data.length > 0 ? Buffer.from(data) : Buffer.from(msg.payload);
  return reportRow(msg, type, opts, correlationId, body);
}

function reportRow(
  msg: CapturedMessage,
  type: number,
  opts: Pick<SipRowOptions, 'captureNode' | 'dateTimeZone'>,
  correlationId: string,
  body: Buffer,
): ReportRow {
  const t = msg.hepTime;
  const microTs = t !== null ? t.sec * 1e6 + t.usec : msg.receivedAtUs;
  // Report rows take `date` from tv_sec itself, not from micro_ts.
  const dateSec = t !== null ? t.sec : Math.floor(msg.receivedAtUs / 1e6);
  return {
    date: formatRowDate(dateSec * 1e6, opts.dateTimeZone),
    micro_ts: microTs,
    correlation_id: correlationId,
    source_ip: msg.srcIp,
    source_port: msg.srcPort,
    destination_ip: msg.dstIp,
    destination_port: msg.dstPort,
    proto: msg.proto,
    family: msg.family,
    type,
    node: t !== null ? `${opts.captureNode}:${t.captureId}` : opts.captureNode,
    msg: body,
  };
}
