/**
 * IPIP capture (raw_ipip_capture_on): raw IPv4 sockets for protocol 4 (IP-in-IP, Kamailio's
 * mode) and protocol 41 (IPv6-in-IPv4: sit / 6in4). Runs only inside the capture child:
 * @neuralegion/raw-socket is not usable in worker threads.
 *
 * - The kernel hands a raw IPv4 socket the whole packet, outer header included, after its own
 *   reassembly of outer fragments (inner fragments are ours).
 * - bufferSize 65535: the package's default of 4096 silently truncates (measured: a 5 KB datagram arrives cut to 4096 bytes).
 * - SO_RCVBUFFORCE (root) for a large kernel queue, falling back to SO_RCVBUF.
 * - SO_BINDTODEVICE when raw_interface is set, as Kamailio does.
 * - raw-socket cannot bind() to an address, so raw_socket_listen's IP is checked in the decoder
 *   (outer destination), which is what Kamailio's bind achieves.
 * - Outer IPv6 tunnels are not received here (an AF_INET6 raw socket strips the outer header);
 *   mirror capture and pcap import decode them.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createSocket, SocketLevel, SocketOption, type Socket } from '@neuralegion/raw-socket';
import { classifyCaptureError } from './mirror.js';

const SO_RCVBUFFORCE = 33;
const SO_BINDTODEVICE = 25;

export interface IpipCaptureOptions {
  /** raw_interface ('' = all interfaces). */
  device: string;
  /** IP protocols to open a socket for (4 = IPIP, 41 = IPv6 in IPv4). */
  protocols: readonly number[];
  /** Kernel receive queue in bytes. */
  bufferBytes: number;
  /** One packet (outer IPv4 header first): `buf` is reused for the next packet. */
  onPacket: (buf: Buffer) => void;
  /** A socket error after start-up (the socket is closed by the library). */
  onError: (err: Error) => void;
}

/** The real signatures (index.d.ts types the value as a number only; a Buffer is accepted with a length). */
interface RawSocketOptions {
  setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  getOption(level: number, option: number, value: Buffer, length: number): number;
}

interface RawSocketEvents {
  on(event: 'message', listener: (buffer: Buffer, source: string) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export class IpipCapture {
  /**
   * Strong references matter: raw-socket's native wrapper is weakly held, and a socket nothing
   * references is garbage-collected together with its poll handle (it then silently stops).
   */
  private sockets: Socket[] = [];
  /** Receive queue size the kernel granted (bytes, as getsockopt reports it). */
  grantedBuffer = 0;

  constructor(private readonly opts: IpipCaptureOptions) {}

  open(): void {
    const what = `IPIP capture${this.opts.device === '' ? '' : ` on "${this.opts.device}"`}`;
    try {
      for (const protocol of this.opts.protocols) {
        const socket = createSocket({ protocol, bufferSize: 65535 });
        this.sockets.push(socket);
        this.configure(socket, what);
        const events = socket as unknown as RawSocketEvents;
        events.on('message', (buffer) => this.opts.onPacket(buffer));
        events.on('error', (err) => this.opts.onError(err));
      }
    } catch (err) {
      this.close();
      throw classifyCaptureError(err, what);
    }
  }

  private configure(socket: Socket, what: string): void {
    const opt = socket as unknown as RawSocketOptions;
    try {
      opt.setOption(SocketLevel.SOL_SOCKET, SO_RCVBUFFORCE, this.opts.bufferBytes);
    } catch {
      opt.setOption(SocketLevel.SOL_SOCKET, SocketOption.SO_RCVBUF, this.opts.bufferBytes);
    }
    const granted = Buffer.alloc(4);
    opt.getOption(SocketLevel.SOL_SOCKET, SocketOption.SO_RCVBUF, granted, 4);
    this.grantedBuffer = granted.readInt32LE(0);
    if (this.opts.device !== '') {
      const name = Buffer.from(`${this.opts.device}\0`, 'latin1');
      try {
        opt.setOption(SocketLevel.SOL_SOCKET, SO_BINDTODEVICE, name, name.length);
      } catch (err) {
        throw classifyCaptureError(err, `${what}: SO_BINDTODEVICE`);
      }
    }
  }

  close(): void {
    for (const s of this.sockets) {
      try {
        s.close();
      } catch {
        // already closed after an error
      }
    }
    this.sockets = [];
  }

  /**
   * Packets the kernel dropped on our sockets (the `drops` column of /proc/net/raw for our
   * socket inodes), or null when that cannot be read.
   */
  kernelDrops(): number | null {
    try {
      const inodes = new Set<string>();
      for (const fd of readdirSync('/proc/self/fd')) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
          if (m?.[1] !== undefined) inodes.add(m[1]);
        } catch {
          // fd closed meanwhile
        }
      }
      let drops = 0;
      for (const line of readFileSync('/proc/net/raw', 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        const inode = cols[9];
        const d = cols[12];
        if (inode !== undefined && d !== undefined && inodes.has(inode)) drops += Number(d);
      }
      return drops;
    } catch {
      return null;
    }
  }
}

