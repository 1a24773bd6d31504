import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeHep } from '../../src/hep/decode.js';
import { HepStreamFramer } from '../../src/hep/framer.js';
import type { HepPacket } from '../../src/hep/types.js';
import { sharedPcapsDir } from './_helpers.js';

// Real HEP3 captures from ../shared/pcaps (read-only, not copied into the project).

interface LinkPacket {
  linkType: number;
  data: Buffer;
}

/** Minimal pcap / pcapng reader: just the packet bytes and their link type. */
function readCapture(file: Buffer): LinkPacket[] {
  const out: LinkPacket[] = [];
  const magic = file.readUInt32LE(0);
  if (magic === 0x0a0d0d0a) {
    // pcapng: blocks of (type, length, body, length); byte order from the section header.
    const ifaces: number[] = [];
    let le = true;
    let off = 0;
    while (off + 12 <= file.length) {
      const bom = file.readUInt32LE(off) === 0x0a0d0d0a ? file.readUInt32LE(off + 8) : 0;
      if (bom === 0x1a2b3c4d) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      const u32 = (o: number): number => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
      const u16 = (o: number): number => (le ? file.readUInt16LE(o) : file.readUInt16BE(o));
      const type = u32(off);
      const length = u32(off + 4);
      if (length < 12 || off + length > file.length) throw new Error(`bad pcapng block at ${off}`);
      if (type === 1) ifaces.push(u16(off + 8));
      if (type === 6) {
        const iface = u32(off + 8);
        const capLen = u32(off + 20);
        out.push({ linkType: ifaces[iface] ?? -1, data: file.subarray(off + 28, off + 28 + capLen) });
      }
      if (type === 3) {
        out.push({ linkType: ifaces[0] ?? -1, data: file.subarray(off + 12, off + length - 4) });
      }
      off += length;
    }
    return out;
  }
  // Classic pcap (µs or ns, either byte order).
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && file.readUInt32BE(0) !== 0xa1b2c3d4 && file.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const u32 = (o: number): number => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const linkType = u32(20) & 0xffff;
  let off = 24;
  while (off + 16 <= file.length) {
    const capLen = u32(off + 8);
    out.push({ linkType, data: file.subarray(off + 16, off + 16 + capLen) });
    off += 16 + capLen;
  }
  return out;
}

interface Transport {
  proto: 'udp' | 'tcp';
  flow: string;
  payload: Buffer;
}

/** Link layer → IPv4/IPv6 → UDP/TCP payload. */
function transportPayload(p: LinkPacket): Transport | null {
  let ip: Buffer;
  const d = p.data;
  switch (p.linkType) {
    case 1: {
      let etherOff = 12;
      while (d.readUInt16BE(etherOff) === 0x8100) etherOff += 4;
      ip = d.subarray(etherOff + 2);
      break;
    }
    case 113:
      ip = d.subarray(16);
      break;
    case 276:
      ip = d.subarray(20);
      break;
    case 101:
    case 228:
    case 229:
      ip = d;
      break;
    case 0:
      ip = d.subarray(4);
      break;
    default:
      return null;
  }
  const version = (ip[0] ?? 0) >> 4;
  let l4: Buffer;
  let proto: number;
  let flow: string;
  if (version === 4) {
    const ihl = ((ip[0] ?? 0) & 0x0f) * 4;
    proto = ip[9] ?? 0;
    l4 = ip.subarray(ihl, ip.readUInt16BE(2));
    flow = ip.subarray(12, 20).toString('hex');
  } else if (version === 6) {
    proto = ip[6] ?? 0;
    l4 = ip.subarray(40, 40 + ip.readUInt16BE(4));
    flow = ip.subarray(8, 40).toString('hex');
  } else {
    return null;
  }
  if (proto === 17) return { proto: 'udp', flow: `${flow}:${l4.readUInt32BE(0)}`, payload: l4.subarray(8) };
  if (proto === 6) return { proto: 'tcp', flow: `${flow}:${l4.readUInt32BE(0)}`, payload: l4.subarray(((l4[12] ?? 0) >> 4) * 4) };
  return null;
}

