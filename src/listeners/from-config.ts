/**
 * The HEP listeners of a configuration: one UdpListener or TcpListener (TLS included) per
 * `listen` address, each with its own access settings, and what the `listening` log line says
 * about each.
 */
import type { SipcaptureConfig } from '../config/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { Stats } from '../telemetry/stats.js';
import { authKeys, type AuthKeys } from './access.js';
import { TcpListener, type StreamListener } from './tcp.js';
import { ThreadedTcpListener } from './tcp-threaded.js';
import type { IngestFlow, Listener } from './types.js';
import { UdpListener } from './udp.js';

/** Where a listener hands each HEP packet; `keys` are the listener's accepted auth keys (null = not enforced). */
export type HepPacketHandler = (data: Buffer, listener: string, keys: AuthKeys | null) => void;

/** A receive thread's batch (UDP or TCP), taken whole (udp.ts DatagramBatchHandler), with the listener's auth keys. */
export type HepBatchHandler = (buf: ArrayBuffer, ends: Uint32Array, listener: string, keys: AuthKeys | null) => void;

export function hepListenersFrom(cfg: SipcaptureConfig, deps: { onPacket: HepPacketHandler; onBatch?: HepBatchHandler; stats: Stats; logger: Logger; flow?: IngestFlow }): Listener[] {
  const { stats, logger } = deps;
  return cfg.listenAddresses.map((address) => {
    // Each listener checks its own auth keys (a listen object may have its own list).
    const keys = authKeys(address.access.authKeys);
    const onPacket = (data: Buffer, listener: string): void => deps.onPacket(data, listener, keys);
    const batches = deps.onBatch === undefined ? {} : { onBatch: (buf: ArrayBuffer, ends: Uint32Array, listener: string) => deps.onBatch?.(buf, ends, listener, keys) };
    if (address.protocol === 'udp') {
      return new UdpListener({ address, recvBufferSize: cfg.udp_recv_buffer, onDatagram: onPacket, ...batches, stats, receiveThread: cfg.udp_receive_thread === 1, logger });
    }
    const stream = {
      address,
      maxFrame: cfg.tcp_max_frame,
      idleTimeoutMs: cfg.tcp_idle_timeout_s * 1000,
      maxConnections: cfg.tcp_max_connections,
      maxConnectionsPerIp: cfg.tcp_max_connections_per_ip,
      onFrame: onPacket,
      stats,
      ...(deps.flow === undefined ? {} : { flow: deps.flow }),
    };
    return cfg.tcp_receive_thread === 1 ? new ThreadedTcpListener({ ...stream, ...batches, logger }) : new TcpListener(stream);
  });
}

/** The fields of a listener's `listening` log line: socket settings and access rules. */
export function listeningLogFields(listener: Listener, cfg: SipcaptureConfig): Record<string, unknown> {
  const fields: Record<string, unknown> =
    listener instanceof UdpListener
      ? { recvBuffer: listener.recvBufferSize, receiveThread: listener.receiveThread !== null }
      : isStreamListener(listener)
        ? { receiveThread: listener instanceof ThreadedTcpListener }
        : {};
  const address = cfg.listenAddresses.find((a) => a.spec === listener.name);
  if (address !== undefined) {
    const a = address.access;
    if (a.authKeys.length > 0) fields['authKeys'] = a.authKeys.length;
    if (a.allowSources.length > 0) fields['allowSources'] = a.allowSources;
    if (a.tls !== null) fields['tlsVerifyClient'] = a.tls.verifyClient;
  }
  return fields;
}

/** A TCP/TLS listener, read on the main thread or in a receive thread. */
export function isStreamListener(l: Listener): l is StreamListener {
  return l instanceof TcpListener || l instanceof ThreadedTcpListener;
}

/** Open connections per TCP/TLS listener (the control plane's view). */
export function tcpConnections(listeners: readonly Listener[]): Record<string, number> {
  return Object.fromEntries(listeners.filter(isStreamListener).map((l) => [l.name, l.connections]));
}

/** TCP/TLS connections not read right now: the writers' queues are congested, or (receive thread) the main thread has not taken what they sent yet. */
export function tcpPausedConnections(listeners: readonly Listener[]): number {
  return listeners.reduce((n, l) => n + (isStreamListener(l) ? l.pausedConnections : 0), 0);
}
