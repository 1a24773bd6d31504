/**
 * Entry point of a capture child process (forked by RawCaptureSupervisor). It owns the native
 * capture (cap or raw-socket), decodes frames into CapturedMessages and streams them to the
 * parent in binary batches over a pipe (fd 4); control and statistics go over the IPC channel.
 * If cap aborts (interface gone) only this process dies and the supervisor starts a new one.
 *
 * Protocol: parent → child {type:'start', config}, {type:'stop'};
 * child → parent {type:'ready'}, {type:'fatal'}, {type:'stats'} (every statsIntervalMs).
 * Importing this module runs the child: the supervisor imports its types only.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { captureFilter, describeFilter, partitionOf } from './bpf.js';
import { RawDecoder } from './decoder.js';
import { DropTally, type RawDropKind } from './drops.js';
import type { FragmentLimits } from './fragments.js';
import { BatchWriter } from './message-batch.js';
import { rawListenOf } from './port-filter.js';
import type { TcpLimits } from './tcp-stream.js';
import { IpipCapture } from './ipip.js';
import { classifyCaptureError, interfaceMac, MirrorCapture, type CaptureErrorCode } from './mirror.js';

export interface CaptureChildConfig {
  mode: 'ipip' | 'mirror';
  /** Listener name for logs (messages get it from the parent). */
  listener: string;
  raw_socket_listen: string;
  /** raw_interface ('' = all). */
  device: string;
  promiscuous: boolean;
  /** raw_moni_bpf_on. */
  bpf: boolean;
  /** This child's index and the number of children (raw_sock_children). */
  index: number;
  count: number;
  /** cap ring size / SO_RCVBUF(FORCE) in bytes. */
  bufferBytes: number;
  /** Batched bytes waiting in the pipe above which batches are dropped (counted as ipc_backlog). */
  maxPendingBytes: number;
  statsIntervalMs: number;
  fragments?: Partial<FragmentLimits>;
  tcp?: Partial<TcpLimits>;
}

export type ParentToChild = { type: 'start'; config: CaptureChildConfig } | { type: 'stop' };

export interface ChildDrops {
  kind: RawDropKind;
  count: number;
  detail: string;
}

export type ChildToParent =
  | { type: 'ready'; linkType: number; filter: string; description: string; grantedBuffer: number }
  | { type: 'fatal'; code: CaptureErrorCode; message: string }
  | {
      type: 'stats';
      /** Frames/packets this child processed since the last report. */
      frames: number;
      messages: number;
      drops: ChildDrops[];
      /** Kernel drops since the last report, or null when the capture cannot tell (cap). */
      kernelDrops: number | null;
    };

/** File descriptor of the data pipe (stdio index 4 in the supervisor's fork call). */
const DATA_FD = 4;

/** A batch is sent at the end of an event-loop turn or when it reaches this size. */
const MAX_BATCH_BYTES = 1024 * 1024;

const send = (msg: ChildToParent): void => {
  process.send?.(msg);
};

