import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { importPcap } from '../../src/commands/import-pcap.js';
import { Stats } from '../../src/telemetry/stats.js';
import { PcapFormatError, PcapReader, type PcapRecord } from '../../src/raw/pcap-file.js';
import { BatchReader, BatchWriter } from '../../src/raw/message-batch.js';
import { LinkType } from '../../src/raw/link.js';
import type { CapturedMessage } from '../../src/capture/message.js';
import { collector, ethernet, INVITE, ipv4, ipv6, sll, udp, writePcap, writePcapng } from './_packets.js';

let dir = '';
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sipcapture-pcap-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

async function readAll(p: string): Promise<Array<Omit<PcapRecord, 'data'> & { data: Buffer }>> {
  const r = await PcapReader.open(p);
  const out = [];
  for (let rec = await r.next(); rec !== null; rec = await r.next()) out.push({ ...rec, data: Buffer.from(rec.data) });
  await r.close();
  return out;
}

const frame = ethernet(0x0800, ipv4({ src: '198.18.0.2', dst: '198.18.0.1', proto: 17, payload: udp(5070, 5060, INVITE()) }));

describe('pcap reader', () => {
  test('classic pcap: both byte orders, micro- and nanoseconds', async () => {
    for (const bigEndian of [false, true]) {
      for (const nanos of [false, true]) {
        const p = file(`c-${bigEndian}-${nanos}.pcap`, writePcap(LinkType.ETHERNET, [{ data: frame, sec: 1_700_000_000, frac: nanos ? 123_456_789 : 123_456 }, { data: frame.subarray(0, 30) }], { bigEndian, nanos }));
        const recs = await readAll(p);
        assert.equal(recs.length, 2);
        assert.deepEqual(recs[0]?.data, frame);
        assert.deepEqual([recs[0]?.linkType, recs[0]?.sec, recs[0]?.usec, recs[0]?.hasTimestamp], [1, 1_700_000_000, 123_456, true]);
        assert.equal(recs[1]?.data.length, 30);
      }
    }
  });

  test('pcapng: several interfaces with their own link type and resolution, EPB + SPB, unknown blocks skipped, both byte orders', async () => {
    const rawIp = ipv4({ src: '198.18.0.2', dst: '198.18.0.1', proto: 17, payload: udp(5070, 5060, INVITE()) });
    for (const bigEndian of [false, true]) {
      const p = file(
        `n-${bigEndian}.pcapng`,
        writePcapng(
          [{ linkType: LinkType.ETHERNET }, { linkType: LinkType.RAW, tsresol: 9 }, { linkType: LinkType.LINUX_SLL, tsresol: 0x80 | 20 }],
          [
            { iface: 0, data: frame, ts: 1_700_000_000_123_456n },
            { iface: 1, data: rawIp, ts: 1_700_000_000_987_654_321n },
            { iface: 2, data: sll(0x0800, rawIp), ts: (1_700_000_000n << 20n) + (1n << 19n) },
            { simple: true, data: frame },
          ],
          { bigEndian },
        ),
      );
      const recs = await readAll(p);
      assert.deepEqual(
        recs.map((r) => [r.linkType, r.sec, r.usec, r.hasTimestamp, r.interfaceId, r.data.length]),
        [
          [1, 1_700_000_000, 123_456, true, 0, frame.length],
          [101, 1_700_000_000, 987_654, true, 1, rawIp.length],
          [113, 1_700_000_000, 500_000, true, 2, rawIp.length + 16],
          [1, 0, 0, false, 0, frame.length],
        ],
      );
    }
  });

  test('large files stream in chunks (records across chunk borders)', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({ data: frame, sec: 1_700_000_000 + i }));
    const p = file('big.pcap', writePcap(LinkType.ETHERNET, many));
    const stats = new Stats(null);
    const sink = collector();
    const res = await importPcap(p, sink, stats);
    assert.equal(res.packets, 3000);
    assert.equal(res.messages, 3000);
    assert.equal(sink.messages[2999]?.hepTime?.sec, 1_700_002_999);
    assert.equal(stats.snapshot().received['pcap:big.pcap|pcap'], 3000);
  });

  test('bad files fail clearly', async () => {
    await assert.rejects(PcapReader.open(file('junk.pcap', Buffer.from('this is not a capture file at all'))), PcapFormatError);
    await assert.rejects(PcapReader.open(file('empty.pcap', Buffer.alloc(0))), /too short/);
    const truncated = writePcap(LinkType.ETHERNET, [{ data: frame }]).subarray(0, 50);
    await assert.rejects(readAll(file('trunc.pcap', truncated)), /truncated record/);
  });
});

