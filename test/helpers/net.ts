/** Small network helpers for tests: free ports, UDP/TCP senders on loopback. */
import dgram from 'node:dgram';
import net from 'node:net';

/** A port free for both UDP and TCP on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const addr = server.address();
        server.close(() => resolve(typeof addr === 'object' && addr !== null ? addr.port : 0));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const sock = dgram.createSocket('udp4');
      sock.once('error', () => resolve(false));
      sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port found');
}

export async function sendUdp(packets: readonly Buffer[], port: number, host = '127.0.0.1'): Promise<void> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    for (const p of packets) {
      await new Promise<void>((resolve, reject) => sock.send(p, port, host, (err) => (err ? reject(err) : resolve())));
    }
  } finally {
    await new Promise<void>((resolve) => sock.close(() => resolve()));
  }
}

/** Sends `chunks` as separate writes on one TCP connection (with a pause so they stay separate segments). */
export async function sendTcpChunks(chunks: readonly Buffer[], port: number, host = '127.0.0.1', pauseMs = 5): Promise<void> {
  const sock = net.createConnection({ port, host });
  sock.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  for (const c of chunks) {
    await new Promise<void>((resolve, reject) => sock.write(c, (err) => (err ? reject(err) : resolve())));
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
  await new Promise<void>((resolve) => sock.end(resolve));
}

/** Polls `probe` until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(probe: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
