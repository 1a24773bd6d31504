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

/**
 * After the far side ended its side, how long writes already issued may take to be acknowledged
 * before they count as not sent (a stopping sipcapture reads ours for up to 2 s, then resets).
 */
const DRAIN_MS = 3000;

class StreamLink implements Link {
  error: string | null = null;
  onBreak: (() => void) | null = null;
  /** open; draining: the far side ended, no new writes, waiting for `pending`; done: settled. */
  private state: 'open' | 'draining' | 'done' = 'open';
  private drainTimer: NodeJS.Timeout | null = null;
  /** Acknowledgements still due, in write order: each resolves one send() once its last packet is acked. */
  private pending: { left: number; acked: number; done: (n: number) => void }[] = [];

  constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('error', (err) => this.fail(err.message));
    socket.on('end', () => this.drain());
    socket.on('close', () => this.fail('connection closed'));
    // Nothing is expected back; reading keeps the 'end' event coming.
    socket.on('data', () => undefined);
  }

  get broken(): boolean {
    return this.state !== 'open';
  }

  /**
   * The far side ended its side (a graceful stop: it still reads ours to the end), so what we
   * wrote is read and stored there and must count as sent. Its write callbacks can come after
   * 'end': TLS calls back a turn of the event loop after the kernel took the bytes, and a large
   * write may still be going out. So: no new writes, and the socket closes once those are all
   * acknowledged, or the connection breaks, or after DRAIN_MS.
   */
  private drain(): void {
    if (this.state !== 'open') return;
    this.state = 'draining';
    this.error = 'closed by the destination';
    if (this.pending.length === 0) this.settle();
    else {
      this.drainTimer = setTimeout(() => this.settle(), DRAIN_MS);
      this.drainTimer.unref();
    }
    // The forwarder reconnects meanwhile; it sends again only once these writes settled.
    this.onBreak?.();
  }

  private fail(why: string): void {
    if (this.state === 'done') return;
    const wasOpen = this.state === 'open';
    if (wasOpen) this.error = why;
    this.settle();
    if (wasOpen) this.onBreak?.();
  }

  /** Resolves every send() still due with what was acknowledged, and closes the socket. */
  private settle(): void {
    this.state = 'done';
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) p.done(p.acked);
    this.socket.destroy();
  }

  send(packets: readonly Buffer[]): Promise<number> {
    if (this.state !== 'open' || packets.length === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const entry = { left: packets.length, acked: 0, done: resolve };
      this.pending.push(entry);
      const ack = (err?: Error | null): void => {
        if (this.state === 'done' || err != null) return;
        entry.acked++;
        if (--entry.left === 0) {
          this.pending.shift();
          resolve(entry.acked);
          if (this.state === 'draining' && this.pending.length === 0) this.settle();
        }
      };
      this.socket.cork();
      for (const p of packets) this.socket.write(p, ack);
      this.socket.uncork();
    });
  }

  close(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.error ??= 'closed';
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
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
