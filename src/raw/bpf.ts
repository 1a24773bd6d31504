/**
 * libpcap filter expressions for mirror capture, built from raw_socket_listen.
 *
 * Kamailio's raw_moni_bpf_on program is `udp and portrange P1-P2`: it drops TCP,
 * tunnels, IPv6 extension headers and every non-first IP fragment (they have no ports). Ours
 * keeps, in the kernel, everything the user-space decoder can turn into SIP on those ports:
 *   - UDP, TCP or SCTP with the source or destination port in range (IPv4 and plain IPv6);
 *   - IPv4 fragments with a non-zero offset (the first fragment has ports and passes above);
 *   - IPv6 packets whose first header is an extension header (fragment, hop-by-hop, routing,
 *     destination options): libpcap cannot find the ports behind them;
 *   - tunnels: IPIP (4), IPv6-in-IP (41), GRE (47) over IPv4 or IPv6: the inner ports are
 *     checked in user space;
 *   - the same again behind one or two 802.1Q/802.1ad tags still in the frame.
 * The user-space filter runs on the result anyway, so the kernel filter only has to be a
 * superset of what is delivered.
 *
 * With raw_sock_children = N > 1, child k of N adds a partition clause so that each packet
 * reaches exactly one child: IPv4 by (src ^ dst) % N, IPv6 by (low 32 bits of src ^ dst) % N,
 * everything else to child 0. Both directions of a flow and all fragments of a datagram hash
 * the same (the addresses are the outermost header's), so reassembly state stays in one child.
 */
import { portRangeText, type RawListen } from './port-filter.js';

/** The port part for libpcap: `portrange A-B` or `port A`. */
function portPrimitive(listen: RawListen): string {
  return listen.port1 === listen.port2 ? `port ${listen.port1}` : `portrange ${listen.port1}-${listen.port2}`;
}

/** What the kernel keeps with raw_moni_bpf_on = 1 (without the VLAN repetition). */
export function portFilterCore(listen: RawListen): string {
  return [
    `((udp or tcp or sctp) and ${portPrimitive(listen)})`,
    '(ip[6:2] & 0x1fff != 0)',
    '(ip6 and (ip6[6] = 0 or ip6[6] = 43 or ip6[6] = 44 or ip6[6] = 60))',
    '(ip and (ip[9] = 4 or ip[9] = 41 or ip[9] = 47))',
    '(ip6 and (ip6[6] = 4 or ip6[6] = 41 or ip6[6] = 47))',
  ].join(' or ');
}

/**
 * The clause that gives child `index` of `count` its share of IP packets (IPv4 or IPv6 by the
 * link-layer type libpcap checks; the modulo picks exactly one child). Packets that are neither
 * go to child 0 (see captureFilter).
 */
export function partitionClause(index: number, count: number): string {
  if (count <= 1) return '';
  return (
    `((ip and ((ip[12:4] ^ ip[16:4]) % ${count} = ${index})) or ` +
    `(ip6 and ((ip6[20:4] ^ ip6[36:4]) % ${count} = ${index})))`
  );
}

export interface CaptureFilterOptions {
  /** raw_socket_listen (its port range), or null for no port filter. */
  listen: RawListen | null;
  /** raw_moni_bpf_on: filter ports in the kernel. */
  bpf: boolean;
  /** Child index and count (raw_sock_children). */
  index: number;
  count: number;
  /**
   * Add the `vlan` clauses (default true). libpcap refuses `vlan` on link types without VLAN
   * tags (Linux cooked capture on "any", raw IP): the capture child retries with false.
   */
  vlan?: boolean;
}

/**
 * The complete libpcap filter for one capture child ('' = everything).
 *
 * Shapes (C = portFilterCore, Pk = partitionClause):
 * - one child:            `(C) or (vlan and ((C) or (vlan and (C))))`, or '' without BPF;
 * - child k of N, BPF:    `Pk and (C)`, child 0 also `or (not ip and not ip6 and vlan)`;
 * - child k of N, no BPF: `Pk`, child 0 also `or (not ip and not ip6)`.
 * Linux moves the outer VLAN tag out of the frame before the filter runs, so plain C matches
 * single-tagged traffic; `vlan and …` covers a tag left in the data (no offload) and
 * `vlan and vlan and …` the inner tag of QinQ (measured: `vlan and udp` alone misses QinQ).
 * Frames with a tag still in the data are neither ip nor ip6 at the normal offsets, so with
 * N > 1 they all go to child 0 and their ports are checked in user space. `vlan and (C)` is not combined with the partition
 * because libpcap 1.10's optimizer then emits a read of uninitialised scratch memory, the
 * kernel rejects the program and libpcap silently falls back to filtering in user space.
 * `vlan` shifts the offsets for the rest of an expression, so it always comes last.
 */
export function captureFilter(opts: CaptureFilterOptions): string {
  const ports = opts.bpf && opts.listen !== null && opts.listen.port1 !== 0 ? portFilterCore(opts.listen) : '';
  const vlan = opts.vlan ?? true;
  if (opts.count <= 1) {
    if (ports === '') return '';
    return vlan ? `(${ports}) or (vlan and ((${ports}) or (vlan and (${ports}))))` : ports;
  }
  const share = partitionClause(opts.index, opts.count);
  if (ports === '') return opts.index === 0 ? `${share} or (not ip and not ip6)` : share;
  const mine = `(${share} and (${ports}))`;
  if (opts.index !== 0) return mine;
  return vlan ? `${mine} or (not ip and not ip6 and vlan)` : `${mine} or (not ip and not ip6)`;
}

/** Short description for logs: `ports 5060-5090 (kernel BPF)`. */
export function describeFilter(opts: CaptureFilterOptions): string {
  const where = opts.bpf ? 'kernel BPF' : 'user space';
  const ports = opts.listen === null ? 'any' : portRangeText(opts.listen);
  const share = opts.count > 1 ? `, child ${opts.index + 1} of ${opts.count}` : '';
  return `ports ${ports} (${where}${share})`;
}

/**
 * The same partition as partitionClause, computed in user space on an IP header at `off`
 * (used where no kernel filter can be attached, e.g. the IPIP raw sockets).
 */
export function partitionOf(buf: Uint8Array, off: number, end: number, count: number): number {
  if (count <= 1) return 0;
  const version = (buf[off] ?? 0) >> 4;
  if (version === 4 && off + 20 <= end) return ((u32(buf, off + 12) ^ u32(buf, off + 16)) >>> 0) % count;
  if (version === 6 && off + 40 <= end) return ((u32(buf, off + 20) ^ u32(buf, off + 36)) >>> 0) % count;
  return 0;
}

function u32(buf: Uint8Array, at: number): number {
  return ((buf[at] ?? 0) * 0x1000000 + ((buf[at + 1] ?? 0) << 16) + ((buf[at + 2] ?? 0) << 8) + (buf[at + 3] ?? 0)) >>> 0;
}
