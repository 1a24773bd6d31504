/**
 * Row shapes written to the database. Column names and order are Kamailio's (spec §3.2, §8.5):
 * `SIP_CAPTURE_COLUMNS` is the 44-column `sip_capture` layout, `REPORT_COLUMNS` the 12-column
 * layout shared by `rtcp_capture`, `report_capture` and `logs_capture`.
 */

export interface SipCaptureRow {
  /** `YYYY-MM-DD HH:MM:SS` of floor(micro_ts / 1e6) in the configured time zone. */
  date: string;
  micro_ts: number;
  method: string;
  reply_reason: string;
  ruri: string;
  ruri_user: string;
  ruri_domain: string;
  from_user: string;
  from_domain: string;
  from_tag: string;
  to_user: string;
  to_domain: string;
  to_tag: string;
  pid_user: string;
  contact_user: string;
  auth_user: string;
  callid: string;
  callid_aleg: string;
  via_1: string;
  via_1_branch: string;
  cseq: string;
  diversion: string;
  reason: string;
  content_type: string;
  auth: string;
  user_agent: string;
  source_ip: string;
  source_port: number;
  destination_ip: string;
  destination_port: number;
  contact_ip: string;
  contact_port: number;
  originator_ip: string;
  originator_port: number;
  correlation_id: string;
  custom_field1: string;
  custom_field2: string;
  custom_field3: string;
  proto: number;
  family: number;
  rtp_stat: string;
  type: number;
  node: string;
  /** The payload byte for byte (never modified). */
  msg: Buffer;
}

/** Kamailio's insertion order (spec §3.2). */
export const SIP_CAPTURE_COLUMNS = [
  'date',
  'micro_ts',
  'method',
  'reply_reason',
  'ruri',
  'ruri_user',
  'from_user',
  'from_tag',
  'to_user',
  'to_tag',
  'pid_user',
  'contact_user',
  'auth_user',
  'callid',
  'callid_aleg',
  'via_1',
  'via_1_branch',
  'cseq',
  'reason',
  'content_type',
  'auth',
  'user_agent',
  'source_ip',
  'source_port',
  'destination_ip',
  'destination_port',
  'contact_ip',
  'contact_port',
  'originator_ip',
  'originator_port',
  'proto',
  'family',
  'rtp_stat',
  'type',
  'node',
  'correlation_id',
  'from_domain',
  'to_domain',
  'ruri_domain',
  'diversion',
  'msg',
  'custom_field1',
  'custom_field2',
  'custom_field3',
] as const satisfies readonly (keyof SipCaptureRow)[];

/** Integer columns of sip_capture; every other column is text, `msg` is bytes. */
export const SIP_CAPTURE_INT_COLUMNS: ReadonlySet<keyof SipCaptureRow> = new Set([
  'micro_ts',
  'source_port',
  'destination_port',
  'contact_port',
  'originator_port',
  'proto',
  'family',
  'type',
]);

/** Integer columns of the rtcp / report / logs tables. */
export const REPORT_INT_COLUMNS: ReadonlySet<keyof ReportRow> = new Set([
  'micro_ts',
  'source_port',
  'destination_port',
  'proto',
  'family',
  'type',
]);

/** rtcp_capture / report_capture / logs_capture row (spec §8.5–§8.6). */
export interface ReportRow {
  date: string;
  micro_ts: number;
  correlation_id: string;
  source_ip: string;
  source_port: number;
  destination_ip: string;
  destination_port: number;
  proto: number;
  family: number;
  type: number;
  node: string;
  msg: Buffer;
}

export const REPORT_COLUMNS = [
  'date',
  'micro_ts',
  'correlation_id',
  'source_ip',
  'source_port',
  'destination_ip',
  'destination_port',
  'proto',
  'family',
  'type',
  'node',
  'msg',
] as const satisfies readonly (keyof ReportRow)[];

/** Which layout a table has. */
export type TableKind = 'sip' | 'rtcp' | 'report' | 'logs';

export type RowOf<K extends TableKind> = K extends 'sip' ? SipCaptureRow : ReportRow;

/**
 * Copies a row's values into `out` in column order. Named property reads: a loop of
 * `row[columns[i]]` is a megamorphic keyed load per value, ~15× slower on these 44-property rows
 * (bench/copy-encode.bench.ts), and the stores read every value of every row.
 */
export type ColumnValuesFiller = (row: SipCaptureRow | ReportRow, out: unknown[]) => void;

function fillSipValues(row: SipCaptureRow | ReportRow, out: unknown[]): void {
  const r = row as SipCaptureRow;
  out[0] = r.date;
  out[1] = r.micro_ts;
  out[2] = r.method;
  out[3] = r.reply_reason;
  out[4] = r.ruri;
  out[5] = r.ruri_user;
  out[6] = r.from_user;
  out[7] = r.from_tag;
  out[8] = r.to_user;
  out[9] = r.to_tag;
  out[10] = r.pid_user;
  out[11] = r.contact_user;
  out[12] = r.auth_user;
  out[13] = r.callid;
  out[14] = r.callid_aleg;
  out[15] = r.via_1;
  out[16] = r.via_1_branch;
  out[17] = r.cseq;
  out[18] = r.reason;
  out[19] = r.content_type;
  out[20] = r.auth;
  out[21] = r.user_agent;
  out[22] = r.source_ip;
  out[23] = r.source_port;
  out[24] = r.destination_ip;
  out[25] = r.destination_port;
  out[26] = r.contact_ip;
  out[27] = r.contact_port;
  out[28] = r.originator_ip;
  out[29] = r.originator_port;
  out[30] = r.proto;
  out[31] = r.family;
  out[32] = r.rtp_stat;
  out[33] = r.type;
  out[34] = r.node;
  out[35] = r.correlation_id;
  out[36] = r.from_domain;
  out[37] = r.to_domain;
  out[38] = r.ruri_domain;
  out[39] = r.diversion;
  out[40] = r.msg;
  out[41] = r.custom_field1;
  out[42] = r.custom_field2;
  out[43] = r.custom_field3;
}

function fillReportValues(r: SipCaptureRow | ReportRow, out: unknown[]): void {
  out[0] = r.date;
  out[1] = r.micro_ts;
  out[2] = r.correlation_id;
  out[3] = r.source_ip;
  out[4] = r.source_port;
  out[5] = r.destination_ip;
  out[6] = r.destination_port;
  out[7] = r.proto;
  out[8] = r.family;
  out[9] = r.type;
  out[10] = r.node;
  out[11] = r.msg;
}

// The fillers must follow the column lists exactly: checked once at load, so an edit of one
// without the other fails every test at once instead of shifting columns silently.
for (const [columns, fill] of [
  [SIP_CAPTURE_COLUMNS, fillSipValues],
  [REPORT_COLUMNS, fillReportValues],
] as const) {
  const probe = Object.fromEntries(columns.map((c) => [c, c])) as unknown as SipCaptureRow;
  const out: unknown[] = [];
  fill(probe, out);
  if (out.length !== columns.length || columns.some((c, i) => out[i] !== c)) throw new Error('rows.ts: a column values filler does not match its column list');
}

/** The values filler of a table kind, for `columns` in the order of SIP_CAPTURE_COLUMNS / REPORT_COLUMNS. */
export function columnValuesFiller(kind: TableKind): ColumnValuesFiller {
  return kind === 'sip' ? fillSipValues : fillReportValues;
}
