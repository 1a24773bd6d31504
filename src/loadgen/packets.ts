/**
 * Turns flow templates into HEP packets fast enough for ~100k msg/s from one thread.
 *
 * Every message of every flow variant is encoded once per HEP version with `encodeHep`; the
 * factory remembers where the flow-token placeholders and the timestamp fields sit in the
 * encoded bytes. A packet is then one buffer copy plus a few in-place writes: the flow token
 * (unique Call-ID, tags, branches) and the send time, so latency can be measured from the row's
 * micro_ts.
 */
import { randomBytes } from 'node:crypto';
import { encodeHep } from '../hep/encode.js';
import { HepChunkType, HEP3_CHUNK_HEADER_LENGTH, HEP3_HEADER_LENGTH, HEP_V1V2_FIXED_LENGTH } from '../hep/constants.js';
import { FLOW_TOKEN_LENGTH, FLOW_TOKEN_PLACEHOLDER, flowTemplates, mixWeights, prng, type FlowKind, type MixName } from './mix.js';

export type HepVersion = 1 | 2 | 3;

/** A message encoded once; `build` patches copies of it. */
export interface PacketTemplate {
  readonly bytes: Buffer;
  /** Where the flow token goes (each FLOW_TOKEN_LENGTH bytes). */
  readonly tokenOffsets: readonly number[];
  /** Offset of the u32 seconds / microseconds fields, -1 when the version has no timestamp (v1). */
  readonly tsSecOffset: number;
  readonly tsUsecOffset: number;
  /** v2 writes the time block little-endian (host order of Kamailio's C struct). */
  readonly littleEndian: boolean;
  readonly label: string;
  readonly cseqMethod: string;
}

export interface PacketFactoryOptions {
  mix: MixName;
  versions: readonly HepVersion[];
  /** HEP capture id (v2 u16, v3 u32); default 2001. */
  captureId?: number;
  /** Flow variants rendered per flow kind (different users, agents, optional headers). Default 64. */
  variants?: number;
  /** PRNG seed for the variants and the flow order. Default 1. */
  seed?: number;
  /**
   * Start of every flow token (hex, up to 8 characters); default random. Different senders (workers,
   * runs) must use different tags so that their Call-IDs never collide.
   */
  runTag?: string;
}

const PLACEHOLDER_BYTES = Buffer.from(FLOW_TOKEN_PLACEHOLDER, 'latin1');
const HEX = Buffer.from('0123456789abcdef', 'latin1');

function findAll(haystack: Buffer, needle: Buffer): number[] {
  const out: number[] = [];
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + needle.length)) out.push(at);
  return out;
}

/** Offsets of the TS_SEC and TS_USEC data in an encoded HEP3 packet. */
function hep3TimeOffsets(buf: Buffer): [number, number] {
  let sec = -1;
  let usec = -1;
  for (let at = HEP3_HEADER_LENGTH; at + HEP3_CHUNK_HEADER_LENGTH <= buf.length; ) {
    const vendor = buf.readUInt16BE(at);
    const type = buf.readUInt16BE(at + 2);
    const len = buf.readUInt16BE(at + 4);
    if (vendor === 0 && type === HepChunkType.TS_SEC) sec = at + HEP3_CHUNK_HEADER_LENGTH;
    if (vendor === 0 && type === HepChunkType.TS_USEC) usec = at + HEP3_CHUNK_HEADER_LENGTH;
    if (len < HEP3_CHUNK_HEADER_LENGTH) break;
    at += len;
  }
  return [sec, usec];
}

/** Encodes one message template as a HEP packet and locates its patchable fields. */
export function compileTemplate(
  msg: { text: string; srcIp: string; srcPort: number; dstIp: string; dstPort: number; label: string; cseqMethod: string },
  version: HepVersion,
  captureId: number,
): PacketTemplate {
  const bytes = encodeHep({
    version,
    srcIp: msg.srcIp,
    dstIp: msg.dstIp,
    srcPort: msg.srcPort,
    dstPort: msg.dstPort,
    // Placeholder time: patched per packet. v1 has no time field (the daemon uses its receive time).
    tsSec: 1,
    tsUsec: 0,
    captureId,
    payload: msg.text,
  });
  const tokenOffsets = findAll(bytes, PLACEHOLDER_BYTES);
  let tsSecOffset = -1;
  let tsUsecOffset = -1;
  if (version === 2) {
    const addrBytes = (bytes[1]! - HEP_V1V2_FIXED_LENGTH) / 2;
    tsSecOffset = HEP_V1V2_FIXED_LENGTH + 2 * addrBytes;
    tsUsecOffset = tsSecOffset + 4;
  } else if (version === 3) {
    [tsSecOffset, tsUsecOffset] = hep3TimeOffsets(bytes);
  }
  return { bytes, tokenOffsets, tsSecOffset, tsUsecOffset, littleEndian: version === 2, label: msg.label, cseqMethod: msg.cseqMethod };
}

