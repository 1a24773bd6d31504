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
