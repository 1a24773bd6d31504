/**
 * Valid inputs the mutators start from: the golden corpus (HEP v1/v2/v3 packets Kamailio
 * stored), packets built with encodeHep around the test SIP messages, and frames read from the
 * shared pcaps (read in place, never copied into the repository; absent in a fresh clone).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeHep } from '../../src/hep/decode.js';
import { encodeHep } from '../../src/hep/encode.js';
import { forEachPacket } from '../../src/raw/pcap-file.js';
import { RawDecoder } from '../../src/raw/decoder.js';
import { decodeLink, EtherType } from '../../src/raw/link.js';
import { readGoldenCorpus, sharedPcapsDir } from '../hep/_helpers.js';
import { sipReply, sipRequest } from '../helpers/sip-messages.js';
import { ethernet, fragmentV4, fragmentV6, ipv4, ipv6, sctp, sll, tcp, TCP, udp } from '../raw/_packets.js';
import { WORKED_REPLY, WORKED_REQUEST } from '../sip/fixtures.js';

/** One captured frame with its link type (LinkType value). */
export interface FrameSeed {
  linkType: number;
  data: Buffer;
}

export interface Seeds {
  /** HEP v1/v2/v3 datagrams. */
  hep: Buffer[];
  /** HEP3 packets only (for TCP streams). */
  hep3: Buffer[];
  /** SIP payloads. */
  sip: Buffer[];
  /** Single frames. */
  frames: FrameSeed[];
  /** Runs of consecutive frames (flows, fragment series, TCP segments). */
  sequences: FrameSeed[][];
  /** Where the seeds came from, for the report. */
  sources: string[];
}

/** Frames kept per pcap (the big RTP capture would otherwise dominate). */
const MAX_FRAMES_PER_PCAP = 400;
const SEQUENCE_LENGTH = 12;

function syntheticSip(): Buffer[] {
  const out: Buffer[] = [WORKED_REQUEST, WORKED_REPLY];
  for (const m of ['INVITE', 'REGISTER', 'BYE', 'OPTIONS', 'NOTIFY', 'MESSAGE', 'CANCEL', 'ACK']) {
    out.push(Buffer.from(sipRequest(m, `fuzz-${m.toLowerCase()}-0001@192.0.2.10`, m === 'NOTIFY' ? ['Event: refer;id=1'] : [], m === 'INVITE').text));
  }
  out.push(Buffer.from(sipReply(200, 'OK', 'INVITE', 'fuzz-reply-0001@192.0.2.10').text));
  out.push(Buffer.from(sipReply(401, 'Unauthorized', 'REGISTER', 'fuzz-reply-0002@192.0.2.10').text));
  return out;
}

function syntheticHep(sip: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  const base = { srcIp: '192.0.2.10', dstIp: '192.0.2.20', srcPort: 5060, dstPort: 5080, tsSec: 1700000000, tsUsec: 123456, captureId: 2001 };
  const v6 = { ...base, srcIp: '2001:db8::10', dstIp: '2001:db8::20' };
  for (const [i, payload] of sip.slice(0, 6).entries()) {
    out.push(encodeHep({ ...base, version: 1, payload }));
    out.push(encodeHep({ ...v6, version: 2, payload }));
    out.push(encodeHep({ ...base, payload, correlationId: `corr-${i}`, authKey: 'secret' }));
    out.push(encodeHep({ ...v6, payload, compress: (['zlib', 'gzip', 'raw'] as const)[i % 3] }));
    out.push(encodeHep({ ...base, payload, malformed: { magic: 'EEP1' }, extraChunks: [{ vendor: 2, type: 0x20, data: 'vendor' }] }));
  }
  out.push(encodeHep({ ...base, protoType: 5, payload: '{"type":200,"ssrc":1}', correlationId: 'rtcp-1' }));
  out.push(encodeHep({ ...base, protoType: 100, payload: 'log line', correlationId: 'log-1' }));
  return out;
}

