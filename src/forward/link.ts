/**
 * One connection to a forward destination: a TCP or TLS socket, or a connected UDP socket.
 * `send` writes packets and resolves with how many of them were acknowledged, meaning handed
 * to the kernel (the socket's write callback): TCP then delivers them unless the connection
 * breaks, UDP may still lose them on the way without anyone knowing. A link that breaks is
 * not reused; the forwarder opens a new one after a back-off.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { ForwardDestination } from '../config/types.js';

export interface Link {
  /** Writes `packets` in order; resolves with the count acknowledged before all were or the link broke. */
  send(packets: readonly Buffer[]): Promise<number>;
  readonly broken: boolean;
  /** Why it broke (for logs), once broken. */
  readonly error: string | null;
  /** Called once when the link breaks (the far side closed, an error). */
  onBreak: (() => void) | null;
  close(): void;
}

/** The TLS options of a destination (CA, client certificate), files read at each connect. */
function tlsOptions(dest: ForwardDestination): tls.ConnectionOptions {
  const t = dest.tls;
  const o: tls.ConnectionOptions = { host: dest.host, port: dest.port };
  if (!net.isIP(dest.host)) o.servername = dest.host;
  if (t?.caFile != null) o.ca = readFileSync(t.caFile);
  if (t?.certFile != null && t.keyFile != null) {
    o.cert = readFileSync(t.certFile);
    o.key = readFileSync(t.keyFile);
  }
  return o;
}

class StreamLink implements Link {
  broken = false;
  error: string | null = null;
  onBreak: (() => void) | null = null;
  /** Acknowledgements still due, in write order: each resolves one send() once its last packet is acked. */
  private pending: { left: number; acked: number; done: (n: number) => void }[] = [];

  constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const fail = (why: string): void => this.fail(why);
    socket.on('error', (err) => fail(err.message));
    // The far side closed (a graceful stop ends its side and still reads ours): stop writing.
    socket.on('end', () => fail('closed by the destination'));
    socket.on('close', () => fail('connection closed'));
    // Nothing is expected back; reading keeps the 'end' event coming.
    socket.on('data', () => undefined);
  }

  private fail(why: string): void {
    if (this.broken) return;
    this.broken = true;
    this.error = why;
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) p.done(p.acked);
    this.socket.destroy();
    this.onBreak?.();
  }

  send(packets: readonly Buffer[]): Promise<number> {
    if (this.broken || packets.length === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const entry = { left: packets.length, acked: 0, done: resolve };
      this.pending.push(entry);
      const ack = (err?: Error | null): void => {
        if (this.broken || err != null) return;
        entry.acked++;
        if (--entry.left === 0) {
          this.pending.shift();
          resolve(entry.acked);
        }
      };
      this.socket.cork();
      for (const p of packets) this.socket.write(p, ack);
      this.socket.uncork();
    });
  }

  close(): void {
    this.broken = true;
    this.error ??= 'closed';
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) p.done(p.acked);
    // end() sends what was written, then FIN: the destination reads everything acknowledged.
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}

class UdpLink implements Link {
  broken = false;
  error: string | null = null;
  onBreak: (() => void) | null = null;
  /** send() calls not settled yet: a close or failure settles them with what was acknowledged. */
  private readonly pending = new Set<{ acked: number; done: (n: number) => void }>();

  constructor(private readonly socket: dgram.Socket) {
    socket.on('error', (err) => this.fail(err.message));
  }

  private settleAll(): void {
    for (const p of this.pending) p.done(p.acked);
    this.pending.clear();
  }

  private fail(why: string): void {
    if (this.broken) return;
    this.broken = true;
    this.error = why;
    this.settleAll();
    this.socket.close();
    this.onBreak?.();
  }

  send(packets: readonly Buffer[]): Promise<number> {
    if (this.broken || packets.length === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const entry = { acked: 0, done: resolve };
      this.pending.add(entry);
      let left = packets.length;
      for (const p of packets) {
        this.socket.send(p, (err) => {
          if (this.broken) return;
          // The first failure breaks the link; it and what follows are resent on the next one.
          if (err != null) {
            this.fail(err.message);
            return;
          }
          entry.acked++;
          if (--left === 0) {
            this.pending.delete(entry);
            resolve(entry.acked);
          }
        });
      }
    });
  }

  close(): void {
    if (this.broken) return;
    this.broken = true;
    this.settleAll();
    this.socket.close();
  }
}

/** Opens a link; rejects when the destination cannot be reached (refused, TLS handshake, DNS). */
export function openLink(dest: ForwardDestination, timeoutMs = 5000): Promise<Link> {
  if (dest.protocol === 'udp') {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket(net.isIPv6(dest.host) ? 'udp6' : 'udp4');
      socket.once('error', (err) => {
        socket.close();
        reject(err);
      });
      socket.connect(dest.port, dest.host, () => {
        socket.removeAllListeners('error');
        resolve(new UdpLink(socket));
      });
    });
  }
  return new Promise((resolve, reject) => {
    const socket = dest.protocol === 'tls' ? tls.connect(tlsOptions(dest)) : net.connect({ host: dest.host, port: dest.port });
    const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
    socket.once(dest.protocol === 'tls' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(new StreamLink(socket));
    });
  });
}
