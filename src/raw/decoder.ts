/**
 * RawDecoder: captured frames (any supported link type) or IPIP raw-socket packets in,
 * CapturedMessages out. One instance per capture; it holds the fragment and TCP state, so every
 * packet of a flow must reach the same instance.
 *
 * Layers: link (Ethernet + 802.1Q/QinQ, SLL, SLL2, raw IP, NULL/LOOP) → IPv4/IPv6 (options,
 * extension headers, fragments) → tunnels (IPIP 4, IPv6-in-IP 41 = sit/ip6ip6/ip4ip6, GRE incl.
 * ERSPAN I/II/III and transparent Ethernet) → UDP / TCP (stream reassembly) / SCTP (whole DATA
 * chunks) → port filter → SIP start-line check → message. SIP over WebSocket (RFC 7118) is
 * taken from TCP streams; with `hep` (pcap import) HEP packets in UDP and TCP payloads are
 * decoded too and delivered as if received by a HEP listener.
 *
 * Hot path: everything is read from the frame buffer; the delivered payload is a view into it
 * (the sink copies), except after IP reassembly or TCP buffering where a copy already exists.
 */
import { KamailioProto, kamailioProtoFromIpProto, type CaptureSource, type CapturedMessage, type KamailioProtoValue } from '../capture/message.js';
import { decodeHep } from '../hep/decode.js';
import { hepToCapturedMessage } from '../hep/to-captured.js';
import { ipToText } from '../net/address.js';
import { DropTally, type RawDropKind } from './drops.js';
import { FragmentReassembler, type FragmentLimits } from './fragments.js';
import { decodeEthernet, decodeLink, EtherType, PacketType } from './link.js';
import { portsMatch, type RawListen } from './port-filter.js';
import { SctpReassembler, type SctpLimits } from './sctp.js';
import { looksLikeSip } from './sip-check.js';
import { TcpReassembler, type TcpLimits, type TcpPayloadKind } from './tcp-stream.js';

export interface RawDecoderOptions {
  source: Exclude<CaptureSource, 'hep'>;
  /** Listener name put into every message. */
  listener: string;
  /** raw_socket_listen; its ports filter (source or destination in range), its IP filters IPIP. null: no filter. */
  listen: RawListen | null;
  /**
   * false emulates promiscuous_on = 0 on a device that libpcap opened promiscuous: frames for
   * another host (SLL pkttype OTHERHOST, or an Ethernet unicast destination not in localMacs)
   * are dropped. Default true.
   */
  promiscuous?: boolean;
  /** The capture interface's MAC addresses (for `promiscuous: false` on Ethernet). */
  localMacs?: readonly Uint8Array[];
  fragments?: Partial<FragmentLimits>;
  tcp?: Partial<TcpLimits>;
  sctp?: Partial<SctpLimits>;
  /** Receives every decoded message; `payload` is only valid during the call. */
  emit: (msg: CapturedMessage) => void;
  /** Where drops are tallied (shared with the caller); a new one by default. */
  drops?: DropTally;
  /**
   * Decode HEP (v1/v2/v3, compressed payloads included) found in UDP payloads and TCP streams,
   * as a pcap of `tcpdump port 9060` holds. Default false (live capture sees SIP, not HEP).
   */
  hep?: boolean;
}

export interface DecoderCounters {
  /** Frames / packets given to the decoder. */
  frames: number;
  /** Messages emitted. */
  messages: number;
  /** Of those, decoded from HEP packets. */
  hep: number;
  /** Of those, taken from WebSocket frames. */
  websocket: number;
}

/** Tunnels (IPIP, GRE, ERSPAN) nested deeper than this are not followed. */
const MAX_DEPTH = 4;

const IPPROTO_HOPOPTS = 0;
const IPPROTO_IPIP = 4;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_IPV6 = 41;
const IPPROTO_ROUTING = 43;
const IPPROTO_FRAGMENT = 44;
const IPPROTO_GRE = 47;
const IPPROTO_AH = 51;
const IPPROTO_NONE = 59;
const IPPROTO_DSTOPTS = 60;
const IPPROTO_MH = 135;
const IPPROTO_SCTP = 132;

const GRE_ERSPAN_2 = 0x88be;
const GRE_ERSPAN_3 = 0x22eb;

interface TcpMeta {
  family: 2 | 10;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
}

