/**
 * Raw capture benchmark.
 * 1. Decode path in process (no root): Ethernet/IPv4/UDP SIP frames through RawDecoder and the
 *    IPC batch codec, frames per second.
 * 2. Live (root): SIP/UDP frames to a foreign MAC (the port-mirror case) flooded from a network
 *    namespace onto a veth pair, captured by RawCaptureSupervisor (cap in a capture child, kernel
 *    BPF on) and delivered to a counting sink. cap exposes no libpcap drop counter, so loss is
 *    sent − delivered. The highest paced rate with zero loss is reported.
 * Run: `node --import tsx bench/micro/raw-capture.bench.ts [packetsPerStep]`.
 */
import { Stats } from '../../src/telemetry/stats.js';
import { RawDecoder } from '../../src/raw/decoder.js';
import { LinkType } from '../../src/raw/link.js';
import { BatchReader, BatchWriter } from '../../src/raw/message-batch.js';
import { RawCaptureSupervisor } from '../../src/raw/supervisor.js';
import { ethernet, ipv4, sip, udp } from '../../test/raw/_packets.js';
import { b64, createNetns } from '../../test/raw/_netns.js';

const perStep = Number(process.argv[2] ?? 100_000);
const payload = sip('INVITE sip:bob@example.invalid SIP/2.0', 'v=0\r\n'.repeat(60)); // ~600 bytes

function decodeBench(): void {
  const frame = ethernet(0x0800, ipv4({ src: '198.18.0.2', dst: '198.18.0.1', proto: 17, payload: udp(40000, 5060, payload) }));
  const writer = new BatchWriter();
  const decoder = new RawDecoder({ source: 'mirror', listener: 'bench', listen: null, emit: (m) => writer.add(m) });
  const reader = new BatchReader('bench');
  let delivered = 0;
  const n = 500_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    decoder.decodeFrame(LinkType.ETHERNET, frame, 0, frame.length, 1_700_000_000, i % 1_000_000, false);
    if (writer.messages === 256) reader.push(writer.take() ?? Buffer.alloc(0), () => delivered++);
  }
  reader.push(writer.take() ?? Buffer.alloc(0), () => delivered++);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`decode + batch encode/decode: ${Math.round(n / secs).toLocaleString()} frames/s (${delivered} delivered, ${frame.length}-byte frames)`);
}

async function liveBench(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('live capture: skipped (needs root)');
    return;
  }
  const net = createNetns(false);
  let delivered = 0;
  const sup = new RawCaptureSupervisor({
    config: {
      raw_ipip_capture_on: 0,
      raw_moni_capture_on: 1,
      raw_socket_listen: `${net.hostIp}:5060-5090`,
      raw_interface: net.hostIf,
      raw_sock_children: 1,
      promiscuous_on: 1,
      raw_moni_bpf_on: 1,
    },
    sink: { accept: () => delivered++ },
    stats: new Stats(null),
    bufferBytes: 256 * 1024 * 1024,
  });
  try {
    await sup.start();
    const mac = (t: string): Buffer => Buffer.from(t.split(':').map((h) => parseInt(h, 16)));
    const frame = ethernet(0x0800, ipv4({ src: net.nsIp, dst: net.foreignIp, proto: 17, payload: udp(40000, 5060, payload) }), {
      dst: mac(net.foreignMac),
      src: mac(net.nsMac),
    });
    console.log(`live mirror capture, ${frame.length}-byte frames to a foreign MAC, ${perStep.toLocaleString()} per step, 256 MiB ring, BPF on:`);
    let best = 0;
    for (const pps of [25_000, 50_000, 100_000, 150_000, 200_000, 0]) {
      delivered = 0;
      const out = net.send([{ kind: 'flood', dev: net.nsIf, frame: b64(frame), count: perStep, pps }]);
      const sent = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { sent: number; pps: number };
      // Drain: wait until the count stops moving.
      let last = -1;
      while (delivered !== last) {
        last = delivered;
        await new Promise((r) => setTimeout(r, 500));
      }
      const loss = sent.sent - delivered;
      console.log(
        `  target ${pps === 0 ? 'max' : pps.toLocaleString()} pps: sent at ${Math.round(sent.pps).toLocaleString()} pps, delivered ${delivered.toLocaleString()}, lost ${loss}` +
          (sup.restarts > 0 || Object.keys(sup.dropCounts()).length > 0 ? ` (restarts ${sup.restarts}, drops ${JSON.stringify(sup.dropCounts())})` : ''),
      );
      if (loss === 0) best = Math.max(best, sent.pps);
    }
    console.log(`highest rate with zero loss: ${Math.round(best).toLocaleString()} pps (cap has no kernel drop counter: loss = sent - delivered)`);
  } finally {
    await sup.stop();
    net.destroy();
  }
}

decodeBench();
await liveBench();