describe('importPcap', () => {
  test('uses raw_socket_listen’s ports, counts drops in Stats, capture time on the message', async () => {
    const pk = (dport: number): Buffer => ethernet(0x0800, ipv4({ src: '198.18.0.2', dst: '198.18.0.1', proto: 17, payload: udp(40000, dport, INVITE()) }));
    const v6 = ethernet(0x86dd, ipv6({ src: '2001:db8::2', dst: '2001:db8::1', next: 17, payload: udp(5070, 5061, INVITE()) }));
    const p = file('ports.pcap', writePcap(LinkType.ETHERNET, [{ data: pk(5060), sec: 1_700_000_123, frac: 5 }, { data: pk(6000) }, { data: v6 }]));
    const stats = new Stats(null);
    const sink = collector();
    const res = await importPcap(p, sink, stats, { rawSocketListen: '10.0.0.0:5060-5090', listener: 'pcap:test' });
    assert.deepEqual([res.packets, res.messages, res.format], [3, 2, 'pcap']);
    assert.deepEqual(res.dropped, { port_filter: 1 });
    assert.equal(stats.snapshot().dropped['filtered'], 1);
    const m = sink.messages[0];
    assert.deepEqual([m?.source, m?.listener, m?.hepTime?.sec, m?.hepTime?.usec, m?.receivedAtUs], ['pcap', 'pcap:test', 1_700_000_123, 5, 1_700_000_123_000_005]);
    assert.deepEqual([sink.messages[1]?.family, sink.messages[1]?.srcIp], [10, '2001:db8::2']);
  });
});

describe('IPC batch codec', () => {
  test('round trip, split at every byte of the stream', () => {
    const w = new BatchWriter(64);
    const msgs: CapturedMessage[] = [
      { payload: INVITE(), family: 2, proto: 1, srcIp: '198.18.0.2', srcPort: 5070, dstIp: '198.18.0.1', dstPort: 5060, hepTime: null, correlationId: null, protoType: 1, receivedAtUs: 1_700_000_000_123_456, source: 'mirror', listener: 'x' },
      { payload: Buffer.alloc(0), family: 10, proto: 2, srcIp: '2001:db8::2', srcPort: 1, dstIp: '2001:db8::1', dstPort: 65535, hepTime: { sec: 1_700_000_000, usec: 999_999, captureId: 0 }, correlationId: null, protoType: 1, receivedAtUs: 1, source: 'ipip', listener: 'x' },
    ];
    for (const m of msgs) w.add(m);
    const first = w.take();
    w.add(msgs[0]!);
    const second = w.take();
    assert.equal(w.take(), null);
    const stream = Buffer.concat([first!, second!]);
    for (let cut = 0; cut <= stream.length; cut += 7) {
      const r = new BatchReader('mirror:test');
      const got: CapturedMessage[] = [];
      r.push(stream.subarray(0, cut), (m) => got.push({ ...m, payload: Buffer.from(m.payload) }));
      r.push(stream.subarray(cut), (m) => got.push({ ...m, payload: Buffer.from(m.payload) }));
      assert.equal(got.length, 3);
      assert.deepEqual(got[0], { ...msgs[0], listener: 'mirror:test' });
      assert.deepEqual(got[1], { ...msgs[1], listener: 'mirror:test' });
    }
    assert.throws(() => new BatchReader('x').push(Buffer.from([0, 0, 0, 1, 0]), () => undefined), /bad batch frame length/);
  });
});
