/**
 * De-duplication through the running daemon (SQLite): the same SIP packet sent by two capture
 * agents and twice by one, plus another packet. Off (the default) stores every copy; `agent`
 * merges one agent's copies; `all` merges the copies of every agent. Drops are counted
 * `duplicate`, visible in /metrics and sipcapture.stats, and a reload switches dedup live.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { sendTcpChunks, waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';
import { hep, rpcHttp, startTestDaemon, tableRows, TS_SEC, type TestDaemon } from '../control/helpers.js';

/** Copies of one INVITE (agent 2001 twice, agent 2002 once, with their own times) and one BYE. */
function traffic(tag: string): Buffer[] {
  const invite = sipRequest('INVITE', `dedup-${tag}@x`).text;
  const bye = sipRequest('BYE', `dedup-${tag}@x`).text;
  return [
    hep(invite, { captureId: 2001, tsSec: TS_SEC, tsUsec: 100 }),
    hep(invite, { captureId: 2002, tsSec: TS_SEC, tsUsec: 350 }), // a second agent on the path
    hep(invite, { captureId: 2001, tsSec: TS_SEC, tsUsec: 100 }), // the first agent sends it again
    hep(bye, { captureId: 2001, tsSec: TS_SEC + 1, tsUsec: 0 }),
  ];
}

async function run(t: TestDaemon, tag: string, rowsBefore: number, expectRows: number): Promise<Record<string, unknown>[]> {
  await sendTcpChunks(traffic(tag), t.port);
  assert.ok(await waitFor(() => tableRows(t.dbFile, 'sip_capture').length >= rowsBefore + expectRows, 5000), `${tag}: ${expectRows} rows`);
  // Let any extra (wrong) row arrive before counting.
  await new Promise((r) => setTimeout(r, 150));
  const rows = tableRows(t.dbFile, 'sip_capture').slice(rowsBefore);
  assert.equal(rows.length, expectRows, `${tag}: rows stored`);
  return rows;
}

async function metric(t: TestDaemon, line: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${t.httpPort}/metrics`)).text();
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (m) return Number(l.slice(l.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('dedup through the daemon', () => {
  test('off by default: every copy is a row', async () => {
    const t = await startTestDaemon({ routes: 'default' });
    try {
      assert.equal(t.daemon.config.dedup, 'off');
      assert.equal(t.daemon.dedup, null);
      await run(t, 'off', 0, 4);
      assert.equal(t.daemon.stats.droppedCount(DropReason.DUPLICATE), 0);
      assert.equal(await metric(t, /^sipcapture_packets_dropped_total\{reason="duplicate"\}/), 0, 'the reason is exported at 0');
      assert.equal(await metric(t, /^sipcapture_dedup_entries /), 0, 'no table: 0 entries');
    } finally {
      await t.close();
    }
  });

  test('agent: one agent\'s second copy is merged; the other agent\'s copy is kept', async () => {
    const t = await startTestDaemon({ routes: 'default', dedup: 'agent' });
    try {
      const rows = await run(t, 'agent', 0, 3);
      assert.deepEqual(rows.map((r) => [r['method'], r['node']]), [['INVITE', 'homer01:2001'], ['INVITE', 'homer01:2002'], ['BYE', 'homer01:2001']]);
      assert.equal(t.daemon.stats.droppedCount(DropReason.DUPLICATE), 1);
      assert.equal(await metric(t, /^sipcapture_packets_dropped_total\{reason="duplicate"\}/), 1);
      assert.equal(await metric(t, /^sipcapture_dedup_entries /), 3, 'three distinct (packet, agent) keys remembered');
      const stats = await rpcHttp(t.httpPort, 'sipcapture.stats');
      assert.deepEqual((stats.body.result as { dedup: unknown }).dedup, { entries: 3, max_entries: 200_000, evicted: 0 });
    } finally {
      await t.close();
    }
  });

  test('all: copies from every agent are merged; the first copy\'s row is kept', async () => {
    const t = await startTestDaemon({ routes: 'default', dedup: 'all' });
    try {
      const rows = await run(t, 'all', 0, 2);
      assert.deepEqual(rows.map((r) => [r['method'], r['node'], r['micro_ts']]), [['INVITE', 'homer01:2001', TS_SEC * 1e6 + 100], ['BYE', 'homer01:2001', (TS_SEC + 1) * 1e6]]);
      assert.equal(t.daemon.stats.droppedCount(DropReason.DUPLICATE), 2);
      assert.ok(t.logs.some((l) => l.includes('"reason":"duplicate"') && l.includes('copy of a packet seen within 1000 ms')), 'the drop is logged');
      // After the window the same bytes are a new packet (e.g. a retransmission 1 s later).
      await new Promise((r) => setTimeout(r, 1100));
      await run(t, 'all', 2, 2);
      assert.equal(t.daemon.stats.droppedCount(DropReason.DUPLICATE), 4);
    } finally {
      await t.close();
    }
  });

  test('a reload switches dedup on and off without a restart', async () => {
    const t = await startTestDaemon({ routes: 'default' });
    try {
      await run(t, 'r1', 0, 4);
      t.rewrite({ routes: 'default', dedup: 'all', dedup_window_ms: 60_000 });
      const report = await t.daemon.reload();
      assert.deepEqual(report.applied.sort(), ['dedup', 'dedup_window_ms']);
      assert.deepEqual(report.restartNeeded, []);
      await run(t, 'r2', 4, 2);
      assert.equal(t.daemon.stats.droppedCount(DropReason.DUPLICATE), 2);
      t.rewrite({ routes: 'default' });
      await t.daemon.reload();
      assert.equal(t.daemon.dedup, null);
      await run(t, 'r2', 6, 4);
    } finally {
      await t.close();
    }
  });
});