/** Writes `value` as `digits` lower-case hex characters at `at`. */
function writeHex(buf: Buffer, at: number, value: number, digits: number): void {
  let v = value;
  for (let i = digits - 1; i >= 0; i--) {
    buf[at + i] = HEX[v % 16]!;
    v = Math.floor(v / 16);
  }
}

const FLOW_KINDS: readonly FlowKind[] = ['call', 'register', 'options'];

/**
 * Produces packets flow by flow: every flow gets a fresh token, its messages are returned in
 * order, then the next flow (kind picked by the mix's weights, variant at random) starts.
 */
export class PacketFactory {
  /** templates[kind index][variant][message] per version. */
  private readonly templates = new Map<HepVersion, PacketTemplate[][][]>();
  private readonly kinds: FlowKind[] = [];
  private readonly cumulative: number[] = [];
  private readonly rnd: () => number;
  private readonly token = Buffer.alloc(FLOW_TOKEN_LENGTH);
  private readonly tagDigits: number;
  private flowSeq = 0;
  private kindIndex = 0;
  private variant = 0;
  private position = 0;
  private flowLength = 0;
  /** Messages produced per flow kind (index as in `kindNames`). */
  readonly messagesByKind: number[];
  readonly kindNames: readonly FlowKind[];
  /** Whole flows started. */
  flows = 0;

  constructor(opts: PacketFactoryOptions) {
    const variants = opts.variants ?? 64;
    const seed = opts.seed ?? 1;
    const captureId = opts.captureId ?? 2001;
    const runTag = (opts.runTag ?? randomBytes(4).toString('hex')).toLowerCase();
    if (!/^[0-9a-f]{1,8}$/.test(runTag)) throw new RangeError(`runTag must be 1 to 8 hex digits, got ${JSON.stringify(runTag)}`);
    this.token.write(runTag, 0, 'latin1');
    this.tagDigits = runTag.length;
    const weights = mixWeights(opts.mix);
    let total = 0;
    for (const kind of FLOW_KINDS) {
      const w = weights[kind];
      if (w === undefined || w <= 0) continue;
      this.kinds.push(kind);
      total += w;
      this.cumulative.push(total);
    }
    for (let i = 0; i < this.cumulative.length; i++) this.cumulative[i]! /= total;
    this.kindNames = this.kinds;
    this.messagesByKind = this.kinds.map(() => 0);
    for (const version of new Set(opts.versions)) {
      this.templates.set(
        version,
        this.kinds.map((kind, k) =>
          flowTemplates(kind, variants, seed * 31 + k).map((flow) => flow.messages.map((m) => compileTemplate(m, version, captureId))),
        ),
      );
    }
    if (this.templates.size === 0) throw new RangeError('at least one HEP version is needed');
    this.rnd = prng(seed ^ 0x5bd1e995);
  }

  private startFlow(): void {
    const r = this.rnd();
    let k = 0;
    while (k < this.cumulative.length - 1 && r >= this.cumulative[k]!) k++;
    this.kindIndex = k;
    const first = this.templates.values().next().value as PacketTemplate[][][];
    const variants = first[k]!;
    this.variant = Math.floor(this.rnd() * variants.length);
    this.flowLength = variants[this.variant]!.length;
    this.position = 0;
    writeHex(this.token, this.tagDigits, this.flowSeq++, FLOW_TOKEN_LENGTH - this.tagDigits);
    this.flows++;
  }

  /** The template the next call to `next` will use (for tests and summaries). */
  peek(version: HepVersion): PacketTemplate {
    if (this.position >= this.flowLength) this.startFlow();
    return this.templates.get(version)![this.kindIndex]![this.variant]![this.position]!;
  }

  /** The next packet of the traffic, in `version`, stamped with `tsUs` (µs since the epoch). */
  next(version: HepVersion, tsUs: number): Buffer {
    if (this.position >= this.flowLength) this.startFlow();
    const byVersion = this.templates.get(version);
    if (byVersion === undefined) throw new RangeError(`HEP version ${version} was not prepared`);
    const t = byVersion[this.kindIndex]![this.variant]![this.position++]!;
    this.messagesByKind[this.kindIndex]!++;
    const out = Buffer.allocUnsafe(t.bytes.length);
    t.bytes.copy(out);
    const offs = t.tokenOffsets;
    for (let i = 0; i < offs.length; i++) this.token.copy(out, offs[i]);
    if (t.tsSecOffset >= 0) {
      const sec = Math.floor(tsUs / 1e6);
      const usec = tsUs - sec * 1e6;
      if (t.littleEndian) {
        out.writeUInt32LE(sec, t.tsSecOffset);
        out.writeUInt32LE(usec, t.tsUsecOffset);
      } else {
        out.writeUInt32BE(sec, t.tsSecOffset);
        out.writeUInt32BE(usec, t.tsUsecOffset);
      }
    }
    return out;
  }
}
