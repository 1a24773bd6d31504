/**
 * HEP3 over TCP and over TLS: a byte stream, so frames are cut by the HEP3 length field
 * (HepStreamFramer). Frames split across segments and several frames in one segment both work;
 * garbage costs only the bytes up to the next `HEP3` magic, never the connection's later frames.
 *
 * Hostile clients are bounded per connection and per listener: a connection buffers at most one
 * frame (tcp_max_frame), is closed after tcp_idle_timeout_s without data, and a listener holds
 * at most tcp_max_connections connections, tcp_max_connections_per_ip from one address. Sources
 * outside allow_sources are closed at accept, before any byte is read or any TLS work is done.
 * Every refused or closed connection is counted (Stats.connectionRejected) and logged, rate-limited.
 *
 * TLS: a plain net.Server accepts and admits the connection; only admitted sockets are handed
 * to a tls.Server (which never listens itself), so a flood or a foreign source costs no
 * handshake, and both transports share the same admission and framing code.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { ListenAddress } from '../config/types.js';
import { DropReason } from '../telemetry/drop-reasons.js';
import { ConnectionRejectReason, type ConnectionCounts } from '../telemetry/stats.js';
import { HepStreamFramer } from '../hep/framer.js';
import { fsErrorText } from '../config/errors.js';
import { sourceFilter } from './access.js';
import type { IngestFlow, Listener } from './types.js';

export type FrameHandler = (frame: Buffer, listener: string) => void;

export interface TcpListenerOptions {
  address: ListenAddress;
  /** Largest HEP3 frame accepted (bytes); also the most one connection buffers. */
  maxFrame: number;
  /** A connection with no data for this long is closed (ms); 0 disables. */
  idleTimeoutMs: number;
  /** Open connections on this listener at most; 0 = no limit. */
  maxConnections?: number;
  /** Open connections from one source address at most; 0 = no limit. */
  maxConnectionsPerIp?: number;
  onFrame: FrameHandler;
  stats: ConnectionCounts;
  /** While it is congested, sockets are not read (paused) until it is relieved. */
  flow?: IngestFlow;
  /** Called when `connections` or `pausedConnections` changed (a receive thread publishes them). */
  onConnectionsChanged?: () => void;
}

/** A TCP/TLS listener as the control plane sees it, read on the main thread or in a receive thread. */
export interface StreamListener extends Listener {
  readonly port: number;
  /** Connections open right now (admitted, not yet closed). */
  readonly connections: number;
  /** Connections not read right now because the daemon is congested. */
  readonly pausedConnections: number;
}

/** TLS handshakes must finish within this time even when the idle timeout is off (Node's default). */
const TLS_HANDSHAKE_TIMEOUT_MS = 120_000;

/** One accepted connection: the TCP socket, and the socket data is read from (itself, or its TLS socket). */
interface Conn {
  raw: net.Socket;
  data: net.Socket | null;
}

