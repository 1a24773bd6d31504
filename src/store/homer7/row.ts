/**
 * The HOMER 7 row of one captured message, as heplify-server writes it into `hep_proto_*`
 * (docs/homer7.md): `sid`, `create_date`, `protocol_header` and `data_header` (JSON text) and
 * `raw` (the payload as UTF-8 text). It is derived from the Homer 5 row the pipeline already
 * built, so batching, retries and the spool carry one row shape for both schemas.
 */
import type { ReportRow, SipCaptureRow, TableKind } from '../../capture/rows.js';
import { parseSip } from '../../sip/parser.js';
import { customField } from '../../sip/named-headers.js';
import { utf8TextBytes } from './raw-text.js';
import { DATA_HEADER_NAMES, DEFAULT_DATA_HEADER } from '../../config/homer7-fields.js';

export { DEFAULT_DATA_HEADER };

export interface Homer7Row {
  /** The parent table: hep_proto_1_call, …, hep_proto_100_default. */
  parent: Homer7Parent;
  sid: string;
  /** Microseconds since 1970 (the HEP time, else the receive time). */
  createUs: number;
  protocolHeader: string;
  dataHeader: string;
  /** The payload as UTF-8 text bytes: NUL and invalid UTF-8 removed, as heplify-server does. */
  raw: Buffer;
}

/** Every parent table sipcapture writes, in creation order. */
export const HOMER7_PARENTS = [
  'hep_proto_1_call',
  'hep_proto_1_registration',
  'hep_proto_1_default',
  'hep_proto_5_default',
  'hep_proto_35_default',
  'hep_proto_100_default',
] as const;
export type Homer7Parent = (typeof HOMER7_PARENTS)[number];

/** SIP parents: heplify-server's profile by CSeq method. */
export function isSipParent(parent: Homer7Parent): boolean {
  return parent.startsWith('hep_proto_1_');
}

const CALL_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'UPDATE', 'PRACK', 'REFER', 'INFO', 'NOTIFY']);

/** The parent of a SIP row by the method of its CSeq value ("1 INVITE"). */
export function sipParentOf(cseq: string): Homer7Parent {
  const m = /(\S+)\s*$/.exec(cseq)?.[1] ?? '';
  if (CALL_METHODS.has(m)) return 'hep_proto_1_call';
  if (m === 'REGISTER') return 'hep_proto_1_registration';
  return 'hep_proto_1_default';
}

type FieldReader = (row: SipCaptureRow, headers: () => HeaderLookup) => string;
type HeaderLookup = (name: string) => string;

/** Every name heplify-server's `SIPHeader` accepts, and where its value comes from here. */
const DATA_HEADER_FIELDS: Readonly<Record<string, FieldReader>> = {
  ruri_user: (r) => r.ruri_user,
  ruri_domain: (r) => r.ruri_domain,
  from_user: (r) => r.from_user,
  from_domain: (r) => r.from_domain,
  from_tag: (r) => r.from_tag,
  to_user: (r) => r.to_user,
  to_domain: (r) => r.to_domain,
  to_tag: (r) => r.to_tag,
  callid: (r) => r.callid,
  cseq: (r) => r.cseq,
  method: (r) => r.method,
  user_agent: (r) => r.user_agent,
  via: (r) => r.via_1,
  contact_user: (r) => r.contact_user,
  contact_domain: (r) => r.contact_ip,
  pid_user: (r) => r.pid_user,
  auth_user: (r) => r.auth_user,
  content_type: (r) => r.content_type,
  reason: (r) => r.reason,
  diversion: (r) => r.diversion,
  callid_aleg: (r) => r.callid_aleg,
  // Not in the Homer 5 row: read from the message itself, only when configured.
  server: (_r, headers) => headers()('Server'),
  expires: (_r, headers) => headers()('Expires'),
};

// Every allowed name has a reader: checked once at load.
for (const n of DATA_HEADER_NAMES) if (!Object.hasOwn(DATA_HEADER_FIELDS, n)) throw new Error(`homer7/row.ts: no reader for data_header ${n}`);

/** HEP payload type of a report row, from its Homer 5 `type` column (capture/report-row.ts). */
const PAYLOAD_TYPE_OF_REPORT: ReadonlyMap<number, number> = new Map([
  [3, 5],
  [2, 32],
  [34, 34],
  [35, 35],
  [4, 99],
  [5, 100],
]);

/** heplify-server's `proto` word in report rows' data_header. */
function protoWord(payloadType: number): string {
  switch (payloadType) {
    case 5:
      return 'rtcp';
    case 34:
      return 'rtpagent';
    case 35:
      return 'rtcpxr';
    case 100:
      return 'log';
    default:
      return String(payloadType);
  }
}

