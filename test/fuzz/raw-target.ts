/**
 * `raw`: the raw-capture decoder (src/net: link layers, IPv4/IPv6, tunnels, UDP, TCP stream
 * reassembly, SCTP, fragment reassembly) fed single frames and sequences of frames (reordered,
 * duplicated, dropped, mutated) from the pcaps and synthetic flows. One decoder lives for the
 * whole run with small reassembly limits, so its retained state must stay within them.
 */
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { CapturedMessage } from '../../src/capture/message.js';
import { DropReason, type DropReasonValue } from '../../src/telemetry/drop-reasons.js';
import { RawDecoder } from '../../src/raw/decoder.js';
import { dropReasonOf, isRawDropKind, type RawDropKind } from '../../src/raw/drops.js';
import type { FragmentLimits } from '../../src/raw/fragments.js';
import { LinkType } from '../../src/raw/link.js';
import { rawListenOf } from '../../src/raw/port-filter.js';
import type { SctpLimits } from '../../src/raw/sctp.js';
import type { TcpLimits } from '../../src/raw/tcp-stream.js';
import { ethernet, ipv4, tcp, TCP } from '../raw/_packets.js';
import { check, type FuzzInput, type FuzzTarget, type Outcome } from './harness.js';
import { fixIpLength, GENERIC, mutate } from './mutate.js';
import type { Rng } from './rng.js';
import type { FrameSeed, Seeds } from './seeds.js';

/** Small limits so eviction and timeouts happen often. */
const FRAG: FragmentLimits = { maxDatagrams: 32, maxBytes: 256 * 1024, timeoutMs: 30_000 };
const TCPL: TcpLimits = { maxStreams: 32, maxMessageBytes: 16 * 1024, maxOutOfOrderBytes: 16 * 1024, maxOutOfOrderSegments: 64, idleTimeoutMs: 60_000 };
const SCTPL: SctpLimits = { maxChunks: 64, maxBytes: 256 * 1024, timeoutMs: 30_000 };
/** One datagram/segment may exceed a byte bound before the eviction that follows it. */
const SLACK = 65535;

/** param values besides link types. */
const IPIP = -1;
/** Added to the link type: use the decoder with a port filter and promiscuous_on = 0. */
const FILTERED = 0x10000;

const LINK_TYPES = Object.values(LinkType) as number[];
const KINDS: readonly RawDropKind[] = [
  'port_filter', 'dst_ip_filter', 'other_host', 'not_ip', 'malformed', 'unsupported_protocol', 'not_sip', 'no_payload',
  'sctp_fragment', 'ipc_backlog', 'kernel_drop', 'frag_timeout', 'frag_evicted', 'frag_overlap', 'frag_malformed',
  'frag_discarded', 'tcp_retransmission', 'tcp_gap', 'tcp_not_sip', 'tcp_oversize', 'tcp_bad_content_length',
  'tcp_incomplete', 'tcp_evicted', 'ws_not_sip', 'hep_malformed',
];
const rawLabel = (kind: RawDropKind): string => `${dropReasonOf(kind)}/${kind}`;
const DROP_REASONS: ReadonlySet<DropReasonValue> = new Set(Object.values(DropReason));

interface Private {
  streams: Map<string, { pending: Buffer | null; oooBytes: number; ooo: unknown[] }>;
  heldBytes: number;
  heldChunks: number;
  order: unknown[];
}
/** White-box view of retained state the classes do not expose. */
const priv = (o: object, key: keyof Private): unknown => Reflect.get(o, key);

function pickSequence(rng: Rng, seeds: Seeds, others: readonly Buffer[]): FrameSeed[] {
  const seq = rng.pick(seeds.sequences).slice(0, 1 + rng.int(12));
  // reorder, drop, duplicate, mutate: what a lossy, reordering capture does and worse
  if (rng.chance(0.4)) {
    for (let i = seq.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [seq[i], seq[j]] = [seq[j]!, seq[i]!];
    }
  }
  if (rng.chance(0.3) && seq.length > 1) seq.splice(rng.int(seq.length), 1);
  if (rng.chance(0.3)) seq.splice(rng.int(seq.length + 1), 0, rng.pick(seq));
  const mutations = rng.int(3);
  for (let m = 0; m < mutations; m++) {
    const i = rng.int(seq.length);
    const f = seq[i]!;
    seq[i] = { linkType: f.linkType, data: mutateFrame(rng, f.data, others) };
  }
  return seq;
}

function mutateFrame(rng: Rng, data: Buffer, others: readonly Buffer[]): Buffer {
  const out = mutate(rng, data, others, GENERIC, 3);
  // Often keep the IP length consistent so the mutation reaches the transport layer.
  return rng.chance(0.5) ? fixIpLength(Buffer.from(out), out.length > 14 && (out[14]! >> 4 === 4 || out[14]! >> 4 === 6) ? 14 : 0) : out;
}