/** Synthetic raw sequences: IPv4/IPv6 fragments, SIP over TCP in segments, SCTP fragments. */
function syntheticSequences(sip: readonly Buffer[]): FrameSeed[][] {
  const invite = sip.find((b) => b.length > 600) ?? sip[0]!;
  const seqs: FrameSeed[][] = [];
  const eth4 = (p: Buffer): FrameSeed => ({ linkType: 1, data: ethernet(EtherType.IPV4, p) });
  const eth6 = (p: Buffer): FrameSeed => ({ linkType: 1, data: ethernet(EtherType.IPV6, p) });
  seqs.push(fragmentV4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, id: 7, payload: udp(5060, 5060, invite) }, 256).map(eth4));
  seqs.push(fragmentV6({ src: 'fd00::1', dst: 'fd00::2', next: 17, payload: udp(5060, 5060, invite) }, 256, 99).map(eth6));
  // SIP over TCP: SYN, two messages in three segments, FIN
  const stream = Buffer.concat([invite, sip[1]!]);
  const seg = (seq: number, flags: number, data: Buffer): FrameSeed => eth4(ipv4({ src: '10.0.0.3', dst: '10.0.0.4', proto: 6, payload: tcp(40000, 5060, seq, flags, data) }));
  const cut1 = Math.floor(stream.length / 3);
  const cut2 = Math.floor((2 * stream.length) / 3);
  seqs.push([
    seg(1000, TCP.SYN, Buffer.alloc(0)),
    seg(1001, TCP.ACK | TCP.PSH, stream.subarray(0, cut1)),
    seg(1001 + cut2, TCP.ACK | TCP.PSH, stream.subarray(cut2)),
    seg(1001 + cut1, TCP.ACK | TCP.PSH, stream.subarray(cut1, cut2)),
    seg(1001 + stream.length, TCP.ACK | TCP.FIN, Buffer.alloc(0)),
  ]);
  // SCTP: one message in three DATA chunks (B, middle, E) and one whole
  const a = invite.subarray(0, 100);
  const b = invite.subarray(100, 300);
  const c = invite.subarray(300);
  const sctpFrame = (chunks: Array<[number, number, Buffer]>): FrameSeed => ({ linkType: 113, data: sll(EtherType.IPV4, ipv4({ src: '10.0.0.5', dst: '10.0.0.6', proto: 132, payload: sctp(5060, 5060, chunks) })) });
  seqs.push([sctpFrame([[5, 2, a]]), sctpFrame([[7, 1, c]]), sctpFrame([[6, 0, b]]), sctpFrame([[8, 3, sip[1]!]])]);
  // IPv6 UDP and IPIP (raw IP link)
  seqs.push([eth6(ipv6({ src: 'fd00::1', dst: 'fd00::2', next: 17, payload: udp(5062, 5060, sip[2]!) }))]);
  seqs.push([{ linkType: 101, data: ipv4({ src: '10.1.0.1', dst: '10.1.0.2', proto: 4, payload: ipv4({ src: '10.0.0.7', dst: '10.0.0.8', proto: 17, payload: udp(5060, 5060, sip[3]!) }) }) }]);
  return seqs;
}

/** UDP payload of a frame (IPv4/IPv6 without fragments), or null. */
function udpPayload(f: FrameSeed): Buffer | null {
  const link = decodeLink(f.linkType, f.data, 0, f.data.length);
  const b = f.data;
  let p = link.offset;
  let proto: number;
  if (link.etherType === EtherType.IPV4 && p + 20 <= b.length) {
    proto = b[p + 9]!;
    p += (b[p]! & 0x0f) * 4;
  } else if (link.etherType === EtherType.IPV6 && p + 40 <= b.length) {
    proto = b[p + 6]!;
    p += 40;
  } else return null;
  if (proto !== 17 || p + 8 > b.length) return null;
  return b.subarray(p + 8);
}

export async function loadSeeds(): Promise<Seeds> {
  const sources: string[] = [];
  const sip = syntheticSip();
  const hep: Buffer[] = [];
  sources.push(`${sip.length} SIP messages (test/helpers/sip-messages.ts, test/sip/fixtures.ts)`);

  const golden = readGoldenCorpus();
  for (const g of golden) {
    const packet = Buffer.from(g.hep_hex, 'hex');
    hep.push(packet);
    const d = decodeHep(packet);
    if (d.ok) sip.push(Buffer.from(d.packet.payload));
  }
  sources.push(`${golden.length} golden corpus packets (test/fixtures/golden)`);
  const synthetic = syntheticHep(sip);
  hep.push(...synthetic);
  sources.push(`${synthetic.length} encodeHep packets`);

  const frames: FrameSeed[] = [];
  const sequences = syntheticSequences(sip);
  const shared = sharedPcapsDir();
  if (shared.dir !== null) {
    const files = readdirSync(shared.dir).filter((f) => /\.pcap(ng)?$/.test(f)).sort();
    let fromPcaps = 0;
    for (const file of files) {
      const list: FrameSeed[] = [];
      await forEachPacket(join(shared.dir, file), (rec) => {
        if (list.length < MAX_FRAMES_PER_PCAP) list.push({ linkType: rec.linkType, data: Buffer.from(rec.data) });
      });
      frames.push(...list);
      fromPcaps += list.length;
      for (let i = 0; i < list.length; i += SEQUENCE_LENGTH) sequences.push(list.slice(i, i + SEQUENCE_LENGTH));
      // HEP datagrams inside the captures (HEP sent over UDP) and the SIP the raw decoder finds.
      const decoder = new RawDecoder({ source: 'pcap', listener: 'seed', listen: null, emit: (m) => sip.push(Buffer.from(m.payload)) });
      for (const f of list) {
        const payload = udpPayload(f);
        if (payload !== null && payload.length >= 6 && payload.toString('latin1', 0, 4) === 'HEP3') hep.push(Buffer.from(payload));
        decoder.decodeFrame(f.linkType, f.data, 0, f.data.length, 1700000000, 0, true);
      }
      decoder.flush();
    }
    sources.push(`${fromPcaps} frames from ${files.length} pcaps in ${shared.dir}`);
  } else {
    sources.push(`no pcaps (${shared.skip})`);
  }
  for (const s of sequences) frames.push(...s);
  const hep3 = hep.filter((b) => b.length >= 6 && (b.toString('latin1', 0, 4) === 'HEP3' || b.toString('latin1', 0, 4) === 'EEP1'));
  return { hep, hep3, sip, frames, sequences, sources };
}
