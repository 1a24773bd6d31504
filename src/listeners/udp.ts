/**
 * HEP over UDP: one datagram is one HEP packet. The listener only receives; decoding happens in
 * the HepIngest it feeds, so the same code path serves UDP, TCP and tests.
 */
import dgram from 'node:dgram';
import type { ListenAddress } from '../control/config/types.js';
import { DropReason } from '../control/drop-reasons.js';
import type { Stats } from '../control/stats.js';
import { sourceFilter } from './access.js';
import { readUdpKernelDrops } from './udp-kernel-drops.js';
import type { Listener } from './types.js';

export type DatagramHandler = (data: Buffer, listener: string) => void;

export interface UdpListenerOptions {
  address: ListenAddress;
  /** SO_RCVBUF request; the kernel caps it at 2 × net.core.rmem_max. */
  recvBufferSize: number;
  onDatagram: DatagramHandler;
  /** Where datagrams from sources outside allow_sources are counted (needed when the listener has an allow-list). */
  stats?: Stats;
}

export class UdpListener implements Listener {
  readonly name: string;
  private socket: dgram.Socket | null = null;

  constructor(private readonly opts: UdpListenerOptions) {
    this.name = opts.address.spec;
  }

  /** The bound port (useful when the config asked for port 0). */
  get port(): number {
    return this.socket?.address().port ?? 0;
  }

  /** The receive buffer the kernel actually granted. */
  get recvBufferSize(): number {
    return this.socket?.getRecvBufferSize() ?? 0;
  }

  /**
   * Datagrams the kernel dropped on this socket since it was bound (receive buffer full), or
   * null when unknown (not Linux, not bound). Read from /proc at call time: not for the hot path.
   */
  kernelDrops(): number | null {
    if (this.socket === null) return null;
    const { address, port } = this.socket.address();
    return readUdpKernelDrops(address, port);
  }

  start(): Promise<void> {
    const { address, onDatagram } = this.opts;
    const type = address.host.includes(':') ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type, recvBufferSize: this.opts.recvBufferSize });
    this.socket = socket;
    const name = this.name;
    const allow = sourceFilter(address.access.allowSources);
    const stats = this.opts.stats;
    if (allow !== null && stats === undefined) return Promise.reject(new Error(`listen ${name}: an allow-list needs stats to count what it drops`));
    return new Promise((resolve, reject) => {
      const onStartError = (err: Error): void => {
        reject(new Error(`listen ${name}: ${err.message}`));
      };
      socket.once('error', onStartError);
      if (allow === null) {
        socket.on('message', (data) => onDatagram(data, name));
      } else {
        // UDP sources can be spoofed: this is a filter against strays and scanners, not authentication.
        socket.on('message', (data, rinfo) => {
          if (allow.allows(rinfo.address)) onDatagram(data, name);
          else stats?.drop(DropReason.SOURCE_DENIED, `${name}: datagram from ${rinfo.address}:${rinfo.port}, not in allow_sources`);
        });
      }
      socket.bind(address.port, address.host, () => {
        socket.off('error', onStartError);
        // After start-up a socket error is not fatal for the daemon; it is logged by the owner.
        socket.on('error', () => undefined);
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    if (socket === null) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }
}
