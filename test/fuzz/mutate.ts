/**
 * Mutation operators. Generic ones work on any bytes (bit flips, interesting values, length
 * fields set to 0/1/max/off-by-one, range duplication/removal/truncation, splicing, random
 * insert/delete); structure-aware ones know HEP3 chunks, SIP lines and IP headers, so mutated
 * inputs get past the first length check and reach the deeper code.
 */
import type { Rng } from './rng.js';

const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x20, 0x09, 0x0a, 0x0d, 0x3a, 0x3b, 0x3c, 0x3e, 0x40, 0x22, 0x2c];
const INTERESTING_16 = [0, 1, 2, 5, 6, 7, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff];
const SIP_TOKENS = [
  '\r\n',
  '\n',
  '\r\n ',
  '\r\n\t',
  ':',
  ';',
  ',',
  '<',
  '>',
  '"',
  '\\',
  '@',
  '=',
  '*',
  ' ',
  '\0',
  'sip:',
  'sips:',
  'tel:',
  '[',
  ']',
  '[::1]',
  ';tag=',
  ';branch=',
  'SIP/2.0',
  'SIP/2.0 ',
  'Content-Length: ',
  'l: 99999999999',
  'Via: ',
  'v: SIP/2.0/UDP ',
  'From: ',
  'To: ',
  'Call-ID: ',
  'CSeq: ',
  'Contact: ',
  'm: *',
  'Authorization: Digest username=',
  'Proxy-Authorization: Digest username="',
  'P-Asserted-Identity: ',
  'Remote-Party-ID: ',
  'X-CID: ',
  'Reason: ',
  'Event: refer',
  '\r\n\r\n',
  '99999999999999999999',
  '-1',
  '%',
  '%zz',
  '\u00ff\u00fe',
  '\u00e9',
];
const SIP_TOKEN_BYTES = SIP_TOKENS.map((t) => Buffer.from(t, 'latin1'));

/** Applies 1–`max` random mutations (generic plus the structure-aware `extra` ones). */
export function mutate(rng: Rng, input: Buffer, others: readonly Buffer[], extra: readonly Mutator[] = [], max = 4): Buffer {
  let out = input;
  const rounds = 1 + rng.int(max);
  for (let r = 0; r < rounds; r++) {
    const ops = extra.length > 0 && rng.chance(0.5) ? extra : GENERIC;
    out = rng.pick(ops)(rng, out, others);
  }
  return out;
}

export type Mutator = (rng: Rng, input: Buffer, others: readonly Buffer[]) => Buffer;

const copyOf = (b: Buffer): Buffer => Buffer.from(b);

export const bitFlip: Mutator = (rng, input) => {
  if (input.length === 0) return input;
  const out = copyOf(input);
  const n = 1 + rng.int(8);
  for (let i = 0; i < n; i++) {
    const at = rng.int(out.length);
    out[at] = out[at]! ^ (1 << rng.int(8));
  }
  return out;
};

export const setInteresting8: Mutator = (rng, input) => {
  if (input.length === 0) return input;
  const out = copyOf(input);
  out[rng.int(out.length)] = rng.pick(INTERESTING_8);
  return out;
};

/** A u16 (either byte order) set to 0/1/max/… or its current value ± 1: length fields. */
export const setLength16: Mutator = (rng, input) => {
  if (input.length < 2) return input;
  const out = copyOf(input);
  // Headers sit at the front: prefer the first 80 bytes.
  const at = rng.chance(0.7) ? rng.int(Math.min(out.length - 1, 80)) : rng.int(out.length - 1);
  const le = rng.chance(0.15);
  const cur = le ? out.readUInt16LE(at) : out.readUInt16BE(at);
  const v = rng.chance(0.5) ? rng.pick(INTERESTING_16) : (cur + rng.pick([-2, -1, 1, 2, out.length, -out.length])) & 0xffff;
  if (le) out.writeUInt16LE(v & 0xffff, at);
  else out.writeUInt16BE(v & 0xffff, at);
  return out;
};

export const setLength32: Mutator = (rng, input) => {
  if (input.length < 4) return input;
  const out = copyOf(input);
  const at = rng.int(Math.min(out.length - 3, 80));
  out.writeUInt32BE(rng.pick([0, 1, 0x7fffffff, 0x80000000, 0xffffffff, (out.readUInt32BE(at) + 1) >>> 0, (out.readUInt32BE(at) - 1) >>> 0]), at);
  return out;
};

/** A random range copied and inserted elsewhere (or repeated in place). */
export const duplicateRange: Mutator = (rng, input) => {
  if (input.length === 0) return input;
  const a = rng.int(input.length);
  const len = 1 + rng.int(Math.min(input.length - a, 256));
  const at = rng.chance(0.5) ? a + len : rng.int(input.length + 1);
  const times = rng.chance(0.1) ? 1 + rng.int(64) : 1;
  const piece = input.subarray(a, a + len);
  return Buffer.concat([input.subarray(0, at), ...Array.from({ length: times }, () => piece), input.subarray(at)]);
};

