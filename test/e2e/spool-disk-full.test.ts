/**
 * The disk under the spool fills up: spool_dir is a 2 MiB tmpfs (root needed), PostgreSQL is
 * cut off by a TCP proxy, and messages are sent until appends fail with ENOSPC. Those rows are
 * counted spool_full, the daemon stays up and answers RPC. Then the database comes back while
 * the disk is still full: the spool drains (moving the read position needs no free space), no
 * row twice; the space it frees takes a second outage; after `mount -o remount,size=…` more
 * space is there, and new traffic is stored.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { requireOrSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';
import { HepTcpSender, PG_URL, RUN, pgNamespace, reachable, tally } from '../store/_e2e.js';
import { TcpProxy } from '../store/_tcp-proxy.js';

function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const dir = mkdtempSync(join(tmpdir(), 'sipcapture-tmpfs-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmdirSync(dir);
  }
}

const skip = requireOrSkip(canMount(), 'root and mount -t tmpfs') || requireOrSkip(await reachable(PG_URL, 5432), `PostgreSQL at ${PG_URL}`);

async function rpc(httpPort: number, method: string): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/RPC`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, id: 1 }),
    signal: AbortSignal.timeout(5000),
  });
  return ((await res.json()) as { result?: unknown }).result;
}

describe('spool on a full disk', { skip }, () => {
  test('ENOSPC: counted spool_full, no crash, RPC answers; the spool drains on the full disk and takes rows again when space returns', { timeout: 120_000 }, async () => {
    const mnt = mkdtempSync(join(tmpdir(), 'sipcapture-faults-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
    const ns = await pgNamespace('faults_diskfull');
    const target = new URL(PG_URL);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    let d: Awaited<ReturnType<typeof startTestDaemon>> | null = null;
    try {
      await proxy.cut();
      // spool_max_bytes far above the disk: the disk fills first.
      d = await startTestDaemon({
        db_url: ns.url(proxy.port),
        routes: 'default',
        table_name: 'sip_capture',
        spool_dir: join(mnt, 'spool'),
        batch_size: 50,
        insert_retries: 0,
        log_rate_limit_s: 10,
      });
      const daemon = d.daemon;
      const sender = await HepTcpSender.connect(d.port);
      const sent: string[] = [];
      const send = async (n: number, tag: string): Promise<void> => {
        for (let i = 0; i < n; i += 50) {
          const now = Date.now();
          const items = Array.from({ length: 50 }, () => {
            const callid = `${tag}-${RUN}-${sent.length}`;
            sent.push(callid);
            return { text: sipRequest('INVITE', callid).text, tsSec: Math.floor(now / 1000) };
          });
          await sender.send(items);
          await sleep(10);
        }
      };
      const spoolFull = (): number => daemon.stats.droppedCount(DropReason.SPOOL_FULL);
      // About 1.4 KB a row in the spool: 2 MiB is full after ~1,500 rows.
      for (let round = 0; round < 20 && spoolFull() === 0; round++) await send(500, 'full');
      assert.ok(await waitFor(() => spoolFull() > 0, 10_000), 'ENOSPC was reached and counted spool_full');
      await send(500, 'full');
      await waitFor(() => daemon.storage.storageStats()[0]!.queueDepth === 0, 10_000);
      const st1 = daemon.storage.storageStats()[0]!;
      const appended = st1.spool!.appendedRows;
      const dropped = spoolFull();
      assert.deepEqual(Object.keys(daemon.stats.snapshot().dropped), [DropReason.SPOOL_FULL], 'nothing else dropped');
      assert.equal(appended + dropped, sent.length, 'every row spooled or counted');
      const stats = (await rpc(d.httpPort, 'sipcapture.stats')) as { dropped: Record<string, number> };
      assert.equal(stats.dropped[DropReason.SPOOL_FULL], dropped, 'RPC answers during the disk-full episode');
      process.stdout.write(`disk full: sent ${sent.length}, spooled ${appended}, spool_full ${dropped}\n`);

      // The database returns while the disk is still full: the spool drains.
      await proxy.restore();
      assert.ok(await waitFor(async () => (await ns.callids()).length >= appended, 30_000, 250), 'spooled rows replayed on the full disk');
      assert.ok(await waitFor(() => daemon.storage.storageStats()[0]!.spool!.pendingBytes === 0, 10_000), 'spool drained');

      // A second outage: the space the replay freed takes rows again.
      await proxy.cut();
      const before = sent.length;
      await send(500, 'again');
      await waitFor(() => daemon.storage.storageStats()[0]!.queueDepth === 0, 10_000);
      assert.equal(spoolFull(), dropped, 'room again: nothing more counted spool_full');
      // More space, and the database back: new traffic is stored, the spool drains.
      execFileSync('mount', ['-o', 'remount,size=16m', mnt]);
      await proxy.restore();
      await send(500, 'after');
      await sender.close();
      const expected = appended + (sent.length - before);
      assert.ok(await waitFor(async () => (await ns.callids()).length >= expected, 30_000, 250), 'everything after the first episode stored');
      await sleep(500);
      const stored = await ns.callids();
      const { duplicates } = tally(stored.map((callid) => ({ callid })));
      assert.deepEqual(duplicates.slice(0, 5), [], `${duplicates.length} duplicated`);
      assert.equal(stored.length, expected);
      assert.equal(stored.length + dropped, sent.length, 'every message stored or counted');
      assert.equal(daemon.storage.storageStats()[0]!.spool!.pendingBytes, 0);
    } catch (err) {
      // What the daemon said (warnings and errors), to see why.
      for (const line of d?.logs ?? []) if (/"level":(40|50|60)/.test(line)) process.stdout.write(`# ${line.slice(0, 400)}`);
      throw err;
    } finally {
      await d?.close();
      await proxy.close();
      await ns.drop();
      execFileSync('umount', [mnt]);
      rmdirSync(mnt);
    }
  });
});