/** HEP messages in a capture: UDP datagrams as they are, TCP streams through the framer. */
function hepMessages(file: string): Buffer[] {
  const frames: Buffer[] = [];
  const framers = new Map<string, HepStreamFramer>();
  for (const lp of readCapture(readFileSync(file))) {
    const t = transportPayload(lp);
    if (t === null || t.payload.length === 0) continue;
    if (t.proto === 'udp') {
      frames.push(t.payload);
      continue;
    }
    let framer = framers.get(t.flow);
    if (framer === undefined) framers.set(t.flow, (framer = new HepStreamFramer()));
    for (const e of framer.push(t.payload)) {
      if (e.kind === 'error') assert.fail(`${file}: framing error ${e.message}`);
      frames.push(Buffer.from(e.frame));
    }
  }
  return frames;
}

function decodeAll(messages: Buffer[]): HepPacket[] {
  return messages.map((m, i) => {
    const r = decodeHep(m);
    if (!r.ok) assert.fail(`message ${i}: ${r.error.code} ${r.error.message}`);
    return r.packet;
  });
}

const SIP_START = /^(?:[A-Z]+ sip:[^ ]+ SIP\/2\.0|SIP\/2\.0 \d{3} )/;

const shared = sharedPcapsDir();

describe('real HEP3 captures', { skip: shared.skip }, () => {
  const dir = shared.dir ?? '';

  test('hep3-compressed.pcapng: chunk 0x0010 inflates to SIP', () => {
    const packets = decodeAll(hepMessages(join(dir, 'hep3-compressed.pcapng')));
    assert.equal(packets.length, 21);
    const distinct = new Set<string>();
    for (const p of packets) {
      assert.equal(p.version, 3);
      assert.equal(p.compressed, true);
      assert.equal(p.protoType, 1);
      assert.equal(p.family, 2);
      assert.equal(p.ipProto, 6);
      assert.equal(p.authKey, 'myHep');
      assert.ok(p.tsSec > 1_400_000_000);
      assert.ok(p.chunks.some((c) => c.vendor === 0 && c.type === 0x10));
      const text = p.payload.toString('latin1');
      assert.match(text, SIP_START);
      assert.match(text, /\r\nCall-ID: ?[^\r\n]+\r\n/i);
      assert.ok(text.includes('\r\n\r\n'), 'complete header section');
      const cl = /\r\nContent-Length: *(\d+)/i.exec(text);
      if (cl) assert.equal(p.payload.length - (text.indexOf('\r\n\r\n') + 4), Number(cl[1]));
      distinct.add(text);
    }
    assert.equal(distinct.size, 7, 'each packet is captured 3 times');
    assert.ok([...distinct].some((t) => t.startsWith('REGISTER ')));
    assert.ok([...distinct].some((t) => t.startsWith('SIP/2.0 401 ')));
  });

  test('hep3-mixed.pcap: SIP, log and RTCP packets with auth key and correlation id', () => {
    const packets = decodeAll(hepMessages(join(dir, 'hep3-mixed.pcap')));
    assert.equal(packets.length, 8);
    assert.deepEqual(
      packets.map((p) => p.protoType).sort((a, b) => a - b),
      [1, 1, 1, 1, 1, 1, 5, 100],
    );
    for (const p of packets) {
      assert.equal(p.compressed, false);
      assert.equal(p.authKey, 'myHep');
      assert.equal(p.correlationId, 'qgf3dm9rudi@127.0.0.1');
      if (p.protoType === 1) assert.match(p.payload.toString('latin1'), SIP_START);
    }
    const rtcp = packets.find((p) => p.protoType === 5);
    assert.ok(rtcp);
    assert.doesNotThrow(() => JSON.parse(rtcp.payload.toString('utf8')) as unknown);
  });

  test('the same messages as one TCP stream through the framer, split anywhere', () => {
    const messages = hepMessages(join(dir, 'hep3-mixed.pcap'));
    const stream = Buffer.concat(messages);
    for (const step of [1, 7, 100, 1000, stream.length]) {
      const framer = new HepStreamFramer();
      const frames: Buffer[] = [];
      for (let at = 0; at < stream.length; at += step) {
        for (const e of framer.push(stream.subarray(at, at + step))) {
          assert.ok(e.kind === 'frame');
          frames.push(Buffer.from(e.frame));
        }
      }
      assert.deepEqual(frames, messages, `step ${step}`);
    }
  });
});
