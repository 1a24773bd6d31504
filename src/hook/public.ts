/**
 * What a hook module sees, published as `sipcapture/hook` (package.json `exports`, declarations
 * emitted by `npm run build`; docs/hooks.md). Types only, with nothing from the rest of the
 * daemon, so a hook author's compiler needs nothing but this file and @types/node.
 *
 * The event_callback function is called for every HEP packet as
 * `fn('sipcapture:request', request)` and returns
 *   1  → the packet continues on the default path (SIP row, or RTCP/report/log row),
 *   0  → handled by the hook (nothing more is stored),
 *  <0  → rejected: dropped and counted `hook_rejected`;
 * anything else is counted `bad_return` and the packet follows the default path.
 */

export const HOOK_EVENT = 'sipcapture:request';

/** One packet as the hook sees it. A new object per packet: nothing carries over. */
export interface HookRequest {
  /** Always `sipcapture:request`. */
  readonly event: string;
  /** HEP version: 1, 2 or 3 (`$hep(version)`). */
  readonly version: 1 | 2 | 3;
  /** The listener that received it, e.g. `udp:127.0.0.1:9060`. */
  readonly listener: string;
  /** HEP protocol type (chunk 0x000b): 1 SIP, 5 RTCP, 32/34/35/99 reports, 100 logs … */
  readonly protoType: number;
  readonly family: 2 | 10;
  /** IP protocol number of the captured packet (17 UDP, 6 TCP …). */
  readonly ipProto: number;
  readonly srcIp: string;
  readonly srcPort: number;
  readonly dstIp: string;
  readonly dstPort: number;
  /** Capture time; 0 when the packet has none. */
  readonly tsSec: number;
  readonly tsUsec: number;
  readonly captureId: number;
  readonly correlationId: string | null;
  /** The captured payload (inflated when it came compressed). */
  readonly payload: Buffer;
  /** The whole HEP packet as received. */
  readonly raw: Buffer;
  /** Every HEP3 chunk in order (empty for HEP v1/v2). */
  readonly chunks: readonly { vendor: number; type: number; data: Buffer }[];
  /** The payload as UTF-8 text. */
  payloadText(): string;
  /** Kamailio's `$hep(key)`: `'version'`, a chunk type number (0x0002), or `'0x00b'` / `'00011'`. */
  hep(key: number | string): number | string | undefined;
  /** Raw data of the first chunk of `type` (and `vendor`, default 0), or undefined. */
  chunk(type: number, vendor?: number): Buffer | undefined;
  /** Stores the payload as a sip_capture row: `table` (strftime, '' = the mode's list), capture mode `cmode` (default `default`). 1 or -1. */
  sip_capture(table?: string, cmode?: string): number;
  sip_capture_table(table: string): number;
  sip_capture_mode(table: string, cmode: string): number;
  /** Stores a 12-column report row in `table` (as given, no strftime) of the default mode's database. 1 or -1. */
  report_capture(table: string, cid?: string, data?: string | Buffer): number;
  report_capture_cid(table: string, cid: string): number;
  report_capture_data(table: string, cid: string, data: string | Buffer): number;
  /** `(int)(atof(fval) * atoi(ival))`, and -1 instead of 0. */
  float2int(fval: string | number, ival: string | number): number;
  /** A line in sipcapture's log (level info, or the level given). */
  log(message: string, level?: 'debug' | 'info' | 'warn' | 'error'): void;
}

export type HookFunction = (event: string, request: HookRequest) => unknown;