export class RawDecoder {
  readonly counters: DecoderCounters = { frames: 0, messages: 0, hep: 0, websocket: 0 };
  readonly drops: DropTally;
  readonly fragments: FragmentReassembler;
  readonly tcp: TcpReassembler<TcpMeta>;
  readonly sctpParts: SctpReassembler;
  private readonly listen: RawListen | null;
  private readonly promiscuous: boolean;
  private readonly localMacs: readonly Uint8Array[];

  // Per-packet context, set before the layers below run (avoids allocating per packet).
  private sec = 0;
  private usec = 0;
  private hasTs = false;
  private nowMs = 0;
  private family: 2 | 10 = 2;
  private addrBuf: Uint8Array = new Uint8Array(0);
  private srcOff = 0;
  private dstOff = 0;
  private srcPort = 0;
  private dstPort = 0;
  private readonly makeTcpMeta = (): TcpMeta => ({
    family: this.family,
    srcIp: ipToText(this.family, this.addrBuf, this.srcOff),
    dstIp: ipToText(this.family, this.addrBuf, this.dstOff),
    srcPort: this.srcPort,
    dstPort: this.dstPort,
  });

  constructor(private readonly opts: RawDecoderOptions) {
    const tally = (kind: RawDropKind, detail: string, count: number): void => this.drops.add(kind, detail, count);
    this.listen = opts.listen;
    this.promiscuous = opts.promiscuous ?? true;
    this.localMacs = opts.localMacs ?? [];
    this.drops = opts.drops ?? new DropTally();
    this.fragments = new FragmentReassembler(opts.fragments ?? {}, tally);
    this.tcp = new TcpReassembler<TcpMeta>(opts.tcp ?? {}, (meta, data, start, end, kind) => this.emitTcp(meta, data, start, end, kind), tally, {
      hep: opts.hep === true,
    });
    this.sctpParts = new SctpReassembler(opts.sctp ?? {}, tally);
  }

  /**
   * One captured frame of `linkType` in `buf[start, end)`. `sec`/`usec` is the capture time;
   * `hasTimestamp` says whether it came from the capture (pcap file, kernel) or is our clock.
   */
  decodeFrame(linkType: number, buf: Uint8Array, start: number, end: number, sec: number, usec: number, hasTimestamp: boolean): void {
    this.begin(sec, usec, hasTimestamp);
    const link = decodeLink(linkType, buf, start, end);
    const etherType = link.etherType;
    const offset = link.offset;
    if (!this.promiscuous && this.isForOtherHost(buf, link.packetType, link.macOffset)) {
      this.drop('other_host', 'frame for another host (promiscuous_on = 0)');
      return;
    }
    this.network(etherType, buf, offset, end, 0);
  }

  /**
   * One packet from an IPIP raw socket: the outer IPv4 header (protocol 4 or 41) is included.
   * Kamailio skips exactly 20 outer bytes; we honour the outer IHL.
   */
  decodeIpip(buf: Uint8Array, start: number, end: number, sec: number, usec: number, hasTimestamp: boolean): void {
    this.begin(sec, usec, hasTimestamp);
    if (end - start < 20 || (buf[start] ?? 0) >> 4 !== 4) {
      this.drop('malformed', 'IPIP packet without an outer IPv4 header');
      return;
    }
    const ip = this.listen?.ip ?? null;
    if (ip !== null && (ip.length !== 4 || !sameBytes(buf, start + 16, ip))) {
      this.drop('dst_ip_filter', `outer destination is not ${this.listen?.ipText ?? ''}`);
      return;
    }
    const proto = buf[start + 9] ?? 0;
    if (proto !== IPPROTO_IPIP && proto !== IPPROTO_IPV6) {
      this.drop('unsupported_protocol', `outer IP protocol ${proto} is not a tunnel`);
      return;
    }
    this.ipv4(buf, start, end, 0);
  }

  /** Drops reassembly state older than its timeout. `nowMs` on the same clock as the packets. */
  expire(nowMs: number): void {
    this.fragments.expire(nowMs);
    this.tcp.expire(nowMs);
    this.sctpParts.expire(nowMs);
  }

  /** End of input: incomplete datagrams and messages are counted as dropped. */
  flush(): void {
    this.fragments.flush();
    this.tcp.flush();
    this.sctpParts.flush();
  }

  private begin(sec: number, usec: number, hasTs: boolean): void {
    this.counters.frames++;
    this.sec = sec;
    this.usec = usec;
    this.hasTs = hasTs;
    this.nowMs = sec * 1000 + Math.floor(usec / 1000);
  }

