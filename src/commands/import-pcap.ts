/**
 * `sipcapture import FILE.pcap -c CONFIG`: reads a pcap/pcapng file through the same RawDecoder
 * as live mirror capture and hands every SIP message to the sink. Packets carry the file's
 * capture time (hepTime and receivedAtUs), so rows get the time the packet was seen. HEP found
 * in the file (a capture of agents' HEP traffic) is decoded and delivered as if received, with
 * the HEP packet's own time and addresses.
 *
 * Every packet of the file is accounted for once, by what happened while it was decoded: it
 * completed at least one message, or a drop was counted for it, or neither — then its bytes
 * joined a reassembly (TCP stream, IP fragments, SCTP chunks) that a later packet completed, or
 * that was counted as a drop when it ended incomplete.
 */
import path from 'node:path';
import type { MessageSink } from '../capture/message.js';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Stats } from '../telemetry/stats.js';
import { RawDecoder } from '../raw/decoder.js';
import { DropTally, reportDrops } from '../raw/drops.js';
import type { FragmentLimits } from '../raw/fragments.js';
import { rawListenOf } from '../raw/port-filter.js';
import type { TcpLimits } from '../raw/tcp-stream.js';
import { PcapReader } from '../raw/pcap-file.js';

export interface ImportPcapOptions {
  /** raw_socket_listen of the config: its port range filters (its IP is ignored, as in mirror mode). '' = all ports. */
  rawSocketListen?: string;
  /** Listener name in messages and stats; default `pcap:<file name>`. */
  listener?: string;
  fragments?: Partial<FragmentLimits>;
  tcp?: Partial<TcpLimits>;
  /** Let the event loop run (e.g. database batches) after this many messages. Default 1000. */
  yieldEvery?: number;
}

/** packets = withMessages + joined + dropped, always. */
export interface PacketAccounting {
  /** Packets that completed at least one message. */
  withMessages: number;
  /** Packets whose bytes joined a message another packet completed (or a reassembly dropped later, counted there). */
  joined: number;
  /** Packets for which a drop was counted and no message came out. */
  dropped: number;
}

export interface ImportPcapResult {
  /** Packets read from the file. */
  packets: number;
  /** Messages handed to the sink (a packet may hold several). */
  messages: number;
  /** Of those, decoded from HEP packets found in the file. */
  hep: number;
  /** Of those, SIP taken from WebSocket frames. */
  websocket: number;
  accounting: PacketAccounting;
  /** Packets not delivered, by raw drop kind (all also counted in Stats). */
  dropped: Record<string, number>;
  /** 'pcap' or 'pcapng'. */
  format: 'pcap' | 'pcapng';
  /** IP datagrams and SCTP messages put together from fragments. */
  reassembled: { ip: number; sctp: number };
  /** TCP segments seen and how many arrived out of order. */
  tcp: { segments: number; outOfOrder: number };
}

/** Reads `file` and feeds `sink`. Rejects on an unreadable or malformed file (after delivering what came before). */
export async function importPcap(file: string, sink: MessageSink, stats: Stats, opts: ImportPcapOptions = {}): Promise<ImportPcapResult> {
  const listen = rawListenOf(opts.rawSocketListen ?? '', false);
  const listener = opts.listener ?? `pcap:${path.basename(file)}`;
  const drops = new DropTally();
  const dropped: Record<string, number> = {};
  let messages = 0;
  let sinceYield = 0;
  const decoder = new RawDecoder({
    source: 'pcap',
    hep: true,
    listener,
    listen: listen.port1 === 0 ? null : listen,
    fragments: opts.fragments ?? {},
    tcp: opts.tcp ?? {},
    drops,
    emit: (msg) => {
      messages++;
      sinceYield++;
      sink.accept(msg);
    },
  });
  const flushDrops = (): void => {
    const taken = drops.take();
    for (const d of taken) dropped[d.kind] = (dropped[d.kind] ?? 0) + d.count;
    reportDrops(taken, (reason, detail, count) => stats.drop(reason, detail, count));
  };
  const yieldEvery = opts.yieldEvery ?? 1000;
  const reader = await PcapReader.open(file);
  let packets = 0;
  const accounting: PacketAccounting = { withMessages: 0, joined: 0, dropped: 0 };
  try {
    for (let rec = await reader.next(); rec !== null; rec = await reader.next()) {
      packets++;
      stats.received(listener, 'pcap');
      const messagesBefore = messages;
      const dropsBefore = drops.added;
      if (rec.hasTimestamp) {
        decoder.decodeFrame(rec.linkType, rec.data, 0, rec.data.length, rec.sec, rec.usec, true);
      } else {
        const nowMs = Date.now(); // pcapng Simple Packet Block: no time in the file
        decoder.decodeFrame(rec.linkType, rec.data, 0, rec.data.length, Math.floor(nowMs / 1000), (nowMs % 1000) * 1000, false);
      }
      if (messages > messagesBefore) accounting.withMessages++;
      else if (drops.added > dropsBefore) accounting.dropped++;
      else accounting.joined++;
      if (sinceYield >= yieldEvery) {
        sinceYield = 0;
        flushDrops();
        await yieldToLoop();
      }
    }
  } finally {
    await reader.close();
    decoder.flush();
    flushDrops();
  }
  return {
    packets,
    messages,
    hep: decoder.counters.hep,
    websocket: decoder.counters.websocket,
    accounting,
    dropped,
    format: reader.kind,
    reassembled: { ip: decoder.fragments.counters.reassembled, sctp: decoder.sctpParts.reassembled },
    tcp: { segments: decoder.tcp.counters.segments, outOfOrder: decoder.tcp.counters.outOfOrder },
  };
}
