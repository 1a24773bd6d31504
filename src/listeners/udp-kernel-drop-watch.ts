/**
 * Kernel receive-buffer drops of the UDP listeners: the counts (for /metrics, the RPC and the
 * `stopped` line) and a watch that warns while they grow.
 */
import type { Logger } from '../telemetry/logger.js';
import type { Listener } from './types.js';
import { UdpListener } from './udp.js';

/** Kernel receive-buffer drops per UDP listener (listeners where /proc cannot tell are absent). */
export function udpKernelDrops(listeners: readonly Listener[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of listeners) {
    if (!(l instanceof UdpListener)) continue;
    const n = l.kernelDrops();
    if (n !== null) out[l.name] = n;
  }
  return out;
}

/**
 * Kernel drops happen before sipcapture reads a packet, so no drop reason can count them; they are
 * in /metrics and the RPC, and this warns (every 10 s at most) while they grow, with the cure.
 */
export function watchUdpKernelDrops(listeners: readonly Listener[], logger: Logger): NodeJS.Timeout {
  const seen = udpKernelDrops(listeners);
  const timer = setInterval(() => {
    for (const [listener, total] of Object.entries(udpKernelDrops(listeners))) {
      const delta = total - (seen[listener] ?? 0);
      seen[listener] = total;
      if (delta <= 0) continue;
      const l = listeners.find((x) => x.name === listener);
      const recvBuffer = l instanceof UdpListener ? l.recvBufferSize : undefined;
      logger.warn(
        { listener, drops: delta, total, recvBuffer },
        'the kernel dropped datagrams: the UDP receive buffer was full (raise udp_recv_buffer and net.core.rmem_max, or give the daemon more CPU)',
      );
    }
  }, 10_000);
  timer.unref();
  return timer;
}