  private drop(kind: RawDropKind, detail: string): void {
    this.drops.add(kind, detail, 1);
  }

  private isForOtherHost(buf: Uint8Array, packetType: number, macOffset: number): boolean {
    if (packetType !== PacketType.UNKNOWN) return packetType === PacketType.OTHERHOST;
    if (macOffset < 0) return false;
    if (((buf[macOffset] ?? 0) & 1) !== 0) return false; // broadcast / multicast
    for (const mac of this.localMacs) {
      // Our own address as destination (received) or as source (sent by us).
      if (sameBytes(buf, macOffset, mac) || sameBytes(buf, macOffset + 6, mac)) return false;
    }
    return true;
  }

  private network(etherType: number, buf: Uint8Array, offset: number, end: number, depth: number): void {
    if (etherType === EtherType.IPV4) this.ipv4(buf, offset, end, depth);
    else if (etherType === EtherType.IPV6) this.ipv6(buf, offset, end, depth);
    else this.drop('not_ip', etherType === 0 ? 'not an IP frame' : `EtherType 0x${etherType.toString(16)}`);
  }

  private ipv4(buf: Uint8Array, off: number, end: number, depth: number): void {
    if (end - off < 20 || (buf[off] ?? 0) >> 4 !== 4) {
      this.drop('malformed', 'short or bad IPv4 header');
      return;
    }
    const ihl = ((buf[off] ?? 0) & 0x0f) * 4;
    const totalLen = ((buf[off + 2] ?? 0) << 8) | (buf[off + 3] ?? 0);
    if (ihl < 20 || totalLen < ihl) {
      this.drop('malformed', `bad IPv4 lengths (ihl ${ihl}, total ${totalLen})`);
      return;
    }
    if (off + totalLen > end) {
      this.drop('malformed', `IPv4 packet truncated (${end - off} of ${totalLen} bytes captured)`);
      return;
    }
    end = off + totalLen; // drops Ethernet padding
    this.family = 2;
    this.addrBuf = buf;
    this.srcOff = off + 12;
    this.dstOff = off + 16;
    const proto = buf[off + 9] ?? 0;
    const frag = ((buf[off + 6] ?? 0) << 8) | (buf[off + 7] ?? 0);
    const fragOffset = (frag & 0x1fff) * 8;
    const more = (frag & 0x2000) !== 0;
    if (fragOffset === 0 && !more) {
      this.transport(proto, buf, off + ihl, end, depth);
      return;
    }
    const key = `4|${latin1(buf, off + 12, 8)}|${proto}|${(buf[off + 4] ?? 0) * 256 + (buf[off + 5] ?? 0)}`;
    const whole = this.fragments.add(key, buf, off + ihl, end, fragOffset, more, proto, this.nowMs);
    if (whole !== null) this.transport(whole.proto, whole.payload, 0, whole.payload.length, depth);
  }

  private ipv6(buf: Uint8Array, off: number, end: number, depth: number): void {
    if (end - off < 40 || (buf[off] ?? 0) >> 4 !== 6) {
      this.drop('malformed', 'short or bad IPv6 header');
      return;
    }
    const payloadLen = ((buf[off + 4] ?? 0) << 8) | (buf[off + 5] ?? 0);
    if (payloadLen === 0) {
      this.drop('unsupported_protocol', 'IPv6 jumbogram or empty payload');
      return;
    }
    if (off + 40 + payloadLen > end) {
      this.drop('malformed', `IPv6 packet truncated (${end - off} of ${40 + payloadLen} bytes captured)`);
      return;
    }
    this.family = 10;
    this.addrBuf = buf;
    this.srcOff = off + 8;
    this.dstOff = off + 24;
    this.ipv6Headers(buf[off + 6] ?? 0, buf, off + 40, off + 40 + payloadLen, depth, off);
  }

