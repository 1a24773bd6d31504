/**
 * `hep-udp`: decodeHep (v1, v2, v3, compressed payloads) and hepToCapturedMessage on mutated and
 * random datagrams. `hep-tcp`: HepStreamFramer on HEP3 streams (valid, mutated, with garbage
 * between frames) cut at random chunk boundaries, each frame decoded as the TCP listener does.
 */
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { decodeHep } from '../../src/hep/decode.js';
import { HepStreamFramer, type HepDesyncReason } from '../../src/hep/framer.js';
import { hepToCapturedMessage } from '../../src/hep/to-captured.js';
import type { HepErrorCode } from '../../src/hep/types.js';
import { check, type FuzzInput, type FuzzTarget, type Outcome } from './harness.js';
import { fixHep3Total, GENERIC, HEP3_MUTATORS, mutate } from './mutate.js';
import type { Rng } from './rng.js';
import type { Seeds } from './seeds.js';

const HEP_CODES: Record<HepErrorCode, true> = {
  too_short: true,
  bad_version: true,
  bad_family: true,
  bad_length: true,
  bad_chunk_length: true,
  bad_chunk_size: true,
  missing_chunk: true,
  address_family_mismatch: true,
  bad_compressed_payload: true,
  payload_too_large: true,
  no_payload: true,
  bad_chunk_type: true,
};
const hepLabel = (code: string): string => `${code === 'payload_too_large' ? DropReason.PAYLOAD_TOO_LARGE : DropReason.HEP_MALFORMED}/${code}`;
const HEP_REASONS = Object.keys(HEP_CODES).map(hepLabel);

/** A small inflate bound for some inputs, to exercise the bomb check. */
const SMALL_INFLATE = 256;

/** A mutated HEP datagram, or random bytes (sometimes behind a plausible first byte or magic). */
function hepDatagram(rng: Rng, seeds: Seeds): Buffer {
  if (rng.chance(0.1)) {
    const body = rng.bytes(rng.smallLength(1500));
    const prefix = rng.pick([Buffer.alloc(0), Buffer.from([1]), Buffer.from([2]), Buffer.from([2, 16, 2, 17]), Buffer.from('HEP3'), Buffer.from('EEP1')]);
    return fixMaybe(rng, Buffer.concat([prefix, body]));
  }
  const seed = rng.pick(seeds.hep);
  const isV3 = seed[0] !== 1 && seed[0] !== 2;
  const out = mutate(rng, seed, seeds.hep, isV3 ? HEP3_MUTATORS : GENERIC);
  return isV3 ? fixMaybe(rng, out) : out;
}

function fixMaybe(rng: Rng, b: Buffer): Buffer {
  return rng.chance(0.6) ? fixHep3Total(Buffer.from(b)) : b;
}

/** Decodes and converts one packet; checks what a decoded packet promises. */
function decodeOne(buf: Buffer, maxInflated: number | undefined, outcome: Outcome): void {
  const t0 = performance.now();
  const r = decodeHep(buf, maxInflated === undefined ? undefined : { maxInflatedLength: maxInflated });
  outcome.maxCallMs = Math.max(outcome.maxCallMs ?? 0, performance.now() - t0);
  if (!r.ok) {
    check(typeof r.error.message === 'string' && r.error.message.length > 0, `error ${r.error.code} without a message`);
    outcome.rejections.push(hepLabel(r.error.code));
    return;
  }
  const p = r.packet;
  check(p.version === 1 || p.version === 2 || p.version === 3, `version ${p.version}`);
  check(p.family === 2 || p.family === 10, `family ${p.family}`);
  check(isIP(p.srcIp) === (p.family === 2 ? 4 : 6) && isIP(p.dstIp) === (p.family === 2 ? 4 : 6), () => `addresses ${p.srcIp} ${p.dstIp} for family ${p.family}`);
  check(p.srcPort >= 0 && p.srcPort <= 0xffff && p.dstPort >= 0 && p.dstPort <= 0xffff, 'port out of range');
  check(p.payload.length > 0, 'empty payload accepted');
  if (p.compressed) check(p.payload.length <= (maxInflated ?? 1024 * 1024), `inflated ${p.payload.length} bytes beyond the bound`);
  else check(p.payload.buffer === buf.buffer && p.payload.byteOffset >= buf.byteOffset && p.payload.byteOffset + p.payload.length <= buf.byteOffset + buf.length, 'payload is not a view inside the packet');
  const m = hepToCapturedMessage(p, 'fuzz', 1_700_000_000_000_000);
  check(m.payload === p.payload && m.proto >= 0 && m.proto <= 4, `captured proto ${m.proto}`);
  check((m.hepTime === null) === (p.tsSec === 0), 'hepTime must be null exactly when tsSec is 0');
  outcome.accepted++;
}

export function hepUdpTarget(seeds: Seeds): FuzzTarget {
  return {
    name: 'hep-udp',
    what: 'decodeHep v1/v2/v3 + hepToCapturedMessage',
    reasons: new Set(HEP_REASONS),
    generate(rng) {
      return { param: rng.chance(0.1) ? SMALL_INFLATE : 0, parts: [hepDatagram(rng, seeds)], nums: [] };
    },
    execute(input: FuzzInput): Outcome {
      const outcome: Outcome = { rejections: [], accepted: 0 };
      decodeOne(input.parts[0] ?? Buffer.alloc(0), input.param === 0 ? undefined : input.param, outcome);
      return outcome;
    },
    fresh() {
      return hepUdpTarget(seeds);
    },
  };
}

