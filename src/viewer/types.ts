/**
 * What the viewer reads: the shapes the JSON API, `sipcapture show` and `sipcapture search` share,
 * and `CallReader`, the one interface in front of a schema. The Homer 5 tables
 * (`sip_capture_*`, rtcp/report/logs) are read by homer5-reader.ts, the HOMER 7 ones
 * (`hep_proto_*`) by homer7-reader.ts; open-reader.ts picks one per database.
 */

/** One stored SIP message, without its payload (search results, live view). */
export interface MessageSummary {
  /** Table the row is in, and its id there: the pair names the row. */
  table: string;
  id: number;
  microTs: number;
  /** The row's `date` text (in the daemon's date_time_zone). */
  date: string;
  /** Request method, or the status code of a reply (Homer 5 stores the code in `method`). */
  method: string;
  replyReason: string;
  cseq: string;
  callid: string;
  callidAleg: string;
  fromUser: string;
  toUser: string;
  ruriUser: string;
  sourceIp: string;
  sourcePort: number;
  destinationIp: string;
  destinationPort: number;
  /** Transport as Kamailio numbers it: 1 UDP, 2 TCP, 3 TLS, 4 SCTP, 5 WS. */
  proto: number;
  node: string;
  userAgent: string;
}

/** A message of a call flow, with the whole SIP text. */
export interface CallMessage extends MessageSummary {
  via1Branch: string;
  correlationId: string;
  /** The stored payload as text (bytes that are not UTF-8 become U+FFFD). */
  msg: string;
}

/** A row of rtcp_capture, report_capture or logs_capture tied to the call. */
export interface SideRow {
  kind: 'rtcp' | 'report' | 'logs';
  table: string;
  id: number;
  microTs: number;
  date: string;
  correlationId: string;
  sourceIp: string;
  sourcePort: number;
  destinationIp: string;
  destinationPort: number;
  node: string;
  /** HEP payload type (5 RTCP, 100 logs, …). */
  type: number;
  msg: string;
}

/** A time range in microseconds since the epoch, both ends included. */
export interface TimeRange {
  fromUs: number;
  toUs: number;
}

export interface SearchQuery extends TimeRange {
  /** Matches `callid` or `callid_aleg`. */
  callId?: string;
  fromUser?: string;
  toUser?: string;
  ruriUser?: string;
  /** A request method (INVITE) or a reply code (486). */
  method?: string;
  sourceIp?: string;
  destinationIp?: string;
  node?: string;
  /** Part of the User-Agent (or Server) header. */
  userAgent?: string;
  /** At most this many messages (bounded by MAX_SEARCH_LIMIT). */
  limit: number;
}

export interface SearchResult {
  /** Newest first. */
  messages: MessageSummary[];
  /** More rows matched than `limit`. */
  truncated: boolean;
}

export interface CallFlow {
  callId: string;
  /** The Call-IDs of every leg found (the asked one first). */
  callIds: string[];
  /** Oldest first. */
  messages: CallMessage[];
  side: SideRow[];
  /** More messages matched than MAX_CALL_MESSAGES. */
  truncated: boolean;
}

export interface CallReader {
  /** Which table layout this reader reads. */
  readonly schema: 'homer5' | 'homer7';
  search(query: SearchQuery): Promise<SearchResult>;
  /** Every message of the call and of the legs tied to it, within `range`. */
  callFlow(callId: string, range: TimeRange): Promise<CallFlow>;
  /** Messages stored after `afterUs` (exclusive), within the last LIVE_WINDOW_US, newest first. */
  latest(afterUs: number, limit: number): Promise<MessageSummary[]>;
  close(): Promise<void>;
}

/** Rows per search answer at most: the page and the terminal show a bounded table. */
export const MAX_SEARCH_LIMIT = 1000;
export const DEFAULT_SEARCH_LIMIT = 200;
/** Messages per call flow at most (a call with more is cut, and says so). */
export const MAX_CALL_MESSAGES = 2000;
/** A search spans at most this much time: a wider range is refused rather than scanned. */
export const MAX_SEARCH_SPAN_US = 31 * 86_400_000_000;
/** Every query is cancelled after this long (statement timeout). */
export const QUERY_TIMEOUT_MS = 5000;
/** The live view looks this far back at most. */
export const LIVE_WINDOW_US = 3_600_000_000;