/** Wall clock in microseconds (performance.now has sub-ms resolution; Date.now has not). */
function nowUs(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

class CaptureChild {
  private readonly drops = new DropTally();
  private readonly writer = new BatchWriter();
  private readonly out: net.Socket;
  private readonly decoder: RawDecoder;
  private capture: MirrorCapture | IpipCapture | null = null;
  private flushScheduled = false;
  private frames = 0;
  private lastKernelDrops = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;

  constructor(private readonly config: CaptureChildConfig) {
    this.out = new net.Socket({ fd: DATA_FD, readable: false, writable: true });
    this.out.on('error', () => this.stop(1));
    const listen = rawListenOf(config.raw_socket_listen, config.mode === 'mirror');
    const mac = config.mode === 'mirror' && !config.promiscuous ? interfaceMac(config.device) : null;
    this.decoder = new RawDecoder({
      source: config.mode,
      listener: config.listener,
      listen,
      promiscuous: config.promiscuous,
      localMacs: mac === null ? [] : [mac],
      fragments: config.fragments ?? {},
      tcp: config.tcp ?? {},
      drops: this.drops,
      emit: (msg) => {
        this.writer.add(msg);
        // Bounded batches even when the ring hands over thousands of packets in one go.
        if (this.writer.bytes >= MAX_BATCH_BYTES) this.flush();
        else this.scheduleFlush();
      },
    });
  }

  start(): void {
    const c = this.config;
    let filter = '';
    let description: string;
    let linkType = -1;
    let grantedBuffer: number;
    try {
      if (c.mode === 'mirror') {
        const listen = rawListenOf(c.raw_socket_listen, true);
        const fopts = { listen, bpf: c.bpf, index: c.index, count: c.count };
        description = describeFilter(fopts);
        const open = (withVlan: boolean): MirrorCapture => {
          filter = captureFilter({ ...fopts, vlan: withVlan });
          const capture = new MirrorCapture({
            device: c.device,
            filter,
            bufferBytes: c.bufferBytes,
            onFrame: (lt, buf, length) => {
              this.frames++;
              const us = nowUs();
              this.decoder.decodeFrame(lt, buf, 0, length, Math.floor(us / 1e6), us % 1e6, false);
            },
          });
          capture.open();
          return capture;
        };
        let capture: MirrorCapture;
        try {
          capture = open(true);
        } catch (err) {
          // libpcap has no `vlan` for Linux cooked ("any") or raw-IP devices: filter without it.
          if (!(err instanceof Error && /vlan/i.test(err.message))) throw err;
          capture = open(false);
        }
        this.capture = capture;
        linkType = capture.linkType;
        grantedBuffer = c.bufferBytes;
      } else {
        description = `IPIP (protocols 4, 41)${c.count > 1 ? `, child ${c.index + 1} of ${c.count}` : ''}`;
        const capture = new IpipCapture({
          device: c.device,
          protocols: [4, 41],
          bufferBytes: c.bufferBytes,
          onPacket: (buf) => {
            // Every child's socket sees every packet: keep only this child's share (by the inner addresses).
            if (c.count > 1) {
              const ihl = ((buf[0] ?? 0) & 0x0f) * 4;
              if (partitionOf(buf, ihl, buf.length, c.count) !== c.index) return;
            }
            this.frames++;
            const us = nowUs();
            this.decoder.decodeIpip(buf, 0, buf.length, Math.floor(us / 1e6), us % 1e6, false);
          },
          onError: (err) => {
            send({ type: 'fatal', code: 'EOTHER', message: `IPIP socket error: ${err.message}` });
            this.stop(3);
          },
        });
        capture.open();
        this.capture = capture;
        grantedBuffer = capture.grantedBuffer;
      }
    } catch (err) {
      const e = classifyCaptureError(err, c.listener);
      send({ type: 'fatal', code: e.code, message: e.message });
      this.stop(2);
      return;
    }
    send({ type: 'ready', linkType, filter, description, grantedBuffer });
    this.timer = setInterval(() => this.tick(), c.statsIntervalMs);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Everything decoded in this event-loop turn goes out as one batch.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const count = this.writer.messages;
    const batch = this.writer.take();
    if (batch === null) return;
    if (this.out.writableLength > this.config.maxPendingBytes) {
      this.drops.add('ipc_backlog', 'daemon not reading capture batches fast enough', count);
      return;
    }
    this.out.write(batch);
  }

  private tick(): void {
    const us = nowUs();
    this.decoder.expire(Math.floor(us / 1000));
    this.report();
  }

  private report(): void {
    let kernelDrops: number | null = null;
    if (this.capture instanceof IpipCapture) {
      const total = this.capture.kernelDrops();
      if (total !== null) {
        kernelDrops = Math.max(0, total - this.lastKernelDrops);
        this.lastKernelDrops = total;
      }
    }
    const frames = this.frames;
    this.frames = 0;
    const messages = this.decoder.counters.messages;
    this.decoder.counters.messages = 0;
    send({ type: 'stats', frames, messages, drops: this.drops.take(), kernelDrops });
  }

  stop(code: number): void {
    if (this.stopping) return;
    this.stopping = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.capture?.close();
    this.capture = null;
    this.decoder.flush();
    this.flush();
    this.report();
    // Let the IPC message and the last batch leave before exiting.
    this.out.end(() => setImmediate(() => process.exit(code)));
    setTimeout(() => process.exit(code), 1000).unref();
  }
}

function main(): void {
  if (process.send === undefined) {
    process.stderr.write('capture-child must be started by the sipcapture daemon (fork with an IPC channel)\n');
    process.exit(64);
  }
  let child: CaptureChild | null = null;
  process.on('message', (raw: unknown) => {
    const msg = raw as ParentToChild;
    if (msg.type === 'start' && child === null) {
      try {
        child = new CaptureChild(msg.config);
      } catch (err) {
        const e = classifyCaptureError(err, msg.config.listener);
        send({ type: 'fatal', code: e.code, message: e.message });
        process.exit(2);
      }
      child.start();
    } else if (msg.type === 'stop') {
      if (child === null) process.exit(0);
      child.stop(0);
    }
  });
  // The daemon went away: stop capturing.
  process.on('disconnect', () => {
    if (child === null) process.exit(0);
    child.stop(0);
  });
}

main();