export const removeRange: Mutator = (rng, input) => {
  if (input.length === 0) return input;
  const a = rng.int(input.length);
  const len = 1 + rng.int(Math.min(input.length - a, rng.chance(0.5) ? 8 : 512));
  return Buffer.concat([input.subarray(0, a), input.subarray(a + len)]);
};

export const truncate: Mutator = (rng, input) => (input.length === 0 ? input : copyOf(input.subarray(0, rng.int(input.length))));

export const splice: Mutator = (rng, input, others) => {
  if (others.length === 0) return input;
  const other = rng.pick(others);
  const cutA = rng.int(input.length + 1);
  const cutB = rng.int(other.length + 1);
  return Buffer.concat([input.subarray(0, cutA), other.subarray(cutB)]);
};

export const insertRandom: Mutator = (rng, input) => {
  const at = rng.int(input.length + 1);
  return Buffer.concat([input.subarray(0, at), rng.bytes(1 + rng.smallLength(64)), input.subarray(at)]);
};

export const insertToken: Mutator = (rng, input) => {
  const at = rng.int(input.length + 1);
  return Buffer.concat([input.subarray(0, at), rng.pick(SIP_TOKEN_BYTES), input.subarray(at)]);
};

export const GENERIC: readonly Mutator[] = [
  bitFlip,
  bitFlip,
  setInteresting8,
  setInteresting8,
  setLength16,
  setLength16,
  setLength32,
  duplicateRange,
  removeRange,
  truncate,
  splice,
  insertRandom,
  insertToken,
];

// ---------------------------------------------------------------- HEP3 chunks

interface ChunkSpan {
  start: number;
  end: number;
}

/** The chunk spans of a HEP3 packet as far as they can be walked (no validation). */
export function hep3Chunks(buf: Buffer): ChunkSpan[] {
  const spans: ChunkSpan[] = [];
  if (buf.length < 6) return spans;
  let pos = 6;
  while (pos + 6 <= buf.length) {
    const len = buf.readUInt16BE(pos + 4);
    if (len < 6 || pos + len > buf.length) break;
    spans.push({ start: pos, end: pos + len });
    pos += len;
  }
  return spans;
}

/** Rewrites the total length after a chunk-level change, so the packet gets past the header check. */
export function fixHep3Total(buf: Buffer): Buffer {
  if (buf.length >= 6 && buf.length <= 0xffff && buf.toString('latin1', 0, 4) === 'HEP3') buf.writeUInt16BE(buf.length, 4);
  return buf;
}

function rebuildHep3(buf: Buffer, chunks: readonly Buffer[]): Buffer {
  return fixHep3Total(Buffer.concat([Buffer.from(buf.subarray(0, 6)), ...chunks]));
}

/** Chunk-level mutations of a HEP3 packet: drop, duplicate, swap, retype, resize one chunk. */
export const hep3ChunkMutation: Mutator = (rng, input, others) => {
  const spans = hep3Chunks(input);
  if (spans.length === 0) return bitFlip(rng, input, others);
  const chunks = spans.map((s) => Buffer.from(input.subarray(s.start, s.end)));
  const i = rng.int(chunks.length);
  const c = chunks[i]!;
  switch (rng.int(8)) {
    case 0:
      chunks.splice(i, 1);
      break;
    case 1:
      chunks.splice(rng.int(chunks.length + 1), 0, Buffer.from(c));
      break;
    case 2: {
      const j = rng.int(chunks.length);
      chunks[i] = chunks[j]!;
      chunks[j] = c;
      break;
    }
    case 3:
      // type: another generic type, 0 (invalid), or an unknown one
      c.writeUInt16BE(rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0a, 0x0b, 0x0c, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x20, 0x29, 0xffff]), 2);
      break;
    case 4:
      // vendor
      c.writeUInt16BE(rng.pick([0, 1, 2, 0xffff]), 0);
      break;
    case 5:
      // chunk length: 0/1/5/6/±1/max, total length fixed afterwards
      c.writeUInt16BE(rng.pick([0, 1, 5, 6, 7, (c.length - 1) & 0xffff, c.length + 1, 0xffff]), 4);
      break;
    case 6: {
      // resize the data (and its length field): 0, 1, 3, 17 bytes or much longer
      const n = rng.pick([0, 1, 2, 3, 4, 5, 15, 16, 17, 200]);
      const grown = Buffer.concat([c.subarray(0, 6), n <= c.length - 6 ? c.subarray(6, 6 + n) : Buffer.concat([c.subarray(6), rng.bytes(n - (c.length - 6))])]);
      grown.writeUInt16BE(grown.length, 4);
      chunks[i] = grown;
      break;
    }
    default: {
      // a chunk from another packet (splice at chunk granularity)
      const other = others.length > 0 ? rng.pick(others) : input;
      const os = hep3Chunks(other);
      if (os.length > 0) {
        const s = rng.pick(os);
        chunks.splice(rng.int(chunks.length + 1), 0, Buffer.from(other.subarray(s.start, s.end)));
      }
    }
  }
  return rebuildHep3(input, chunks);
};