/** Many small TCP segments of one stream, out of order: the reassembly bounds under pressure. */
function tcpFlood(rng: Rng, base: number): FrameSeed[] {
  const frames: FrameSeed[] = [];
  const n = 8 + rng.int(120);
  const sport = 40000 + rng.int(64);
  const start = rng.next();
  for (let k = 0; k < n; k++) {
    const size = rng.chance(0.7) ? 1 + rng.int(8) : 1 + rng.int(1400);
    const seq = (start + (rng.chance(0.5) ? k * 8 : rng.int(64 * 1024))) >>> 0;
    const flags = rng.pick([TCP.ACK, TCP.ACK | TCP.PSH, TCP.SYN, TCP.FIN | TCP.ACK, TCP.RST]);
    const payload = rng.chance(0.3) ? Buffer.from(rng.pick(['INVITE sip:a@b SIP/2.0\r\n', 'Content-Length: 99999\r\n', '\r\n\r\n', 'SIP/2.0 200 OK\r\n'])) : rng.bytes(size);
    frames.push({ linkType: 1, data: ethernet(0x0800, ipv4({ src: `10.9.${base & 0xff}.1`, dst: '10.9.0.2', proto: 6, payload: tcp(sport, 5060, seq, flags, payload) })) });
  }
  return frames;
}

/** IPv4 fragments with random ids/offsets: the fragment table bounds under pressure. */
function fragmentFlood(rng: Rng): FrameSeed[] {
  const frames: FrameSeed[] = [];
  const n = 4 + rng.int(60);
  for (let k = 0; k < n; k++) {
    const len = rng.chance(0.5) ? 8 * (1 + rng.int(180)) : rng.int(1480);
    frames.push({
      linkType: 101,
      data: ipv4({ src: '10.8.0.1', dst: '10.8.0.2', proto: rng.pick([17, 6, 132, 4]), id: rng.int(200), fragOffset: 8 * rng.int(8000), more: rng.chance(0.7), payload: rng.bytes(len) }),
    });
  }
  return frames;
}