  /** Walks extension headers from `p`; `hdr` is the IPv6 header offset (for the fragment key). */
  private ipv6Headers(next: number, buf: Uint8Array, p: number, end: number, depth: number, hdr: number): void {
    for (let guard = 0; guard < 16; guard++) {
      switch (next) {
        case IPPROTO_HOPOPTS:
        case IPPROTO_ROUTING:
        case IPPROTO_DSTOPTS:
        case IPPROTO_MH: {
          if (p + 8 > end) return this.drop('malformed', 'truncated IPv6 extension header');
          const len = ((buf[p + 1] ?? 0) + 1) * 8;
          next = buf[p] ?? 0;
          p += len;
          break;
        }
        case IPPROTO_AH: {
          if (p + 8 > end) return this.drop('malformed', 'truncated IPv6 AH header');
          const len = ((buf[p + 1] ?? 0) + 2) * 4;
          next = buf[p] ?? 0;
          p += len;
          break;
        }
        case IPPROTO_FRAGMENT: {
          if (hdr < 0) return this.drop('malformed', 'IPv6 fragment header inside a reassembled packet');
          if (p + 8 > end) return this.drop('malformed', 'truncated IPv6 fragment header');
          next = buf[p] ?? 0;
          const fo = ((buf[p + 2] ?? 0) << 8) | (buf[p + 3] ?? 0);
          const fragOffset = fo & 0xfff8;
          const more = (fo & 1) !== 0;
          const id = ((buf[p + 4] ?? 0) * 0x1000000 + ((buf[p + 5] ?? 0) << 16) + ((buf[p + 6] ?? 0) << 8) + (buf[p + 7] ?? 0)) >>> 0;
          p += 8;
          if (fragOffset === 0 && !more) break; // atomic fragment (RFC 6946)
          const key = `6|${latin1(buf, hdr + 8, 32)}|${id}`;
          const whole = this.fragments.add(key, buf, p, end, fragOffset, more, next, this.nowMs);
          if (whole === null) return;
          // The reassembled fragmentable part may start with more extension headers.
          return this.ipv6Headers(whole.proto, whole.payload, 0, whole.payload.length, depth, -1);
        }
        case IPPROTO_NONE:
          return this.drop('no_payload', 'IPv6 no next header');
        default:
          if (p > end) return this.drop('malformed', 'IPv6 extension headers beyond the packet');
          return this.transport(next, buf, p, end, depth);
      }
    }
    this.drop('malformed', 'too many IPv6 extension headers');
  }

  private transport(proto: number, buf: Uint8Array, off: number, end: number, depth: number): void {
    switch (proto) {
      case IPPROTO_UDP:
        return this.udp(buf, off, end);
      case IPPROTO_TCP:
        return this.tcpSegment(buf, off, end);
      case IPPROTO_SCTP:
        return this.sctp(buf, off, end);
      case IPPROTO_IPIP:
      case IPPROTO_IPV6:
      case IPPROTO_GRE:
        if (depth >= MAX_DEPTH) return this.drop('unsupported_protocol', 'tunnels nested too deep');
        if (proto === IPPROTO_GRE) return this.gre(buf, off, end, depth + 1);
        return proto === IPPROTO_IPIP ? this.ipv4(buf, off, end, depth + 1) : this.ipv6(buf, off, end, depth + 1);
      default:
        return this.drop('unsupported_protocol', `IP protocol ${proto}`);
    }
  }

  private gre(buf: Uint8Array, off: number, end: number, depth: number): void {
    if (end - off < 4) return this.drop('malformed', 'short GRE header');
    const flags = ((buf[off] ?? 0) << 8) | (buf[off + 1] ?? 0);
    const proto = ((buf[off + 2] ?? 0) << 8) | (buf[off + 3] ?? 0);
    if ((flags & 0x7) !== 0 || (flags & 0x4000) !== 0) return this.drop('unsupported_protocol', 'GRE version/routing not supported');
    let p = off + 4;
    if ((flags & 0x8000) !== 0) p += 4; // checksum + reserved
    if ((flags & 0x2000) !== 0) p += 4; // key
    const hasSeq = (flags & 0x1000) !== 0;
    if (hasSeq) p += 4;
    switch (proto) {
      case EtherType.IPV4:
      case EtherType.IPV6:
        return this.network(proto, buf, p, end, depth);
      case EtherType.TEB:
        return this.innerEthernet(buf, p, end, depth);
      case GRE_ERSPAN_2:
        // Type II has an 8-byte header and the sequence bit; type I has neither.
        return this.innerEthernet(buf, hasSeq ? p + 8 : p, end, depth);
      case GRE_ERSPAN_3: {
        if (p + 12 > end) return this.drop('malformed', 'short ERSPAN III header');
        const optional = ((buf[p + 11] ?? 0) & 1) !== 0 ? 8 : 0;
        return this.innerEthernet(buf, p + 12 + optional, end, depth);
      }
      default:
        return this.drop('unsupported_protocol', `GRE protocol 0x${proto.toString(16)}`);
    }
  }

