/** Prometheus metrics of the `forward` destinations, read at scrape time from their counters. */
import { Counter, Gauge, type Registry } from 'prom-client';
import { ForwardDropReason } from '../telemetry/drop-reasons.js';
import type { ControlContext } from './rpc/methods.js';

export function registerForwardMetrics(reg: Registry, ctx: ControlContext): void {
  const registers = [reg];
  const list = (): ReturnType<NonNullable<ControlContext['forward']>> => ctx.forward?.() ?? [];
  const counter = (name: string, help: string, value: (f: ReturnType<typeof list>[number]) => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['destination'],
      registers,
      collect() {
        this.reset();
        for (const f of list()) this.inc({ destination: f.name }, value(f));
      },
    });
  };
  counter('sipcapture_forward_packets_total', 'Packets a forward destination acknowledged as sent (handed to the kernel; TCP/TLS then deliver them unless the connection breaks), live and replayed.', (f) => f.forwarded);
  counter('sipcapture_forward_spooled_total', 'Packets written to a forward destination\'s disk spool (destination down, slow, or behind its spool).', (f) => f.spooled);
  counter('sipcapture_forward_replayed_total', 'Packets sent to a forward destination from its spool.', (f) => f.replayed);
  const reasons = Object.values(ForwardDropReason) as string[];
  new Counter({
    name: 'sipcapture_forward_dropped_total',
    help: 'Packets a forward destination did not get, per reason: queue_full (no spool), spool_full, spool_error, shutdown (every reason exported, 0 included).',
    labelNames: ['destination', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const f of list()) for (const reason of reasons) this.inc({ destination: f.name, reason }, f.dropped[reason] ?? 0);
    },
  });
  const gauge = (name: string, help: string, value: (f: ReturnType<typeof list>[number]) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['destination'],
      registers,
      collect() {
        this.reset();
        for (const f of list()) this.set({ destination: f.name }, value(f));
      },
    });
  };
  gauge('sipcapture_forward_up', '1 while the forward destination is connected (UDP: its socket is open).', (f) => (f.up ? 1 : 0));
  gauge('sipcapture_forward_queue_bytes', 'Bytes of packets waiting in memory for a forward destination.', (f) => f.queueBytes);
  gauge('sipcapture_forward_spool_pending_bytes', 'Bytes waiting in a forward destination\'s spool.', (f) => f.spoolPendingBytes);
}