/**
 * IP protocol number of each Kamailio transport of the `proto` column (capture/message.ts);
 * 22 is the "TLS" marker HEP senders use, which is how a row gets TLS at all.
 */
export const IP_PROTOCOL_OF_TRANSPORT: ReadonlyMap<number, number> = new Map([
  [1, 17],
  [2, 6],
  [3, 22],
  [4, 132],
]);

function ipProtocolOf(kamailioProto: number): number {
  return IP_PROTOCOL_OF_TRANSPORT.get(kamailioProto) ?? 0;
}

/** The capture agent id: what follows the last `:` of `node` (capture_node:captid), else "0". */
function captureIdOf(node: string): string {
  const i = node.lastIndexOf(':');
  const id = i >= 0 ? node.slice(i + 1) : '';
  return /^\d+$/.test(id) ? id : '0';
}

const PLAIN_JSON = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const NEEDS_CLEANING = /[\0\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A JSON string literal PostgreSQL's jsonb accepts: NUL removed (jsonb refuses \u0000;
 * heplify-server removes NUL before parsing, so its values never hold one) and lone surrogates
 * replaced by U+FFFD.
 */
export function jsonString(s: string): string {
  if (PLAIN_JSON.test(s)) return `"${s}"`;
  const clean = NEEDS_CLEANING.test(s) ? s.replaceAll('\0', '').replace(LONE_SURROGATE, '\ufffd') : s;
  return JSON.stringify(clean);
}

export interface Homer7RowOptions {
  /** data_header keys of SIP rows, in order (names from DATA_HEADER_NAMES). */
  dataHeader: readonly string[];
}

function protocolHeader(
  r: Pick<ReportRow, 'family' | 'proto' | 'source_ip' | 'destination_ip' | 'source_port' | 'destination_port' | 'micro_ts' | 'node'>,
  payloadType: number,
  captureId: string,
  correlationId: string,
): string {
  const sec = Math.floor(r.micro_ts / 1e6);
  // The auth key (heplify-server's capturePass) is never stored: it is a credential.
  return (
    `{"protocolFamily":${r.family},"protocol":${ipProtocolOf(r.proto)},"srcIp":${jsonString(r.source_ip)},"dstIp":${jsonString(r.destination_ip)},` +
    `"srcPort":${r.source_port},"dstPort":${r.destination_port},"timeSeconds":${sec},"timeUseconds":${r.micro_ts - sec * 1e6},` +
    `"payloadType":${payloadType},"captureId":${jsonString(captureId)},"correlation_id":${jsonString(correlationId)}}`
  );
}

/** Builds the HOMER 7 row of a Homer 5 row. */
export function homer7Row(kind: TableKind, row: SipCaptureRow | ReportRow, opts: Homer7RowOptions): Homer7Row {
  const captureId = captureIdOf(row.node);
  if (kind === 'sip') {
    const r = row as SipCaptureRow;
    // heplify-server: the HEP correlation id, else the A-leg header's value, else the Call-ID.
    // The row's correlation_id is the HEP one, or the Call-ID when the packet had none.
    const correlationId = r.correlation_id !== r.callid ? r.correlation_id : r.callid_aleg !== '' ? r.callid_aleg : r.callid;
    let lookup: HeaderLookup | null = null;
    const headers = (): HeaderLookup => {
      if (lookup === null) {
        const parsed = parseSip(r.msg);
        lookup = parsed.ok ? (name) => customField(parsed.message, name) : () => '';
      }
      return lookup;
    };
    let data = '{';
    for (let i = 0; i < opts.dataHeader.length; i++) {
      const name = opts.dataHeader[i]!;
      const read = DATA_HEADER_FIELDS[name];
      data += `${i > 0 ? ',' : ''}"${name}":${jsonString(read === undefined ? '' : read(r, headers))}`;
    }
    return {
      parent: sipParentOf(r.cseq),
      sid: r.callid,
      createUs: r.micro_ts,
      protocolHeader: protocolHeader(r, 1, captureId, correlationId),
      dataHeader: data + '}',
      raw: utf8TextBytes(r.msg),
    };
  }
  const payloadType = PAYLOAD_TYPE_OF_REPORT.get(row.type) ?? row.type;
  return {
    parent: kind === 'rtcp' ? 'hep_proto_5_default' : kind === 'logs' ? 'hep_proto_100_default' : 'hep_proto_35_default',
    sid: row.correlation_id,
    createUs: row.micro_ts,
    protocolHeader: protocolHeader(row, payloadType, captureId, row.correlation_id),
    dataHeader: `{"node":${jsonString(captureId)},"proto":${jsonString(protoWord(payloadType))}}`,
    raw: utf8TextBytes(row.msg),
  };
}