  private innerEthernet(buf: Uint8Array, off: number, end: number, depth: number): void {
    const link = decodeEthernet(buf, off, end);
    this.network(link.etherType, buf, link.offset, end, depth);
  }

  private udp(buf: Uint8Array, off: number, end: number): void {
    if (end - off < 8) return this.drop('malformed', 'short UDP header');
    const udpLen = ((buf[off + 4] ?? 0) << 8) | (buf[off + 5] ?? 0);
    if (udpLen < 8 || off + udpLen > end) return this.drop('malformed', `bad UDP length ${udpLen} (${end - off} bytes present)`);
    this.srcPort = ((buf[off] ?? 0) << 8) | (buf[off + 1] ?? 0);
    this.dstPort = ((buf[off + 2] ?? 0) << 8) | (buf[off + 3] ?? 0);
    if (this.listen !== null && !portsMatch(this.listen, this.srcPort, this.dstPort)) {
      return this.drop('port_filter', `UDP ${this.srcPort} -> ${this.dstPort} outside the port range`);
    }
    const start = off + 8;
    const stop = off + udpLen;
    if (looksLikeSip(buf, start, stop)) return this.emit(bufferView(buf, start, stop), 17);
    if (this.opts.hep === true && looksLikeHep(buf, start, stop)) return this.emitHep(bufferView(buf, start, stop));
    this.drop('not_sip', 'UDP payload is not a SIP message');
  }

  private tcpSegment(buf: Uint8Array, off: number, end: number): void {
    if (end - off < 20) return this.drop('malformed', 'short TCP header');
    const doff = ((buf[off + 12] ?? 0) >> 4) * 4;
    if (doff < 20 || off + doff > end) return this.drop('malformed', `bad TCP data offset ${doff}`);
    this.srcPort = ((buf[off] ?? 0) << 8) | (buf[off + 1] ?? 0);
    this.dstPort = ((buf[off + 2] ?? 0) << 8) | (buf[off + 3] ?? 0);
    if (this.listen !== null && !portsMatch(this.listen, this.srcPort, this.dstPort)) {
      return this.drop('port_filter', `TCP ${this.srcPort} -> ${this.dstPort} outside the port range`);
    }
    const seq = ((buf[off + 4] ?? 0) * 0x1000000 + ((buf[off + 5] ?? 0) << 16) + ((buf[off + 6] ?? 0) << 8) + (buf[off + 7] ?? 0)) >>> 0;
    const flags = buf[off + 13] ?? 0;
    const alen = this.family === 2 ? 4 : 16;
    const key = `${latin1(this.addrBuf, this.srcOff, alen)}${latin1(this.addrBuf, this.dstOff, alen)}${this.srcPort}|${this.dstPort}`;
    const view = bufferView(buf, 0, end);
    this.tcp.segment(key, this.makeTcpMeta, seq, flags, view, off + doff, end, this.nowMs);
    if (off + doff === end) this.drop('no_payload', 'TCP segment without data');
  }

  private sctp(buf: Uint8Array, off: number, end: number): void {
    if (end - off < 12) return this.drop('malformed', 'short SCTP header');
    this.srcPort = ((buf[off] ?? 0) << 8) | (buf[off + 1] ?? 0);
    this.dstPort = ((buf[off + 2] ?? 0) << 8) | (buf[off + 3] ?? 0);
    if (this.listen !== null && !portsMatch(this.listen, this.srcPort, this.dstPort)) {
      return this.drop('port_filter', `SCTP ${this.srcPort} -> ${this.dstPort} outside the port range`);
    }
    let p = off + 12;
    let data = 0;
    while (p + 4 <= end) {
      const type = buf[p] ?? 0;
      const chunkFlags = buf[p + 1] ?? 0;
      const len = ((buf[p + 2] ?? 0) << 8) | (buf[p + 3] ?? 0);
      if (len < 4 || p + len > end) return this.drop('malformed', 'bad SCTP chunk length');
      if (type === 0 && len >= 16) {
        data++;
        let msg: Uint8Array | null = buf;
        let from = p + 16;
        let to = p + len;
        if ((chunkFlags & 0x03) !== 0x03) {
          // Part of a message split over chunks: keyed by direction and verification tag.
          const alen = this.family === 2 ? 4 : 16;
          const key = `${latin1(this.addrBuf, this.srcOff, alen)}${latin1(this.addrBuf, this.dstOff, alen)}${latin1(buf, off, 8)}`;
          const tsn = ((buf[p + 4] ?? 0) * 0x1000000 + ((buf[p + 5] ?? 0) << 16) + ((buf[p + 6] ?? 0) << 8) + (buf[p + 7] ?? 0)) >>> 0;
          msg = this.sctpParts.add(key, tsn, chunkFlags, buf.subarray(from, to), this.nowMs);
          from = 0;
          to = msg?.length ?? 0;
        }
        if (msg === null) {
          // kept until the rest of the message arrives
        } else if (!looksLikeSip(msg, from, to)) this.drop('not_sip', 'SCTP payload is not a SIP message');
        else this.emit(bufferView(msg, from, to), IPPROTO_SCTP);
      }
      p += (len + 3) & ~3;
    }
    if (data === 0) this.drop('no_payload', 'SCTP packet without DATA chunks');
  }

