/**
 * The pcap writer: what it writes, the project's own reader and raw decoder read back — the
 * same payloads, addresses, ports and times, IPv4 and IPv6 — with valid checksums.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { forEachPacket } from '../../src/raw/pcap-file.js';
import { RawDecoder } from '../../src/raw/decoder.js';
import { pcapFile, type PcapPacket } from '../../src/raw/pcap-writer.js';
import type { CapturedMessage } from '../../src/capture/message.js';
import { INVITE, checksum, sip } from './_packets.js';

const PACKETS: PcapPacket[] = [
  { microTs: 1_796_556_393_765_622, sourceIp: '192.0.2.10', sourcePort: 5060, destinationIp: '198.51.100.1', destinationPort: 5080, payload: INVITE() },
  { microTs: 1_796_556_393_769_879, sourceIp: '2001:db8::1', sourcePort: 5062, destinationIp: '2001:db8::2', destinationPort: 5060, payload: sip('SIP/2.0 100 Trying') },
  // Odd length, to exercise the checksum's last byte.
  { microTs: 1_796_556_394_000_001, sourceIp: '2001:db8::2', sourcePort: 5060, destinationIp: '2001:db8::1', destinationPort: 5062, payload: sip('SIP/2.0 180 Ringing', 'x') },
];

test('pcapFile: read back by PcapReader and RawDecoder, packet for packet', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sipcapture-pcapw-'));
  try {
    const file = path.join(dir, 'call.pcap');
    writeFileSync(file, pcapFile(PACKETS));
    const got: { msg: CapturedMessage; sec: number; usec: number }[] = [];
    const frames: Buffer[] = [];
    let sec = 0;
    let usec = 0;
    const decoder = new RawDecoder({ source: 'pcap', listener: 'test', listen: null, emit: (msg) => got.push({ msg: { ...msg, payload: Buffer.from(msg.payload) }, sec, usec }) });
    const n = await forEachPacket(file, (rec) => {
      frames.push(Buffer.from(rec.data));
      sec = rec.sec;
      usec = rec.usec;
      assert.equal(rec.linkType, 1);
      assert.equal(rec.originalLength, rec.data.length);
      decoder.decodeFrame(rec.linkType, rec.data, 0, rec.data.length, rec.sec, rec.usec, true);
    });
    assert.equal(n, PACKETS.length);
    assert.equal(got.length, PACKETS.length, JSON.stringify(decoder.drops.take()));
    PACKETS.forEach((p, i) => {
      const m = got[i]!;
      assert.deepEqual(m.msg.payload, p.payload);
      assert.deepEqual([m.msg.srcIp, m.msg.srcPort, m.msg.dstIp, m.msg.dstPort], [p.sourceIp, p.sourcePort, p.destinationIp, p.destinationPort]);
      assert.equal(m.sec * 1e6 + m.usec, p.microTs);
    });
    // IPv4 header checksum, and the IPv6 UDP checksum over its pseudo-header, verify to 0.
    assert.equal(checksum(frames[0]!.subarray(14, 34)), 0);
    for (const f of frames.slice(1)) {
      const ip = f.subarray(14, 54);
      const udp = f.subarray(54);
      const pseudo = Buffer.alloc(40);
      ip.copy(pseudo, 0, 8, 40);
      pseudo.writeUInt32BE(udp.length, 32);
      pseudo[39] = 17;
      assert.equal(checksum(Buffer.concat([pseudo, udp])), 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
