/**
 * The counts behind heplify-server's metric names (heplify_metrics: 1), so HOMER's Grafana
 * dashboards work unchanged. Kept the way heplify-server keeps them: packets and the last packet
 * size per node and HEP type; SIP method/response pairs once per Call-ID (retransmissions are
 * not counted again); the last RTCP / RTCP-XR values per node. Without PromTargetIP-style
 * targets, heplify-server labels these `target_name` "" (SIP) or "unknown" (RTCP), direction "".
 */

/** heplify-server's names of HEP protocol types (other types are their number). */
const TYPE_NAMES: Readonly<Record<number, string>> = { 1: 'sip', 5: 'rtcp', 34: 'rtpagent', 35: 'rtcpxr', 38: 'horaclifix', 53: 'dns', 100: 'log' };

/** RTCP JSON paths (captagent's report) → heplify gauge names; the first four cut values above 10^7 to 0. */
export const RTCP_GAUGES: readonly { metric: string; path: readonly string[]; capped: boolean }[] = [
  { metric: 'heplify_rtcp_fraction_lost', path: ['report_blocks', '0', 'fraction_lost'], capped: true },
  { metric: 'heplify_rtcp_packets_lost', path: ['report_blocks', '0', 'packets_lost'], capped: true },
  { metric: 'heplify_rtcp_jitter', path: ['report_blocks', '0', 'ia_jitter'], capped: true },
  { metric: 'heplify_rtcp_dlsr', path: ['report_blocks', '0', 'dlsr'], capped: true },
  ...['fraction_lost', 'fraction_discard', 'burst_density', 'gap_density', 'burst_duration', 'gap_duration', 'round_trip_delay', 'end_system_delay'].map((f) => ({
    metric: `heplify_rtcpxr_${f}`,
    path: ['report_blocks_xr', f],
    capped: false,
  })),
];

/** Distinct Call-ID/method/response triples remembered; past this the memory starts over. */
const SEEN_MAX = 200_000;

export class HeplifyCounters {
  /** `node_id|type` → packets. */
  readonly packets = new Map<string, number>();
  /** `node_id|type` → size of the last payload, bytes. */
  readonly lastSize = new Map<string, number>();
  /** `node_id|response|method` → count. */
  readonly methodResponses = new Map<string, number>();
  /** metric → node_id → last value. */
  readonly rtcp = new Map<string, Map<string, number>>();
  private seen = new Set<string>();

  /** One packet received (decoded): its node (capture id) and HEP type. */
  packet(nodeId: string, protoType: number, payload: Buffer): void {
    const key = `${nodeId}|${TYPE_NAMES[protoType] ?? String(protoType)}`;
    this.packets.set(key, (this.packets.get(key) ?? 0) + 1);
    this.lastSize.set(key, payload.length);
    if (protoType === 5) this.rtcpReport(nodeId, payload);
  }

  /** One SIP message: `response` is the request method or the reply code, `method` the CSeq method. */
  sip(nodeId: string, callId: string, response: string, method: string): void {
    const once = `${callId}\u0000${response}\u0000${method}`;
    if (this.seen.has(once)) return;
    if (this.seen.size >= SEEN_MAX) this.seen = new Set();
    this.seen.add(once);
    const key = `${nodeId}|${response}|${method}`;
    this.methodResponses.set(key, (this.methodResponses.get(key) ?? 0) + 1);
  }

  /** Adds what a pipeline thread counted since its last answer (its `packets`, `lastSize`, … as entries). */
  absorb(d: {
    packets: readonly [string, number][];
    lastSize: readonly [string, number][];
    methodResponses: readonly [string, number][];
    rtcp: readonly [string, readonly [string, number][]][];
    sips: readonly string[];
  }): void {
    for (let i = 0; i + 3 < d.sips.length; i += 4) this.sip(d.sips[i]!, d.sips[i + 1]!, d.sips[i + 2]!, d.sips[i + 3]!);
    for (const [k, n] of d.packets) this.packets.set(k, (this.packets.get(k) ?? 0) + n);
    for (const [k, n] of d.lastSize) this.lastSize.set(k, n);
    for (const [k, n] of d.methodResponses) this.methodResponses.set(k, (this.methodResponses.get(k) ?? 0) + n);
    for (const [metric, byNode] of d.rtcp) {
      let mine = this.rtcp.get(metric);
      if (mine === undefined) this.rtcp.set(metric, (mine = new Map<string, number>()));
      for (const [node, v] of byNode) mine.set(node, v);
    }
  }

  private rtcpReport(nodeId: string, payload: Buffer): void {
    let report: unknown;
    try {
      report = JSON.parse(payload.toString('utf8'));
    } catch {
      return; // not captagent's JSON: heplify-server sets nothing either
    }
    for (const g of RTCP_GAUGES) {
      let v: unknown = report;
      for (const step of g.path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[step] : undefined;
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      let byNode = this.rtcp.get(g.metric);
      if (byNode === undefined) this.rtcp.set(g.metric, (byNode = new Map<string, number>()));
      byNode.set(nodeId, g.capped && v > 10_000_000 ? 0 : v);
    }
  }
}