/** `::ffff:10.1.2.3` and `10.1.2.3` are the same agent for the per-address limit. */
function sourceKey(address: string | undefined): string {
  if (address === undefined) return '?';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export class TcpListener implements StreamListener {
  readonly name: string;
  private server: net.Server | null = null;
  private tlsServer: tls.Server | null = null;
  private readonly conns = new Set<Conn>();
  private readonly perIp = new Map<string, number>();
  /** Sockets not read right now because the daemon is congested, with their resume. */
  private readonly paused = new Map<net.Socket, () => void>();
  /** stop() was called: connections are read to the end, never paused, and ended once served. */
  private stopping = false;
  private readonly allow;

  constructor(private readonly opts: TcpListenerOptions) {
    this.name = opts.address.spec;
    this.allow = sourceFilter(opts.address.access.allowSources);
  }

  get port(): number {
    const addr = this.server?.address();
    return addr !== null && typeof addr === 'object' ? addr.port : 0;
  }

  /** Connections not read right now because the daemon is congested (opts.flow). */
  get pausedConnections(): number {
    return this.paused.size;
  }

  /** Connections open right now (admitted, not yet closed). */
  get connections(): number {
    return this.conns.size;
  }

  start(): Promise<void> {
    const { address } = this.opts;
    this.stopping = false;
    try {
      if (address.access.tls !== null) this.tlsServer = this.createTlsServer();
    } catch (err) {
      return Promise.reject(new Error(`listen ${this.name}: ${(err as Error).message}`));
    }
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

  private createTlsServer(): tls.Server {
    const t = this.opts.address.access.tls;
    if (t === null) throw new Error('not a tls: listener');
    const read = (file: string, what: string): Buffer => {
      try {
        return readFileSync(file);
      } catch (e) {
        throw new Error(`${what} ${file} cannot be read (${fsErrorText(e)})`, { cause: e });
      }
    };
    const idle = this.opts.idleTimeoutMs;
    const server = tls.createServer({
      cert: read(t.certFile, 'tls_cert_file'),
      key: read(t.keyFile, 'tls_key_file'),
      ...(t.caFile === '' ? {} : { ca: read(t.caFile, 'tls_ca_file') }),
      // Verified by hand in 'secureConnection' so a rejected certificate is counted, not silently closed.
      requestCert: t.verifyClient,
      rejectUnauthorized: false,
      handshakeTimeout: idle > 0 ? Math.min(idle, TLS_HANDSHAKE_TIMEOUT_MS) : TLS_HANDSHAKE_TIMEOUT_MS,
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      const conn = this.connOf(socket);
      if (conn === undefined) {
        socket.destroy();
        return;
      }
      if (t.verifyClient && !socket.authorized) {
        const why = socket.authorizationError instanceof Error ? socket.authorizationError.message : String(socket.authorizationError ?? 'no certificate');
        this.opts.stats.connectionRejected(ConnectionRejectReason.TLS_CLIENT_CERT, `${this.name} from ${this.peer(conn.raw)}: client certificate refused (${why})`);
        socket.destroy();
        return;
      }
      this.serve(conn, socket);
    });
    server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      const conn = this.connOf(socket);
      const peer = conn === undefined ? '?' : this.peer(conn.raw);
      this.opts.stats.connectionRejected(ConnectionRejectReason.TLS_HANDSHAKE, `${this.name} from ${peer}: TLS handshake failed (${err.code ?? err.message})`);
      socket.destroy();
    });
    return server;
  }

  /** The connection a TLS socket wraps (the TLS socket's remote address/port is the raw one's). */
  private connOf(socket: tls.TLSSocket): Conn | undefined {
    for (const c of this.conns) {
      if (c.data === null && c.raw.remotePort === socket.remotePort && c.raw.remoteAddress === socket.remoteAddress) return c;
    }
    return undefined;
  }

  private peer(socket: net.Socket): string {
    return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
  }

  /** Admission: allow-list, then the listener and per-address limits; refused sockets are destroyed at once. */
  private onConnection(socket: net.Socket): void {
    const { stats, maxConnections = 0, maxConnectionsPerIp = 0 } = this.opts;
    socket.on('error', () => undefined); // resets from agents are normal; 'close' cleans up
    const reject = (reason: (typeof ConnectionRejectReason)[keyof typeof ConnectionRejectReason], why: string): void => {
      stats.connectionRejected(reason, `${this.name} from ${this.peer(socket)}: ${why}`);
      socket.destroy();
    };
    if (this.allow !== null && !this.allow.allows(socket.remoteAddress)) {
      reject(ConnectionRejectReason.SOURCE_DENIED, 'source not in allow_sources');
      return;
    }
    if (maxConnections > 0 && this.conns.size >= maxConnections) {
      reject(ConnectionRejectReason.LIMIT_TOTAL, `${this.conns.size} connections open (tcp_max_connections ${maxConnections})`);
      return;
    }
    const key = sourceKey(socket.remoteAddress);
    const fromIp = this.perIp.get(key) ?? 0;
    if (maxConnectionsPerIp > 0 && fromIp >= maxConnectionsPerIp) {
      reject(ConnectionRejectReason.LIMIT_PER_IP, `${fromIp} connections open from ${key} (tcp_max_connections_per_ip ${maxConnectionsPerIp})`);
      return;
    }
    const conn: Conn = { raw: socket, data: null };
    this.conns.add(conn);
    this.perIp.set(key, fromIp + 1);
    this.opts.onConnectionsChanged?.();
    socket.on('close', () => {
      this.conns.delete(conn);
      const n = (this.perIp.get(key) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(key);
      else this.perIp.set(key, n);
      this.opts.onConnectionsChanged?.();
    });
    socket.setNoDelay(true);
    if (this.tlsServer !== null) this.tlsServer.emit('connection', socket);
    else this.serve(conn, socket);
  }

  /** Reads HEP3 frames from an admitted connection (plain, or after the TLS handshake). */
  private serve(conn: Conn, socket: net.Socket): void {
    const { maxFrame, idleTimeoutMs, onFrame, stats } = this.opts;
    const name = this.name;
    const peer = this.peer(conn.raw);
    const framer = new HepStreamFramer({ maxFrame });
    conn.data = socket;
    if (idleTimeoutMs > 0) {
      socket.setTimeout(idleTimeoutMs, () => {
        const pending = framer.pendingBytes > 0 ? `, ${framer.pendingBytes} bytes of an unfinished frame` : '';
        stats.connectionRejected(ConnectionRejectReason.IDLE_TIMEOUT, `${name} from ${peer}: nothing received for ${idleTimeoutMs / 1000} s${pending}`);
        socket.destroy();
      });
    }
    socket.on('data', (chunk: Buffer) => {
      for (const event of framer.push(chunk)) {
        if (event.kind === 'frame') {
          onFrame(event.frame, name);
        } else {
          stats.drop(DropReason.TCP_FRAMING, `${name} from ${peer}: ${event.message}`);
        }
      }
      if (this.opts.flow?.congested === true && !this.stopping) this.pause(socket);
    });
    socket.on('error', () => undefined);
    // Its TLS handshake ended after stop() began and the agent may already be sending: read it
    // to the end too. Ended on the next turn, not inside 'secureConnection' (still within
    // OpenSSL's read): ended there, the data record that came with the handshake was lost.
    if (this.stopping) setImmediate(() => socket.end());
    socket.on('close', () => {
      if (this.paused.delete(socket)) this.opts.onConnectionsChanged?.();
      // A frame cut off by the close (idle timeout included), or garbage still being skipped, is reported once.
      for (const event of framer.end()) {
        if (event.kind === 'error') stats.drop(DropReason.TCP_FRAMING, `${name} from ${peer}: ${event.message}`);
      }
    });
  }

  /**
   * Stops reading `socket` until the flow is relieved: the kernel's receive buffer fills, the
   * TCP window closes and the agent waits. Its idle timeout is off meanwhile (the silence is ours).
   */
  private pause(socket: net.Socket): void {
    const flow = this.opts.flow;
    if (flow === undefined || this.paused.has(socket)) return;
    const resume = (): void => {
      if (!this.paused.delete(socket)) return;
      this.opts.onConnectionsChanged?.();
      if (this.opts.idleTimeoutMs > 0) socket.setTimeout(this.opts.idleTimeoutMs);
      socket.resume();
    };
    this.paused.set(socket, resume);
    this.opts.onConnectionsChanged?.();
    socket.setTimeout(0);
    socket.pause();
    flow.onRelief(resume);
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return Promise.resolve();
    this.stopping = true;
    // What paused sockets still hold is read and stored before they close.
    for (const resume of [...this.paused.values()]) resume();
    // End our side; each connection is read until the agent ends its side too, so whatever its
    // kernel took before it saw our end is stored (a forwarding sipcapture counts that as sent).
    // One still in its TLS handshake is left to finish it: a TLS 1.3 client sends data as soon
    // as it has our Finished, before we have its own; serve() ends it then.
    for (const c of this.conns) c.data?.end();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const c of this.conns) c.raw.destroy();
      }, 2000);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
