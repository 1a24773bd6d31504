/**
 * Every packet that does not become a row is counted under exactly one of these reasons.
 * They are the label values of the drop counter in metrics and the `reason` field in logs.
 */
export const DropReason = {
  /** HEP bytes that do not decode (bad magic, lengths, missing chunks …). */
  HEP_MALFORMED: 'hep_malformed',
  /** A HEP listener received data while hep_capture_on = 0. */
  HEP_CAPTURE_OFF: 'hep_capture_off',
  /** capture_on = 0 (toggled by sipcapture.status). */
  CAPTURE_OFF: 'capture_off',
  /** Payload is not a SIP message we can store (unparseable first line, missing required headers, bad URIs). */
  SIP_MALFORMED: 'sip_malformed',
  /** A HEP protocol type that has no table (not SIP, RTCP, report or log). */
  UNSUPPORTED_PROTO_TYPE: 'unsupported_proto_type',
  /** A non-SIP HEP payload (RTCP/report/log) that cannot be stored (e.g. no correlation id). */
  NON_SIP_UNSTORABLE: 'non_sip_unstorable',
  /** A route rule with store:false, or a raw-capture port filter. */
  FILTERED: 'filtered',
  /** The table template produced an invalid name. */
  BAD_TABLE_NAME: 'bad_table_name',
  /** The writer's queue for a database was full. */
  QUEUE_FULL: 'queue_full',
  /** The database rejected the row, retries were exhausted and it could not be spooled. */
  DB_ERROR: 'db_error',
  /** TCP stream bytes that are not a HEP3 frame (skipped up to the next `HEP3` magic), or a frame cut off by the close. */
  TCP_FRAMING: 'tcp_framing',
  /** The daemon was shutting down and the row could not be written in time. */
  SHUTDOWN: 'shutdown',
} as const;

export type DropReasonValue = (typeof DropReason)[keyof typeof DropReason];
