/**
 * The memory guard in a running daemon: with the RSS reading above memory_limit_mb, HEP packets
 * are dropped at ingress and counted memory_limit (shown in the RPC stats and /metrics); once it
 * is below 90 % of the limit again, packets are stored. The RSS source is the only thing the
 * test sets; sockets, the pipeline and SQLite are real.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { sendUdp, waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';
import { hep, rpcHttp, startTestDaemon, type TestDaemon } from '../control/helpers.js';

const MiB = 1048576;

describe('memory_limit_mb in a running daemon', () => {
  let t: TestDaemon;
  let rss = 50 * MiB;
  before(async () => {
    t = await startTestDaemon({ memory_limit_mb: 100 }, { rss: () => rss });
  });
  after(() => t.close());

  const stored = (): number => Object.values(t.daemon.stats.snapshot().stored).reduce((a, b) => a + b, 0);
  const shed = (): number => t.daemon.stats.droppedCount(DropReason.MEMORY_LIMIT);
  const shedding = async (): Promise<boolean> => {
    const r = await rpcHttp(t.httpPort, 'sipcapture.stats');
    return (r.body.result as { memory: { shedding: boolean } }).memory.shedding;
  };
  const metric = async (): Promise<string> => (await (await fetch(`http://127.0.0.1:${t.httpPort}/metrics`)).text()).split('\n').find((l) => l.startsWith('sipcapture_memory_shedding ')) ?? '';
  const send = (tag: string): Promise<void> => sendUdp(Array.from({ length: 20 }, (_, i) => hep(sipRequest('OPTIONS', `${tag}-${i}@x`).text)), t.port);

  test('below the limit: stored', async () => {
    await send('below');
    assert.ok(await waitFor(() => stored() === 20), `stored ${stored()}`);
    assert.equal(await shedding(), false);
  });

  test('above the limit: shed at ingress, counted memory_limit, gauge 1', async () => {
    rss = 120 * MiB;
    assert.ok(await waitFor(shedding, 5000), 'the guard noticed');
    assert.equal(await metric(), 'sipcapture_memory_shedding 1');
    await send('above');
    assert.ok(await waitFor(() => shed() === 20), `shed ${shed()}`);
    assert.equal(stored(), 20);
  });

  test('between 90 % and the limit with nothing queued: packets are taken again', async () => {
    // 95 MiB: below the limit, above the resume mark; nothing of ours is queued, so shedding
    // would only lose traffic — the guard takes packets again.
    rss = 95 * MiB;
    assert.ok(await waitFor(async () => !(await shedding()), 5000), 'resumed');
  });

  test('below 90 % of the limit: stored again, gauge 0', async () => {
    rss = 50 * MiB;
    await send('again');
    assert.ok(await waitFor(() => stored() === 40), `stored ${stored()}`);
    assert.equal(shed(), 20);
    assert.equal(await metric(), 'sipcapture_memory_shedding 0');
  });
});