/** A deflate bomb-ish or corrupt compressed chunk (0x0010) appended. */
export const hep3CompressedChunk: Mutator = (rng, input) => {
  const spans = hep3Chunks(input);
  if (spans.length === 0) return input;
  const data = rng.chance(0.5) ? rng.bytes(rng.smallLength(64)) : Buffer.concat([Buffer.from([0x78, 0x9c]), rng.bytes(rng.smallLength(64))]);
  const chunk = Buffer.alloc(6 + data.length);
  chunk.writeUInt16BE(0x0010, 2);
  chunk.writeUInt16BE(chunk.length, 4);
  data.copy(chunk, 6);
  const kept = spans.map((s) => input.subarray(s.start, s.end)).filter((c) => c.readUInt16BE(2) !== 0x000f);
  return rebuildHep3(input, [...kept, chunk]);
};

export const HEP3_MUTATORS: readonly Mutator[] = [hep3ChunkMutation, hep3ChunkMutation, hep3ChunkMutation, hep3CompressedChunk];

// ---------------------------------------------------------------- SIP lines

function splitLines(buf: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0a) {
      lines.push(buf.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < buf.length) lines.push(buf.subarray(start));
  return lines;
}

const HEADER_NAMES = ['Via', 'v', 'From', 'f', 'To', 't', 'Call-ID', 'i', 'CSeq', 'Contact', 'm', 'Content-Length', 'l', 'Event', 'o', 'X-CID', 'P-Asserted-Identity', 'Authorization', 'Proxy-Authorization', 'Reason', 'Diversion'];

/** Line-level mutations of a SIP message: drop, duplicate, swap, fold, rename, bare LF, long values. */
export const sipLineMutation: Mutator = (rng, input, others) => {
  const lines = splitLines(input);
  if (lines.length === 0) return insertToken(rng, input, others);
  const i = rng.int(lines.length);
  const line = lines[i]!;
  switch (rng.int(9)) {
    case 0:
      lines.splice(i, 1);
      break;
    case 1:
      lines.splice(rng.int(lines.length + 1), 0, line);
      break;
    case 2: {
      const j = rng.int(lines.length);
      lines[i] = lines[j]!;
      lines[j] = line;
      break;
    }
    case 3:
      // folding: continuation line
      lines.splice(i + 1, 0, Buffer.from(`${rng.pick([' ', '\t', '  '])}${rng.pick(['x', ';a=b', ', <sip:c@d>', '', '"q"'])}\r\n`, 'latin1'));
      break;
    case 4: {
      // another header name on this line
      const colon = line.indexOf(0x3a);
      if (colon > 0) lines[i] = Buffer.concat([Buffer.from(rng.pick(HEADER_NAMES), 'latin1'), rng.chance(0.2) ? Buffer.from(' \t') : Buffer.alloc(0), line.subarray(colon)]);
      break;
    }
    case 5:
      // CRLF → LF, or CR alone
      if (line.length >= 2 && line[line.length - 2] === 0x0d) lines[i] = Buffer.concat([line.subarray(0, line.length - 2), Buffer.from(rng.chance(0.5) ? '\n' : '\r')]);
      break;
    case 6: {
      // a long value: many parameters or a long token
      const colon = line.indexOf(0x3a);
      const filler = rng.pick([';p=v', ',<sip:a@b>', 'a', '%41', ' ', '"', '\\"']).repeat(1 + rng.int(rng.chance(0.1) ? 4000 : 40));
      const at = colon < 0 ? 0 : colon + 1;
      lines[i] = Buffer.concat([line.subarray(0, at), Buffer.from(filler, 'latin1'), line.subarray(at)]);
      break;
    }
    case 7:
      // a whole header line from another message
      if (others.length > 0) {
        const ol = splitLines(rng.pick(others));
        if (ol.length > 0) lines.splice(rng.int(lines.length + 1), 0, rng.pick(ol));
      }
      break;
    default:
      // an empty value
      {
        const colon = line.indexOf(0x3a);
        if (colon > 0) lines[i] = Buffer.concat([line.subarray(0, colon + 1), Buffer.from(rng.pick(['', ' ', ' <>', ' <sip:>', ' "', ' ;tag=', ' sip:@', ' 1', ' x y z']), 'latin1'), Buffer.from('\r\n')]);
      }
  }
  return Buffer.concat(lines);
};

export const SIP_MUTATORS: readonly Mutator[] = [sipLineMutation, sipLineMutation, sipLineMutation, insertToken, insertToken];

// ---------------------------------------------------------------- IP headers

/** After a mutation: set the IPv4 total length / IPv6 payload length at `ipAt` to what is present. */
export function fixIpLength(buf: Buffer, ipAt: number): Buffer {
  if (ipAt < 0 || ipAt + 40 > buf.length) return buf;
  const v = buf[ipAt]! >> 4;
  if (v === 4 && buf.length - ipAt <= 0xffff) buf.writeUInt16BE(buf.length - ipAt, ipAt + 2);
  if (v === 6 && buf.length - ipAt - 40 <= 0xffff) buf.writeUInt16BE(buf.length - ipAt - 40, ipAt + 4);
  return buf;
}
