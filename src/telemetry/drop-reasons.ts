/**
 * Every packet that does not become a row is counted under exactly one of these reasons.
 * They are the label values of the drop counter in metrics and the `reason` field in logs.
 */
export const DropReason = {
  /** HEP bytes that do not decode (bad magic, lengths, missing chunks …), also HEP found in a pcap file. */
  HEP_MALFORMED: 'hep_malformed',
  /** A compressed HEP payload (chunk 0x0010) that inflates past 65,535 bytes, what a HEP payload can be. */
  PAYLOAD_TOO_LARGE: 'payload_too_large',
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
  /**
   * The database rejected this row for its content while taking the rest of its batch (a
   * poisoned row, isolated), or a row could neither be written nor spooled (spool I/O error,
   * spool disabled).
   */
  DB_ERROR: 'db_error',
  /** The database could not take the row and the on-disk spool was full (spool_max_bytes, or the disk itself: ENOSPC/EDQUOT). */
  SPOOL_FULL: 'spool_full',
  /** TCP stream bytes that are not a HEP3 frame (skipped up to the next `HEP3` magic), or a frame cut off by the close. */
  TCP_FRAMING: 'tcp_framing',
  /** A listener with hep_auth_keys got a packet without an accepted key (no chunk 0x000e, another key, or HEP v1/v2). */
  AUTH_FAILED: 'auth_failed',
  /** A UDP datagram from a source not in the listener's allow_sources (TCP/TLS: the connection is rejected instead). */
  SOURCE_DENIED: 'source_denied',
  /** The nonsip_hook returned a negative value: the packet is dropped (Kamailio logs an error and drops it). */
  HOOK_REJECTED: 'hook_rejected',
  /** Raw capture: a packet or stream whose payload is not SIP (or has no payload: TCP handshakes, SCTP control, WebSocket handshakes and control frames). */
  RAW_NOT_SIP: 'raw_not_sip',
  /** Raw capture: truncated or inconsistent link/IP/transport headers, non-IP frames, unsupported protocols. */
  RAW_MALFORMED: 'raw_malformed',
  /** Raw capture: fragments or TCP segments that could not be reassembled (timeouts, gaps, limits, retransmissions). */
  RAW_REASSEMBLY: 'raw_reassembly',
  /** Raw capture: the capture child could not hand messages to the daemon fast enough. */
  RAW_BACKLOG: 'raw_backlog',
  /** Raw capture: the kernel or libpcap dropped packets before sipcapture saw them. */
  KERNEL_DROP: 'kernel_drop',
  /** dedup: a copy of a SIP packet already seen within dedup_window_ms (another agent, or the same one again). */
  DUPLICATE: 'duplicate',
  /** The daemon's resident memory was above memory_limit_mb: the packet was shed at ingress. */
  MEMORY_LIMIT: 'memory_limit',
  /** The daemon was shutting down and the row could not be written in time. */
  SHUTDOWN: 'shutdown',
  /** A pipeline thread (pipeline_threads) died with packets handed to it and not yet answered; it is restarted. */
  PIPELINE_THREAD_FAILED: 'pipeline_thread_failed',
} as const;

export type DropReasonValue = (typeof DropReason)[keyof typeof DropReason];

/** Why a forward destination did not get a packet (counted per destination; the packet may still be stored). */
export const ForwardDropReason = {
  /** The memory queue was full and the destination has no spool (spool_max_bytes 0). */
  QUEUE_FULL: 'queue_full',
  /** The destination's spool was full (spool_max_bytes, or the disk itself). */
  SPOOL_FULL: 'spool_full',
  /** Writing the destination's spool failed (an I/O error other than a full disk). */
  SPOOL_ERROR: 'spool_error',
  /** The daemon stopped with packets in memory and no spool to keep them. */
  SHUTDOWN: 'shutdown',
} as const;

export type ForwardDropReasonValue = (typeof ForwardDropReason)[keyof typeof ForwardDropReason];
