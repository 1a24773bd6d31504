/**
 * A far side for forwarding tests: receives HEP over UDP, TCP or TLS on 127.0.0.1 and keeps
 * every packet's bytes, in arrival order. Stops gracefully (like a daemon: ends its side and
 * reads the peer's rest) or abruptly, and starts again on the same port.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { HepStreamFramer } from '../../src/hep/framer.js';
import type { TestCerts } from './tls.js';

export class HepSink {
  readonly packets: Buffer[] = [];
  private server: net.Server | null = null;
  private udp: dgram.Socket | null = null;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    readonly protocol: 'udp' | 'tcp' | 'tls',
    readonly port: number,
    private readonly certs: TestCerts | null = null,
  ) {}

  async start(): Promise<void> {
    if (this.protocol === 'udp') {
      const s = dgram.createSocket('udp4');
      s.on('message', (m) => this.packets.push(Buffer.from(m)));
      await new Promise<void>((resolve) => s.bind(this.port, '127.0.0.1', resolve));
      this.udp = s;
      return;
    }
    const onSocket = (socket: net.Socket): void => {
      this.sockets.add(socket);
      const framer = new HepStreamFramer();
      socket.on('data', (chunk: Buffer) => {
        for (const e of framer.push(chunk)) if (e.kind === 'frame') this.packets.push(Buffer.from(e.frame));
      });
      socket.on('error', () => undefined);
      socket.on('close', () => this.sockets.delete(socket));
    };
    const c = this.certs;
    const server =
      this.protocol === 'tls' && c !== null
        ? tls.createServer({ cert: readFileSync(c.serverCert), key: readFileSync(c.serverKey), ca: readFileSync(c.caCert), requestCert: true, rejectUnauthorized: true }, onSocket)
        : net.createServer(onSocket);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.server = server;
  }

  /** Graceful: ends each connection and reads until the peer ends too. Abrupt: resets them. */
  async stop(how: 'graceful' | 'abrupt' = 'graceful'): Promise<void> {
    if (this.udp !== null) {
      const u = this.udp;
      this.udp = null;
      await new Promise<void>((resolve) => u.close(() => resolve()));
      return;
    }
    const server = this.server;
    this.server = null;
    if (server === null) return;
    for (const s of this.sockets) {
      if (how === 'graceful') s.end();
      else s.resetAndDestroy();
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
