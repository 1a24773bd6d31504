/**
 * Every `forward` destination of a daemon, and which of them a message goes to. A destination
 * no route rule names gets everything received (less its own hep_types / methods / sources
 * filters); one a rule names gets only what such rules send it. The bytes sent are the HEP
 * packet as received, or HEP3 where the packet cannot go as it is (hep/relay.ts).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CapturedMessage } from '../capture/message.js';
import type { ForwardDestination } from '../config/types.js';
import type { SipcaptureConfig } from '../config/types.js';
import { decodeHep } from '../hep/decode.js';
import { hep3Of, hep3OfCaptured, isHep3, withAuthKey } from '../hep/relay.js';
import { cidrMatches, ipBytes } from '../net/cidr.js';
import { parseSip } from '../sip/parser.js';
import { routeFactsOf } from '../route/facts.js';
import type { Logger } from '../telemetry/logger.js';
import { Forwarder, type ForwarderStats } from './forwarder.js';
import { PacketSpool } from './packet-spool.js';

/** The number at the end of capture_node (`homer01` → 1): the capture id of raw-capture HEP3; 0 without one. */
export function captureIdOf(captureNode: string): number {
  const m = /(\d{1,9})$/.exec(captureNode);
  return m ? Number(m[1]) : 0;
}

/** A destination's spool directory: spool_dir/forward-<name>, the name made safe for a file name. */
export function forwardSpoolDir(spoolDir: string, name: string): string {
  return join(spoolDir, `forward-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
}

/** The request method, or a reply's CSeq method; null when the payload is not SIP. */
function sipMethodOf(msg: CapturedMessage): string | null {
  const r = parseSip(msg.payload);
  return r.ok ? routeFactsOf(r.message).method : null;
}

interface Route {
  dest: ForwardDestination;
  forwarder: Forwarder;
  sourceFilter: ((ip: string) => boolean) | null;
}

export class ForwardSet {
  private readonly byName = new Map<string, Route>();
  /** Destinations no route rule names: they get everything. */
  private everything: Route[] = [];

  private constructor(
    routes: Route[],
    boundByRules: ReadonlySet<string>,
    private readonly captureId: number,
    private readonly captureNode: string,
  ) {
    for (const r of routes) this.byName.set(r.dest.name, r);
    this.bindRules(boundByRules);
  }

  /** The destinations route rules name (after a reload changed the routes): the others get everything. */
  bindRules(boundByRules: ReadonlySet<string>): void {
    this.everything = [...this.byName.values()].filter((r) => !boundByRules.has(r.dest.name));
  }

  /** Opens every destination's spool and starts connecting. */
  static async open(cfg: SipcaptureConfig, boundByRules: ReadonlySet<string>, logger: Logger): Promise<ForwardSet> {
    const routes: Route[] = [];
    try {
      for (const dest of cfg.forward) {
        let spool: PacketSpool | null = null;
        if (cfg.spool_max_bytes > 0) {
          const dir = forwardSpoolDir(cfg.spool_dir, dest.name);
          mkdirSync(dir, { recursive: true });
          spool = await PacketSpool.open(dir, cfg.spool_max_bytes, true, `forward ${dest.name} ${dest.spec}`);
        }
        const sources = dest.sources;
        routes.push({
          dest,
          forwarder: new Forwarder({ dest, spool, queueMaxBytes: cfg.forward_queue_max_bytes, logger }),
          sourceFilter:
            sources === null
              ? null
              : (ip) => {
                  const b = ipBytes(ip);
                  return b !== null && sources.some((c) => cidrMatches(c, b));
                },
        });
      }
    } catch (err) {
      await Promise.allSettled(routes.map((r) => r.forwarder.close(0)));
      throw err;
    }
    return new ForwardSet(routes, boundByRules, captureIdOf(cfg.capture_node), cfg.capture_node);
  }

  /** True when some destination is named by a route rule (messages must be routed to reach it). */
  get hasRuleBound(): boolean {
    return this.everything.length < this.byName.size;
  }

  /** Hands `msg` to every destination that gets everything; returns how many took it. */
  offerAll(msg: CapturedMessage): number {
    return this.offer(msg, this.everything);
  }

  /** Hands `msg` to the named destinations (a route rule's `forward`); returns how many took it. */
  offerTo(names: readonly string[], msg: CapturedMessage): number {
    const routes: Route[] = [];
    for (const n of names) {
      const r = this.byName.get(n);
      if (r !== undefined) routes.push(r);
    }
    return this.offer(msg, routes);
  }

  private offer(msg: CapturedMessage, routes: readonly Route[]): number {
    let taken = 0;
    let method: string | null | undefined;
    let asReceived: Buffer | undefined;
    for (const r of routes) {
      const d = r.dest;
      if (d.hepTypes !== null && !d.hepTypes.includes(msg.protoType)) continue;
      if (r.sourceFilter !== null && !r.sourceFilter(msg.srcIp)) continue;
      if (d.methods !== null) {
        if (method === undefined) method = msg.protoType === 1 ? sipMethodOf(msg) : null;
        if (method === null || !d.methods.includes(method.toUpperCase())) continue;
      }
      const bytes = this.bytesFor(msg, d, () => (asReceived ??= Buffer.from(msg.hep!)));
      if (bytes === null) continue;
      r.forwarder.send(bytes);
      taken++;
    }
    return taken;
  }

  /** The packet for `d`: shared copy of the received bytes when they can go as they are. */
  private bytesFor(msg: CapturedMessage, d: ForwardDestination, copy: () => Buffer): Buffer | null {
    const hep = msg.hep;
    if (hep === undefined) return hep3OfCaptured(msg, this.captureId, this.captureNode, d.authKey ?? null);
    if (isHep3(hep)) return d.authKey === undefined ? copy() : withAuthKey(hep, d.authKey);
    // HEP v1/v2: as they are over UDP; on a stream, or with a key to carry, as HEP3.
    if (d.protocol === 'udp' && d.authKey === undefined) return copy();
    const decoded = decodeHep(hep);
    return decoded.ok ? hep3Of(decoded.packet, d.authKey ?? null) : null;
  }

  stats(): ForwarderStats[] {
    return [...this.byName.values()].map((r) => r.forwarder.stats());
  }

  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((r) => r.forwarder.close()));
  }
}
