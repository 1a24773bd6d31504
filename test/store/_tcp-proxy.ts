/**
 * A TCP proxy a test controls, between the daemon and a database server: `cut()` destroys every
 * open connection and stops listening (new connections are refused), `restore()` listens on the
 * same port again. Only connections through this proxy are affected, so other tests sharing the
 * database server are not disturbed.
 */
import net from 'node:net';

export class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  /** Connections accepted so far. */
  accepted = 0;
  /**
   * Sees every chunk the client sends before it is forwarded; returning true means the hook
   * dealt with it (e.g. forwarded it and then killed the connection).
   */
  onClientData: ((chunk: Buffer, client: net.Socket, upstream: net.Socket) => boolean) | null = null;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
    public port: number,
  ) {}

  static async start(targetHost: string, targetPort: number, port = 0): Promise<TcpProxy> {
    const p = new TcpProxy(targetHost, targetPort, port);
    await p.listen();
    return p;
  }

  get listening(): boolean {
    return this.server !== null;
  }

  private listen(): Promise<void> {
    const server = net.createServer((client) => this.accept(client));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        const addr = server.address();
        if (typeof addr === 'object' && addr !== null) this.port = addr.port;
        this.server = server;
        resolve();
      });
    });
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    const upstream = net.connect({ host: this.targetHost, port: this.targetPort });
    this.sockets.add(client);
    this.sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      if (this.onClientData?.(chunk, client, upstream) === true) return;
      upstream.write(chunk);
    });
    upstream.pipe(client);
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
  }

  /** The local ports of the open connections to the server (what the server sees as the client ports). */
  upstreamPorts(): number[] {
    return [...this.sockets].filter((s) => s.remotePort === this.targetPort && s.localPort !== undefined).map((s) => s.localPort!);
  }

  /** The outage: every connection through the proxy dies at once, new ones are refused. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    const closed = server === null ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of [...this.sockets]) s.destroy();
    this.sockets.clear();
    await closed;
  }

  /** The end of the outage: accept connections on the same port again. */
  async restore(): Promise<void> {
    if (this.server !== null) return;
    // The port was ours a moment ago; retry briefly in case the kernel still holds it.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.listen();
        return;
      } catch (err) {
        if (attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async close(): Promise<void> {
    await this.cut();
  }
}
