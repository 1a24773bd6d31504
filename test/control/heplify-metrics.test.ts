/**
 * heplify_metrics: 1 exports heplify-server's metric names with its labels. Every heplify_*
 * name that the Grafana dashboards shipped with heplify-server use (test/fixtures, with its
 * source) must be on /metrics with exactly heplify-server's label names — except the X-RTP-Stat
 * gauges, which sipcapture does not compute (listed here, so the gap stays visible).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { encodeHep } from '../../src/hep/encode.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { PROJECT_ROOT } from '../helpers/env.js';
import { sendUdp, waitFor } from '../helpers/net.js';
import { sipReply, sipRequest } from '../helpers/sip-messages.js';

const fixture = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'test', 'fixtures', 'heplify-dashboard-metrics.json'), 'utf8')) as { metrics: Record<string, string[]> };
const NOT_EXPORTED = new Set(['heplify_xrtp_cs', 'heplify_xrtp_dle', 'heplify_xrtp_jir', 'heplify_xrtp_jis', 'heplify_xrtp_mos', 'heplify_xrtp_plr', 'heplify_xrtp_pls']);

/** name → label names → value, for every sample of the exposition text. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function hep(payload: string, protoType = 1, captureId = 2001): Buffer {
  return encodeHep({ srcIp: '192.0.2.1', dstIp: '192.0.2.2', srcPort: 5060, dstPort: 5060, tsSec: Math.floor(Date.now() / 1000), tsUsec: 0, captureId, protoType, payload, ...(protoType === 1 ? {} : { correlationId: 'corr-1' }) });
}

test('heplify_metrics: 1 exports every heplify metric HOMER dashboards read, with heplify-server\'s labels', async () => {
  const d = await startTestDaemon({ heplify_metrics: 1 });
  try {
    const rtcp = JSON.stringify({ report_blocks: [{ fraction_lost: 3, packets_lost: 7, ia_jitter: 11, dlsr: 20_000_000 }], report_blocks_xr: { fraction_lost: 1, round_trip_delay: 42 } });
    const invite = hep(sipRequest('INVITE', 'hm-1').text);
    // The INVITE twice (a retransmission) and its 200: heplify-server counts each pair once per call.
    await sendUdp([invite, invite, hep(sipReply(200, 'OK', 'INVITE', 'hm-1').text), hep(rtcp, 5)], d.port);
    assert.ok(await waitFor(() => (d.daemon.stats.snapshot().received[`udp:127.0.0.1:${d.port}|hep3`] ?? 0) === 4));
    const text = await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text();
    const all = samples(text);
    for (const [name, labels] of Object.entries(fixture.metrics)) {
      const found = all.filter((s) => s.name === name);
      if (NOT_EXPORTED.has(name)) {
        assert.equal(found.length, 0, name);
        continue;
      }
      assert.ok(found.length > 0, `${name} is on /metrics`);
      for (const s of found) assert.deepEqual(Object.keys(s.labels).sort(), [...labels].sort(), name);
    }
    const value = (name: string, labels: Record<string, string>): number | undefined => all.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    assert.equal(value('heplify_packets_total', { node_id: '2001', type: 'sip' }), 3);
    assert.equal(value('heplify_packets_total', { node_id: '2001', type: 'rtcp' }), 1);
    assert.equal(value('heplify_method_response', { node_id: '2001', response: 'INVITE', method: 'INVITE' }), 1);
    assert.equal(value('heplify_method_response', { node_id: '2001', response: '200', method: 'INVITE' }), 1);
    assert.equal(value('heplify_rtcp_packets_lost', { node_id: '2001' }), 7);
    assert.equal(value('heplify_rtcp_dlsr', { node_id: '2001' }), 0, 'values above 10^7 are cut to 0, as heplify-server does');
    assert.equal(value('heplify_rtcpxr_round_trip_delay', { node_id: '2001' }), 42);
  } finally {
    await d.close();
  }
});

test('without heplify_metrics no heplify_ metric is exported', async () => {
  const d = await startTestDaemon();
  try {
    const text = await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text();
    assert.ok(!text.includes('heplify_'));
    assert.ok(text.includes('sipcapture_packets_received_total'));
  } finally {
    await d.close();
  }
});
