/**
 * Messages between the daemon (hook-runner.ts) and the hook worker (hook-worker.ts). Packets
 * travel in batches: one transferred buffer holding every packet back to back, plus offsets.
 * Rows built by the hook's sip_capture()/report_capture() travel back as row objects (their
 * `msg` arrives as a Uint8Array: structured clone drops the Buffer prototype).
 */
import type { ReportRow, SipCaptureRow, TableKind } from '../capture/rows.js';
import type { SipRowOptions } from '../capture/sip-row.js';
import type { CaptureMode } from '../config/types.js';

export interface HookWorkerInit {
  /** Absolute path of the hook module. */
  hookModule: string;
  /** Name of the exported function (event_callback). */
  eventCallback: string;
  timeoutMs: number;
  rowOptions: SipRowOptions;
  /** Every capture mode by name, `default` included when it is valid. */
  modes: [string, CaptureMode][];
  /** Database of the default mode (report_capture writes there), or null. */
  defaultDbUrl: string | null;
  /** Int32Array: [0] capture_on (1/0), kept current by the runner before each batch. */
  flags: SharedArrayBuffer;
  /** Float64Array: [0] batch sequence, [1] packet index in work (-1 idle), [2] its start (Date.now()). */
  progress: SharedArrayBuffer;
}

export interface HookBatchMessage {
  type: 'batch';
  seq: number;
  data: ArrayBuffer;
  /** Start of packet i is offsets[i], its end offsets[i + 1]. */
  offsets: number[];
  listeners: string[];
  receivedAtUs: number[];
}

/** What the hook did with one packet. */
export type HookOutcome =
  | 'continue'
  | 'handled'
  | 'rejected'
  | 'bad_return'
  | 'error'
  | 'timeout'
  /** Not HEP the decoder accepts: the hook is not called, the default path counts it. */
  | 'malformed';

export type HookAction =
  | { kind: 'sip'; dbUrl: string; table: string; row: SipCaptureRow }
  | { kind: 'report'; dbUrl: string; table: string; tableKind: TableKind; row: ReportRow }
  /** A row the hook asked for that cannot be stored: counted under bad_table_name by the daemon. */
  | { kind: 'bad_table'; detail: string };

export const HOOK_OUTCOMES: readonly HookOutcome[] = ['continue', 'handled', 'rejected', 'bad_return', 'error', 'timeout', 'malformed'];

/**
 * The outcomes of packets `from` … `from + outcomes.length - 1` of a batch, as indexes into
 * HOOK_OUTCOMES (one byte each: most packets carry nothing else), plus the rows and log details
 * of the few that have them.
 */
export interface HookResults {
  type: 'results';
  seq: number;
  from: number;
  outcomes: Uint8Array;
  actions: { i: number; actions: HookAction[] }[];
  details: { i: number; detail: string }[];
  /** The batch is complete. */
  last: boolean;
}

export type HookWorkerMessage =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  | HookResults
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string };

export const PROGRESS_SEQ = 0;
export const PROGRESS_INDEX = 1;
export const PROGRESS_STARTED = 2;
export const FLAG_CAPTURE_ON = 0;
