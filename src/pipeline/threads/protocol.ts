/**
 * The messages between the main thread (pool.ts) and a pipeline thread (worker.ts), and the
 * limits both sides agree on.
 */
import type { ReportRow, SipCaptureRow, TableKind } from '../../capture/rows.js';
import type { SipcaptureConfig } from '../../config/types.js';
import type { DropReasonValue } from '../../telemetry/drop-reasons.js';

export interface ThreadInit {
  cfg: SipcaptureConfig;
  /** CaptureState.shared: the capture switches and the memory guard's verdict. */
  state: SharedArrayBuffer;
}

/**
 * HEP packets of one listener; packet i is [ends[i-1] ?? 0, ends[i]) of `buf` (transferred).
 * `decoded`: they already passed the listener's checks and the nonsip_hook (its default path),
 * so the thread only decodes them.
 */
export interface BatchMessage {
  op: 'batch';
  id: number;
  listener: string;
  buf: ArrayBuffer;
  ends: Uint32Array;
  /** Receive time of each packet, µs since 1970: the rows of packets without a capture time take it. */
  receivedAtUs: Float64Array;
  decoded: boolean;
}

export type MainMessage = BatchMessage | { op: 'config'; cfg: SipcaptureConfig } | { op: 'stop' };

/**
 * The rows of one batch for one table. Encoded rows (PostgreSQL Homer 5 tables) are binary COPY
 * tuples in `tuples` (transferred, the group's own), tuple i at
 * [spans[2i], spans[2i + 1]); `cleaned` holds two counts per
 * tuple (NULs stripped, invalid text replaced), or is null when all are 0. Other rows travel as
 * objects (`rows`; a Buffer arrives as a Uint8Array). `keys`/`rowKeys`: per row the dedup key
 * and receive time (ms), key -1 when the row is not deduplicated; null without `dedup`.
 * `tupleNext`: per row in arrival order, 1 when it is the next tuple, 0 the next object; null
 * when the group has only one of the two.
 */
export interface RowGroup {
  dbUrl: string;
  table: string;
  kind: TableKind;
  tuples: ArrayBuffer | null;
  spans: Uint32Array | null;
  cleaned: Uint32Array | null;
  keys: Float64Array | null;
  rows: (SipCaptureRow | ReportRow)[];
  rowKeys: Float64Array | null;
  tupleNext: Uint8Array | null;
}

/** heplify_metrics counts since the last answer: the main thread adds them to its own. */
export interface HeplifyDelta {
  packets: [string, number][];
  lastSize: [string, number][];
  methodResponses: [string, number][];
  rtcp: [string, [string, number][]][];
  /**
   * SIP messages as node id, Call-ID, response, method, four strings each: the main thread
   * counts each Call-ID/response/method once, whichever thread saw its copies.
   */
  sips: string[];
}

export interface DoneMessage {
  op: 'done';
  id: number;
  groups: RowGroup[];
  /** reason, count, one detail for the log. */
  drops: [DropReasonValue, number, string][];
  /** Routing counters since the last answer: table date clamped, empty hash source. */
  routing: [number, number];
  heplify: HeplifyDelta | null;
}

export type ThreadMessage = { op: 'ready' } | DoneMessage;

/** Packets per batch the main thread gathers (TCP frames, the hook's default path) before it posts them. */
export const GATHER_MAX_PACKETS = 256;
/** Bytes of one gathered batch (as the UDP receive thread's batches: 256 typical HEP packets). */
export const GATHER_BYTES = 256 * 1024;
