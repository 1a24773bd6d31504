/**
 * HEP3 over TCP: a byte stream, so frames are cut by the HEP3 length field (HepStreamFramer).
 * Frames split across segments and several frames in one segment both work; garbage costs only
 * the bytes up to the next `HEP3` magic, never the connection's later frames.
 */
import net from 'node:net';
import type { ListenAddress } from '../control/config/types.js';
import { DropReason } from '../control/drop-reasons.js';
import type { Stats } from '../control/stats.js';
import { HepStreamFramer } from '../hep/framer.js';
import type { Listener } from './types.js';

export type FrameHandler = (frame: Buffer, listener: string) => void;

export interface TcpListenerOptions {
  address: ListenAddress;
  /** Largest HEP3 frame accepted (bytes). */
  maxFrame: number;
  /** A connection with no data for this long is closed (ms); 0 disables. */
  idleTimeoutMs: number;
  onFrame: FrameHandler;
  stats: Stats;
}

export class TcpListener implements Listener {
  readonly name: string;
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly opts: TcpListenerOptions) {
    this.name = opts.address.spec;
  }

  get port(): number {
    const addr = this.server?.address();
    return addr !== null && typeof addr === 'object' ? addr.port : 0;
  }

  start(): Promise<void> {
    const { address } = this.opts;
    const server = net.createServer((socket) => this.onConnection(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      const onStartError = (err: Error): void => reject(new Error(`listen ${this.name}: ${err.message}`));
      server.once('error', onStartError);
      server.listen({ port: address.port, host: address.host }, () => {
        server.off('error', onStartError);
        resolve();
      });
    });
  }

  private onConnection(socket: net.Socket): void {
    const { maxFrame, idleTimeoutMs, onFrame, stats } = this.opts;
    const name = this.name;
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    const framer = new HepStreamFramer({ maxFrame });
    this.sockets.add(socket);
    socket.setNoDelay(true);
    if (idleTimeoutMs > 0) {
      socket.setTimeout(idleTimeoutMs, () => socket.destroy());
    }
    socket.on('data', (chunk: Buffer) => {
      for (const event of framer.push(chunk)) {
        if (event.kind === 'frame') {
          onFrame(event.frame, name);
        } else {
          stats.drop(DropReason.TCP_FRAMING, `${name} from ${peer}: ${event.message}`);
        }
      }
    });
    socket.on('error', () => undefined); // resets from agents are normal; 'close' cleans up
    socket.on('close', () => {
      this.sockets.delete(socket);
      // A frame cut off by the close, or garbage still being skipped, is reported once.
      for (const event of framer.end()) {
        if (event.kind === 'error') stats.drop(DropReason.TCP_FRAMING, `${name} from ${peer}: ${event.message}`);
      }
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return Promise.resolve();
    // End connections gracefully so frames already received are still processed.
    for (const socket of this.sockets) socket.end();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const socket of this.sockets) socket.destroy();
      }, 2000);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