// ---------------------------------------------------------------- TCP framing

const DESYNC: Record<HepDesyncReason, true> = { bad_magic: true, bad_length: true, oversized: true, bad_chunks: true };
const tcpLabel = (code: string, reason: string): string => `${DropReason.TCP_FRAMING}/${code}:${reason}`;
const TCP_REASONS = [...Object.keys(DESYNC).map((r) => tcpLabel('desync', r)), tcpLabel('truncated', 'eof')];

/** The stream of one connection: frames, mutated frames and garbage, then cut into chunks. */
function hepStream(rng: Rng, seeds: Seeds): Buffer[] {
  const items: Buffer[] = [];
  const n = 1 + rng.int(8);
  for (let k = 0; k < n; k++) {
    const r = rng.int(10);
    if (r < 5) items.push(rng.pick(seeds.hep3));
    else if (r < 8) items.push(fixMaybe(rng, mutate(rng, rng.pick(seeds.hep3), seeds.hep3, HEP3_MUTATORS, 2)));
    else if (r < 9) items.push(rng.bytes(rng.smallLength(300)));
    // garbage that looks like the start of a frame: magic, partial magic, bad lengths
    else items.push(Buffer.concat([Buffer.from(rng.pick(['HEP3', 'HEP', 'HE', 'H', 'HEP3\x00', 'HEP3\x00\x05', 'HEP3\xff\xff', 'EEP1']), 'latin1'), rng.bytes(rng.int(8))]));
  }
  let stream: Buffer = Buffer.concat(items);
  if (rng.chance(0.2)) stream = mutate(rng, stream, seeds.hep3, GENERIC, 2);
  if (rng.chance(0.1)) stream = stream.subarray(0, rng.int(stream.length + 1));
  const chunks: Buffer[] = [];
  const mode = rng.int(4);
  for (let pos = 0; pos < stream.length; ) {
    const size = mode === 0 ? 1 : mode === 1 ? 1 + rng.int(8) : mode === 2 ? 1 + rng.int(200) : 1 + rng.int(stream.length);
    chunks.push(Buffer.from(stream.subarray(pos, pos + size))); // own buffers: the framer keeps views
    pos += size;
  }
  if (rng.chance(0.05)) chunks.splice(rng.int(chunks.length + 1), 0, Buffer.alloc(0));
  return chunks;
}

export function hepTcpTarget(seeds: Seeds): FuzzTarget {
  let peakBuffered = 0;
  return {
    name: 'hep-tcp',
    what: 'HepStreamFramer (tcp_max_frame) + decodeHep of each frame',
    reasons: new Set([...TCP_REASONS, ...HEP_REASONS]),
    generate(rng) {
      // tcp_max_frame: mostly the default, sometimes small so real frames are oversized
      const maxFrame = rng.pick([65535, 65535, 65535, 6, 7, 100, 600, 1500, 4096]);
      return { param: maxFrame, parts: hepStream(rng, seeds), nums: [] };
    },
    execute(input: FuzzInput): Outcome {
      const outcome: Outcome = { rejections: [], accepted: 0, maxCallMs: 0 };
      const framer = new HepStreamFramer({ maxFrame: input.param });
      const stream = Buffer.concat(input.parts);
      let at = 0; // bytes of the stream accounted for (framed or counted), in order
      const take = (events: ReturnType<HepStreamFramer['push']>): void => {
        for (const e of events) {
          if (e.kind === 'frame') {
            const f = e.frame;
            check(f.length >= 6 && f.toString('latin1', 0, 4) === 'HEP3' && f.readUInt16BE(4) === f.length, 'frame does not start with HEP3 + its own length');
            check(f.length <= framer.maxFrame, `frame of ${f.length} bytes > tcp_max_frame ${framer.maxFrame}`);
            check(stream.subarray(at, at + f.length).equals(f), `frame at stream offset ${at} is not the stream's bytes`);
            at += f.length;
            decodeOne(f, undefined, outcome);
          } else {
            check(e.skipped > 0, `${e.code} event skipping ${e.skipped} bytes`);
            check(e.code === 'desync' ? e.reason in DESYNC : e.reason === 'eof', `event ${e.code} with reason ${e.reason}`);
            at += e.skipped;
            outcome.rejections.push(tcpLabel(e.code, e.reason));
          }
        }
      };
      let pushed = 0;
      for (const chunk of input.parts) {
        pushed += chunk.length;
        const t0 = performance.now();
        const events = framer.push(chunk);
        outcome.maxCallMs = Math.max(outcome.maxCallMs ?? 0, performance.now() - t0);
        take(events);
        // Memory bound: at most one frame (≤ maxFrame) or a partial header is held.
        check(framer.buffered <= framer.maxFrame, `framer holds ${framer.buffered} bytes > tcp_max_frame ${framer.maxFrame}`);
        peakBuffered = Math.max(peakBuffered, framer.buffered);
        // Every byte pushed so far is in a frame, counted as skipped, or held.
        check(at + framer.skipping + framer.buffered === pushed, () => `pushed ${pushed} bytes: ${at} framed/reported + ${framer.skipping} skipping + ${framer.buffered} held`);
      }
      take(framer.end());
      check(at === stream.length, () => `${stream.length} bytes pushed, ${at} framed or counted`);
      check(framer.buffered === 0, 'framer not reset by end()');
      return outcome;
    },
    stateReport() {
      return { peak_framer_buffered_bytes: peakBuffered };
    },
    fresh() {
      return hepTcpTarget(seeds);
    },
  };
}