export function rawTarget(seeds: Seeds): FuzzTarget {
  let clockMs = 1_700_000_000_000;
  let peakFragBytes = 0;
  let peakTcpStreamBytes = 0;
  let peakSctpBytes = 0;
  let peakSctpOrder = 0;
  const emitted: CapturedMessage[] = [];
  const emit = (m: CapturedMessage): void => {
    check(m.payload.length > 0, 'empty message emitted');
    check(m.family === 2 || m.family === 10, `family ${m.family}`);
    check(isIP(m.srcIp) !== 0 && isIP(m.dstIp) !== 0, () => `addresses ${m.srcIp} ${m.dstIp}`);
    check(m.srcPort >= 0 && m.srcPort <= 0xffff && m.dstPort >= 0 && m.dstPort <= 0xffff, 'port out of range');
    emitted.push(m);
  };
  const limits = { fragments: FRAG, tcp: TCPL, sctp: SCTPL, emit };
  const open = new RawDecoder({ source: 'pcap', listener: 'fuzz', listen: null, ...limits });
  const filtered = new RawDecoder({
    source: 'mirror',
    listener: 'fuzz-filtered',
    listen: rawListenOf('10.0.0.2:5060-5090', true),
    promiscuous: false,
    localMacs: [Buffer.from([0x02, 0, 0, 0, 0, 0x0a])],
    ...limits,
  });
  const decoders = [open, filtered];
  const others = seeds.frames.filter((_, i) => i % 16 === 0).map((f) => f.data);
  const ipipSeeds = seeds.frames.filter((f) => f.linkType === 101);

  const take = (d: RawDecoder, outcome: Outcome): number => {
    let n = 0;
    for (const { kind, count } of d.drops.take()) {
      check(isRawDropKind(kind), `unknown raw drop kind ${kind}`);
      check(DROP_REASONS.has(dropReasonOf(kind)), `kind ${kind} maps to no DropReason`);
      check(count > 0, `drop ${kind} with count ${count}`);
      for (let k = 0; k < count; k++) outcome.rejections.push(rawLabel(kind));
      n += count;
    }
    return n;
  };
  const held = (d: RawDecoder): number =>
    d.fragments.counters.fragments + d.tcp.counters.segments + (priv(d.sctpParts, 'heldChunks') as number) + d.sctpParts.reassembled;

  return {
    name: 'raw',
    what: 'RawDecoder: link/IPv4/IPv6/tunnels/UDP/TCP/SCTP, fragments, TCP streams',
    reasons: new Set(KINDS.map(rawLabel)),
    generate(rng, index) {
      const r = rng.int(100);
      let frames: FrameSeed[];
      let param: number;
      if (r < 35) {
        const f = rng.pick(seeds.frames);
        frames = [{ linkType: f.linkType, data: mutateFrame(rng, f.data, others) }];
      } else if (r < 70) {
        frames = pickSequence(rng, seeds, others);
      } else if (r < 76) {
        frames = tcpFlood(rng, index);
      } else if (r < 82) {
        frames = fragmentFlood(rng);
      } else if (r < 92) {
        frames = [{ linkType: rng.chance(0.8) ? rng.pick(LINK_TYPES) : rng.int(300), data: rng.bytes(rng.smallLength(1600)) }];
      } else {
        // IPIP raw socket: the packet starts at the outer IPv4 header
        const data = ipipSeeds.length === 0 ? rng.bytes(64) : mutateFrame(rng, rng.pick(ipipSeeds).data, others);
        return { param: IPIP, parts: [data], nums: [rng.int(10)] };
      }
      param = frames[0]?.linkType ?? 1;
      if (rng.chance(0.15)) param += FILTERED;
      const nums = frames.map(() => {
        const t = rng.int(100);
        return t < 90 ? rng.int(20) : t < 96 ? 31_000 + rng.int(40_000) : t < 99 ? -rng.int(60_000) : rng.pick([-1_000_000_000, 1_000_000_000]);
      });
      // sequences share one link type (a pcap's frames); frames of other link types are not mixed in
      return { param, parts: frames.map((f) => f.data), nums };
    },
    execute(input: FuzzInput): Outcome {
      const outcome: Outcome = { rejections: [], accepted: 0, maxCallMs: 0 };
      const d = input.param !== IPIP && input.param >= FILTERED ? filtered : open;
      const linkType = input.param === IPIP ? IPIP : input.param & 0xffff;
      for (let k = 0; k < input.parts.length; k++) {
        const frame = input.parts[k]!;
        clockMs = Math.max(0, clockMs + (input.nums[k] ?? 0));
        const sec = Math.floor(clockMs / 1000);
        const usec = (clockMs % 1000) * 1000;
        const before = emitted.length;
        const heldBefore = held(d);
        const framesBefore = d.counters.frames;
        const t0 = performance.now();
        if (linkType === IPIP) d.decodeIpip(frame, 0, frame.length, sec, usec, true);
        else d.decodeFrame(linkType, frame, 0, frame.length, sec, usec, true);
        outcome.maxCallMs = Math.max(outcome.maxCallMs ?? 0, performance.now() - t0);
        check(d.counters.frames === framesBefore + 1, 'frame not counted');
        const dropped = take(d, outcome);
        const out = emitted.length - before;
        outcome.accepted += out;
        // Nothing lost silently: a frame becomes a message, a counted drop, or reassembly state.
        check(out + dropped > 0 || held(d) !== heldBefore, () => `frame ${k} (${frame.length} bytes) vanished: no message, no drop, nothing held`);
        emitted.length = 0;
      }
      if (input.nums.length > 0 && (input.nums[0] ?? 0) % 7 === 3) {
        for (const x of decoders) {
          x.expire(clockMs);
          take(x, outcome);
        }
      }
      return outcome;
    },
    checkState() {
      for (const d of decoders) {
        check(d.fragments.pendingCount <= FRAG.maxDatagrams, `fragment table: ${d.fragments.pendingCount} datagrams > ${FRAG.maxDatagrams}`);
        check(d.fragments.pendingBytes <= FRAG.maxBytes + SLACK, `fragment table: ${d.fragments.pendingBytes} bytes > ${FRAG.maxBytes}`);
        peakFragBytes = Math.max(peakFragBytes, d.fragments.pendingBytes);
        check(d.tcp.streamCount <= TCPL.maxStreams, `TCP: ${d.tcp.streamCount} streams > ${TCPL.maxStreams}`);
        const streams = priv(d.tcp, 'streams') as Private['streams'];
        for (const s of streams.values()) {
          const bytes = (s.pending?.length ?? 0) + s.oooBytes;
          peakTcpStreamBytes = Math.max(peakTcpStreamBytes, bytes);
          check(bytes <= TCPL.maxMessageBytes + TCPL.maxOutOfOrderBytes + 2 * SLACK, `TCP stream holds ${bytes} bytes`);
        }
        const sctpBytes = priv(d.sctpParts, 'heldBytes') as number;
        const sctpOrder = (priv(d.sctpParts, 'order') as unknown[]).length;
        peakSctpBytes = Math.max(peakSctpBytes, sctpBytes);
        peakSctpOrder = Math.max(peakSctpOrder, sctpOrder);
        check((priv(d.sctpParts, 'heldChunks') as number) <= SCTPL.maxChunks + 1 && sctpBytes <= SCTPL.maxBytes + SLACK, 'SCTP reassembly beyond its limits');
        check(sctpOrder <= 4 * SCTPL.maxChunks + 2048, `SCTP arrival list holds ${sctpOrder} entries`);
      }
    },
    finish(): Outcome {
      const outcome: Outcome = { rejections: [], accepted: 0 };
      for (const d of decoders) {
        d.flush();
        take(d, outcome);
        check(d.fragments.pendingCount === 0 && d.tcp.streamCount === 0, 'state left after flush()');
      }
      outcome.accepted += emitted.length;
      emitted.length = 0;
      return outcome;
    },
    stateReport() {
      return {
        peak_fragment_bytes: peakFragBytes,
        peak_tcp_stream_bytes: peakTcpStreamBytes,
        peak_sctp_bytes: peakSctpBytes,
        peak_sctp_order_entries: peakSctpOrder,
      };
    },
    fresh() {
      return rawTarget(seeds);
    },
  };
}
