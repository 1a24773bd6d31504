/**
 * JSON-RPC over a unix stream socket (rpc_socket), for `sipcapture rpc`. Kamailio's jsonrpcs
 * uses a unix datagram socket; Node has no AF_UNIX datagrams, so this is a stream socket with
 * one JSON request per line and one reply line per request (a request without a final newline
 * is answered when the client half-closes).
 *
 * The socket file is created with mode 0600 (umask set around bind, then chmod), so only the
 * daemon's user and root can talk to it. A stale file from a crashed run is replaced; a socket
 * some other process still answers on is not.
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../../telemetry/logger.js';
import { MAX_REQUEST_BYTES, type RpcDispatcher } from './jsonrpc.js';

export class ControlSocketServer {
  private server: net.Server | null = null;
  private readonly clients = new Set<net.Socket>();

  constructor(
    readonly socketPath: string,
    private readonly rpc: RpcDispatcher,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const file = this.socketPath;
    // A missing directory is refused, not created: a typo must not make a tree (as root, anywhere).
    if (!existsSync(path.dirname(file))) throw new Error(`rpc_socket ${file}: the directory ${path.dirname(file)} does not exist (create it; sipcapture does not create directories for it)`);
    await removeStale(file);
    // allowHalfOpen: a client may end its side after the request and still read the reply.
    const server = net.createServer({ allowHalfOpen: true }, (sock) => this.serve(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`rpc_socket ${file}: ${err.message}`)));
      // The bind happens inside listen(); the umask makes the file 0600 from its first instant.
      const oldMask = process.umask(0o177);
      try {
        server.listen(file, () => {
          server.removeAllListeners('error');
          server.on('error', (err) => this.logger.error({ err }, 'rpc_socket server error'));
          resolve();
        });
      } finally {
        process.umask(oldMask);
      }
    });
    chmodSync(file, 0o600);
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return Promise.resolve();
    for (const c of this.clients) c.destroy();
    return new Promise((resolve) =>
      server.close(() => {
        try {
          unlinkSync(this.socketPath);
        } catch {
          // already gone (libuv unlinks it on close)
        }
        resolve();
      }),
    );
  }

  private serve(sock: net.Socket): void {
    this.clients.add(sock);
    sock.setEncoding('utf8');
    sock.setTimeout(30_000, () => sock.destroy());
    let buffered = '';
    // Requests on one connection are answered in order.
    let chain: Promise<void> = Promise.resolve();
    const answer = (line: string): void => {
      if (line.trim() === '') return;
      chain = chain.then(async () => {
        const reply = await this.rpc.handleText(line, `rpc_socket ${this.socketPath}`);
        if (reply !== null && !sock.destroyed) sock.write(`${JSON.stringify(reply)}\n`);
      });
    };
    sock.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_REQUEST_BYTES) {
        sock.end(`${JSON.stringify({ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null })}\n`);
        buffered = '';
        return;
      }
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        answer(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
    sock.on('end', () => {
      answer(buffered);
      buffered = '';
      void chain.then(() => sock.end());
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.clients.delete(sock));
  }
}

/** Removes a leftover socket file nobody listens on; refuses anything else. */
async function removeStale(file: string): Promise<void> {
  let st;
  try {
    st = lstatSync(file);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) throw new Error(`rpc_socket ${file} exists and is not a socket; not replacing it`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.createConnection(file);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`rpc_socket ${file}: another process (a running sipcapture?) is listening there`);
  unlinkSync(file);
}
