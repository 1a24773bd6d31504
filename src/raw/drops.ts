/**
 * Why raw capture did not deliver a packet, finer than the daemon's DropReason. The decoder and
 * the capture child count by RawDropKind; `dropReasonOf` maps each kind to the DropReason the
 * Stats use; the kind itself goes into the log detail (`raw:<kind>: …`).
 */
import { DropReason, type DropReasonValue } from '../telemetry/drop-reasons.js';
import type { FragmentDropKind } from './fragments.js';
import type { TcpDropKind } from './tcp-stream.js';

export type RawDropKind =
  /** Source or destination port outside raw_socket_listen's range (Kamailio's user-space filter). */
  | 'port_filter'
  /** IPIP: outer destination is not raw_socket_listen's IP (Kamailio binds the socket to it). */
  | 'dst_ip_filter'
  /** promiscuous_on = 0: a frame for another host (cap always opens the device promiscuous). */
  | 'other_host'
  /** Not IPv4/IPv6 (ARP, LLDP, …) or an unsupported link type. */
  | 'not_ip'
  /** Truncated or inconsistent headers. */
  | 'malformed'
  /** IP protocol other than UDP/TCP/SCTP/tunnels (ICMP, ESP, …), or a tunnel nested too deep. */
  | 'unsupported_protocol'
  /** UDP/SCTP payload that is not a SIP message (start line check). */
  | 'not_sip'
  /** Transport packet without payload: TCP handshake/ACK, SCTP control chunks. */
  | 'no_payload'
  /** SCTP DATA split over several chunks (not reassembled). */
  | 'sctp_fragment'
  /** The capture child could not hand messages to the daemon fast enough. */
  | 'ipc_backlog'
  /** The kernel or libpcap dropped packets before we saw them. */
  | 'kernel_drop'
  /** HEP found in a capture (pcap import) that does not decode. */
  | 'hep_malformed'
  | FragmentDropKind
  | TcpDropKind;

/** The DropReason a kind is counted under (one place to change when raw reasons are added). */
export function dropReasonOf(kind: RawDropKind): DropReasonValue {
  switch (kind) {
    case 'port_filter':
    case 'dst_ip_filter':
    case 'other_host':
      return DropReason.FILTERED;
    case 'not_sip':
    case 'no_payload':
    case 'tcp_not_sip':
    case 'ws_not_sip':
      return DropReason.RAW_NOT_SIP;
    case 'hep_malformed':
      return DropReason.HEP_MALFORMED;
    case 'not_ip':
    case 'malformed':
    case 'unsupported_protocol':
      return DropReason.RAW_MALFORMED;
    case 'ipc_backlog':
      return DropReason.RAW_BACKLOG;
    case 'kernel_drop':
      return DropReason.KERNEL_DROP;
    default:
      return DropReason.RAW_REASSEMBLY; // fragment and TCP stream kinds, sctp_fragment
  }
}

/** Accumulates drops by kind on the hot path; flushed in bulk (to Stats or over IPC). */
export class DropTally {
  private readonly counts = new Map<RawDropKind, { count: number; detail: string }>();
  private addedTotal = 0;

  /** Drops added since the tally was made (take() does not reset it). */
  get added(): number {
    return this.addedTotal;
  }

  add(kind: RawDropKind, detail: string, count = 1): void {
    this.addedTotal += count;
    const entry = this.counts.get(kind);
    if (entry === undefined) this.counts.set(kind, { count, detail });
    else {
      entry.count += count;
      entry.detail = detail;
    }
  }

  get size(): number {
    return this.counts.size;
  }

  /** Total drops of one kind since the last take(). */
  peek(kind: RawDropKind): number {
    return this.counts.get(kind)?.count ?? 0;
  }

  /** Returns and clears the accumulated drops. */
  take(): Array<{ kind: RawDropKind; count: number; detail: string }> {
    const out = [...this.counts].map(([kind, v]) => ({ kind, count: v.count, detail: v.detail }));
    this.counts.clear();
    return out;
  }
}

/** Reports tallied drops to Stats-like counters. */
export function reportDrops(
  drops: ReadonlyArray<{ kind: RawDropKind; count: number; detail: string }>,
  drop: (reason: DropReasonValue, detail: string, count: number) => void,
): void {
  for (const d of drops) drop(dropReasonOf(d.kind), `raw:${d.kind}: ${d.detail}`, d.count);
}

const KINDS: ReadonlySet<string> = new Set<RawDropKind>([
  'port_filter',
  'dst_ip_filter',
  'other_host',
  'not_ip',
  'malformed',
  'unsupported_protocol',
  'not_sip',
  'no_payload',
  'sctp_fragment',
  'ipc_backlog',
  'kernel_drop',
  'hep_malformed',
  'frag_timeout',
  'frag_evicted',
  'frag_overlap',
  'frag_malformed',
  'frag_discarded',
  'tcp_retransmission',
  'tcp_gap',
  'tcp_not_sip',
  'tcp_oversize',
  'tcp_bad_content_length',
  'tcp_incomplete',
  'tcp_evicted',
  'ws_not_sip',
]);

/** Validates a kind received over IPC. */
export function isRawDropKind(value: string): value is RawDropKind {
  return KINDS.has(value);
}
