/**
 * heplify-server's metric names and labels (heplify_metrics: 1), beside sipcapture's own, so a
 * HOMER Grafana dashboard reads them unchanged. The counts are in telemetry/heplify-counters.ts.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { RTCP_GAUGES, type HeplifyCounters } from '../telemetry/heplify-counters.js';

export function registerHeplifyMetrics(reg: Registry, counters: HeplifyCounters): void {
  const registers = [reg];
  const split = (key: string): string[] => key.split('|');
  new Counter({
    name: 'heplify_packets_total',
    help: 'Total packets by HEP type (heplify-server compatible).',
    labelNames: ['node_id', 'type'],
    registers,
    collect() {
      this.reset();
      for (const [key, n] of counters.packets) {
        const [node_id, type] = split(key);
        this.inc({ node_id, type }, n);
      }
    },
  });
  new Gauge({
    name: 'heplify_packets_size',
    help: 'Packet size by HEP type (heplify-server compatible: the last packet\'s payload, bytes).',
    labelNames: ['node_id', 'type'],
    registers,
    collect() {
      this.reset();
      for (const [key, n] of counters.lastSize) {
        const [node_id, type] = split(key);
        this.set({ node_id, type }, n);
      }
    },
  });
  // heplify-server's name has no _total; prom-client adds none to a counter's name either.
  new Counter({
    name: 'heplify_method_response',
    help: 'SIP method and response counter (heplify-server compatible: once per Call-ID, method and response).',
    labelNames: ['target_name', 'direction', 'node_id', 'response', 'method'],
    registers,
    collect() {
      this.reset();
      for (const [key, n] of counters.methodResponses) {
        const [node_id, response, method] = split(key);
        this.inc({ target_name: '', direction: '', node_id, response, method }, n);
      }
    },
  });
  for (const g of RTCP_GAUGES) {
    new Gauge({
      name: g.metric,
      help: `RTCP ${g.path.join('.')} of the last report (heplify-server compatible).`,
      labelNames: ['target_name', 'direction', 'node_id'],
      registers,
      collect() {
        this.reset();
        for (const [node_id, v] of counters.rtcp.get(g.metric) ?? []) this.set({ target_name: 'unknown', direction: '', node_id }, v);
      },
    });
  }
}
