/**
 * The per-packet object a hook receives (HookRequest, hook-api.ts), as built in the hook worker.
 * sip_capture()/report_capture() build their rows here and record them as actions; the daemon
 * enqueues them. After the hook has answered (or timed out) the object is closed: later calls
 * return -1 and store nothing, so a late promise cannot write into another packet's outcome.
 */
import type { CapturedMessage } from '../capture/message.js';
import { buildReportCaptureRow } from '../capture/report-row.js';
import { buildSipRow, hashSourcesOf, type SipRowOptions } from '../capture/sip-row.js';
import type { CaptureMode } from '../config/types.js';
import { DropReason } from '../telemetry/drop-reasons.js';
import type { HepPacket } from '../hep/types.js';
import { hepToCapturedMessage } from '../hep/to-captured.js';
import { Router } from '../route/router.js';
import { isValidTableName } from '../route/table-name.js';
import { parseSip } from '../sip/parser.js';
import { routeFactsOf } from '../route/facts.js';
import { float2int, hepValue } from './api.js';
import { HOOK_EVENT, type HookRequest } from './public.js';
import type { HookAction } from './protocol.js';

export interface HookContext {
  rowOptions: SipRowOptions;
  modes: ReadonlyMap<string, CaptureMode>;
  defaultDbUrl: string | null;
  captureOn(): boolean;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

/** Why a (table, cmode) pair cannot be used; `badTable` when the table name is the reason. */
export interface HookRouteProblem {
  problem: string;
  badTable: boolean;
}

/** Routers for the (table, cmode) pairs a hook uses, built once each (strftime compiled once). */
export class HookRouters {
  private readonly cache = new Map<string, Router | HookRouteProblem>();

  constructor(private readonly ctx: HookContext) {}

  /** The router, or why this pair cannot be used. */
  get(table: string, cmode: string): Router | HookRouteProblem {
    const key = `${cmode}\u0000${table}`;
    let r = this.cache.get(key);
    if (r === undefined) {
      if (this.cache.size >= 1024) this.cache.clear(); // names computed per packet must not grow it forever
      try {
        r = new Router([table === '' ? { capture_mode: cmode } : { table, capture_mode: cmode }], this.ctx.modes);
      } catch (err) {
        const problem = `sip_capture(${JSON.stringify(table.slice(0, 80))}, ${JSON.stringify(cmode.slice(0, 80))}): ${(err as Error).message}`;
        // The mode exists, so the template is what the Router refused.
        r = { problem, badTable: this.ctx.modes.has(cmode) };
        this.ctx.log('warn', problem);
      }
      this.cache.set(key, r);
    }
    return r;
  }
}

export class HepHookRequest implements HookRequest {
  readonly event = HOOK_EVENT;
  readonly actions: HookAction[] = [];
  private closed = false;
  private captured: CapturedMessage | null = null;

  constructor(
    private readonly packet: HepPacket,
    readonly raw: Buffer,
    readonly listener: string,
    private readonly receivedAtUs: number,
    private readonly ctx: HookContext,
    private readonly routers: HookRouters,
  ) {}

  /** Ends the request: later sip_capture/report_capture calls are refused. */
  close(): void {
    this.closed = true;
  }

  get version(): 1 | 2 | 3 {
    return this.packet.version;
  }
  get protoType(): number {
    return this.packet.protoType;
  }
  get family(): 2 | 10 {
    return this.packet.family;
  }
  get ipProto(): number {
    return this.packet.ipProto;
  }
  get srcIp(): string {
    return this.packet.srcIp;
  }
  get srcPort(): number {
    return this.packet.srcPort;
  }
  get dstIp(): string {
    return this.packet.dstIp;
  }
  get dstPort(): number {
    return this.packet.dstPort;
  }
  get tsSec(): number {
    return this.packet.tsSec;
  }
  get tsUsec(): number {
    return this.packet.tsUsec;
  }
  get captureId(): number {
    return this.packet.captureId;
  }
  get correlationId(): string | null {
    return this.packet.correlationId;
  }
  get payload(): Buffer {
    return this.packet.payload;
  }
  get chunks(): readonly { vendor: number; type: number; data: Buffer }[] {
    return this.packet.chunks;
  }

  payloadText(): string {
    return this.packet.payload.toString('utf8');
  }

  hep(key: number | string): number | string | undefined {
    return hepValue(this.packet, key);
  }

  chunk(type: number, vendor = 0): Buffer | undefined {
    return this.packet.chunks.find((c) => c.type === type && c.vendor === vendor)?.data;
  }

  private message(): CapturedMessage {
    this.captured ??= hepToCapturedMessage(this.packet, this.listener, this.receivedAtUs);
    return this.captured;
  }

  sip_capture(table = '', cmode = 'default'): number {
    if (this.closed || !this.ctx.captureOn()) return -1;
    const router = this.routers.get(String(table), String(cmode));
    if (!(router instanceof Router)) {
      if (router.badTable) this.actions.push({ kind: 'bad_table', detail: router.problem });
      return -1;
    }
    const parsed = parseSip(this.packet.payload, { lenient: this.ctx.rowOptions.captureBadMsgs });
    if (!parsed.ok) return -1;
    const built = buildSipRow(this.message(), parsed.message, this.ctx.rowOptions);
    if (!built.ok) return -1;
    const dest = router.route(routeFactsOf(parsed.message), hashSourcesOf(built.row), Math.floor(built.row.micro_ts / 1e6));
    if ('drop' in dest) {
      // A template whose expansion is not a safe identifier (e.g. "x_%e"): counted, never sent.
      if (dest.drop === DropReason.BAD_TABLE_NAME) this.actions.push({ kind: 'bad_table', detail: `sip_capture: ${dest.detail}` });
      return -1;
    }
    this.actions.push({ kind: 'sip', dbUrl: dest.mode.db_url, table: dest.table, row: built.row });
    return 1;
  }

  sip_capture_table(table: string): number {
    return this.sip_capture(table);
  }

  sip_capture_mode(table: string, cmode: string): number {
    return this.sip_capture(table, cmode);
  }

  report_capture(table: string, cid = '', data: string | Buffer = ''): number {
    if (this.closed || !this.ctx.captureOn()) return -1;
    const dbUrl = this.ctx.defaultDbUrl;
    // Difference: Kamailio writes an empty table name into whatever table the connection used last (docs/kamailio-differences.md K4).
    if (dbUrl === null) return -1;
    if (typeof table !== 'string' || !isValidTableName(table)) {
      const shown = typeof table === 'string' ? JSON.stringify(table.slice(0, 80)) : typeof table;
      this.actions.push({ kind: 'bad_table', detail: `report_capture: table name ${shown} is not a safe identifier` });
      return -1;
    }
    const body = typeof data === 'string' || Buffer.isBuffer(data) ? data : String(data);
    // type 0: the hook runs before any SIP parsing, as Kamailio's event route.
    const row = buildReportCaptureRow(this.message(), 0, this.ctx.rowOptions, String(cid), body);
    this.actions.push({ kind: 'report', dbUrl, table, tableKind: 'report', row });
    return 1;
  }

  report_capture_cid(table: string, cid: string): number {
    return this.report_capture(table, cid);
  }

  report_capture_data(table: string, cid: string, data: string | Buffer): number {
    return this.report_capture(table, cid, data);
  }

  float2int(fval: string | number, ival: string | number): number {
    return float2int(fval, ival);
  }

  log(message: string, level: 'debug' | 'info' | 'warn' | 'error' = 'info'): void {
    this.ctx.log(level, String(message));
  }
}