  private emit(payload: Buffer, ipProto: number): void {
    this.counters.messages++;
    this.opts.emit({
      payload,
      family: this.family,
      proto: kamailioProtoFromIpProto(ipProto),
      srcIp: ipToText(this.family, this.addrBuf, this.srcOff),
      srcPort: this.srcPort,
      dstIp: ipToText(this.family, this.addrBuf, this.dstOff),
      dstPort: this.dstPort,
      hepTime: this.hasTs ? { sec: this.sec, usec: this.usec, captureId: 0 } : null,
      correlationId: null,
      protoType: 1,
      receivedAtUs: this.sec * 1_000_000 + this.usec,
      source: this.opts.source,
      listener: this.opts.listener,
    });
  }

  /** A HEP packet found in the capture, delivered as the HEP listener would deliver it. */
  private emitHep(packet: Buffer): void {
    const r = decodeHep(packet);
    if (!r.ok) return this.drop('hep_malformed', `HEP in the capture: ${r.error.message}`);
    this.counters.messages++;
    this.counters.hep++;
    this.opts.emit(hepToCapturedMessage(r.packet, this.opts.listener, this.sec * 1_000_000 + this.usec));
  }

  private emitTcp(meta: TcpMeta, data: Buffer, start: number, end: number, kind: TcpPayloadKind): void {
    if (kind === 'hep') return this.emitHep(data.subarray(start, end));
    this.counters.messages++;
    if (kind === 'ws') this.counters.websocket++;
    this.opts.emit({
      payload: data.subarray(start, end),
      family: meta.family,
      proto: kind === 'ws' ? KamailioProto.WS : TCP_PROTO,
      srcIp: meta.srcIp,
      srcPort: meta.srcPort,
      dstIp: meta.dstIp,
      dstPort: meta.dstPort,
      hepTime: this.hasTs ? { sec: this.sec, usec: this.usec, captureId: 0 } : null,
      correlationId: null,
      protoType: 1,
      receivedAtUs: this.sec * 1_000_000 + this.usec,
      source: this.opts.source,
      listener: this.opts.listener,
    });
  }
}

const TCP_PROTO: KamailioProtoValue = kamailioProtoFromIpProto(IPPROTO_TCP);

/**
 * HEP3 / EEP1 magic, or a HEPv1/v2 header (version 1 or 2, family AF_INET or AF_INET6, an IP
 * protocol HEP agents use: UDP, TCP, TLS marker 22, SCTP).
 */
function looksLikeHep(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < 16) return false;
  const b0 = buf[start];
  if (b0 === 0x48 || b0 === 0x45) {
    const magic = String.fromCharCode(b0, buf[start + 1] ?? 0, buf[start + 2] ?? 0, buf[start + 3] ?? 0);
    return magic === 'HEP3' || magic === 'EEP1';
  }
  const family = buf[start + 2];
  const proto = buf[start + 3];
  return (b0 === 1 || b0 === 2) && (family === 2 || family === 10) && (proto === 17 || proto === 6 || proto === 22 || proto === 132);
}

function sameBytes(buf: Uint8Array, at: number, want: Uint8Array): boolean {
  for (let i = 0; i < want.length; i++) if (buf[at + i] !== want[i]) return false;
  return true;
}

/** Address bytes as a string key (one char per byte). */
function latin1(buf: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(buf[at + i] ?? 0);
  return s;
}

/** A Buffer view of buf[start, end) without copying. */
function bufferView(buf: Uint8Array, start: number, end: number): Buffer {
  return Buffer.isBuffer(buf) ? buf.subarray(start, end) : Buffer.from(buf.buffer, buf.byteOffset + start, end - start);
}
