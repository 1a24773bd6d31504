/**
 * The connection dies right after COMMIT was sent: did the batch commit? A TCP proxy between
 * the store and the real server forwards COMMIT and then cuts the connection before the answer
 * (the batch committed), or cuts it without forwarding COMMIT (it did not). Either way the
 * writer's retry asks the store (`wasCommitted`: txid_status on PostgreSQL, the batch's
 * auto-increment id on MariaDB) and the rows end up in the table exactly once.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { DropReason } from '../../../src/telemetry/drop-reasons.js';
import { Stats } from '../../../src/telemetry/stats.js';
import { createStore } from '../../../src/store/factory.js';
import { StoreWriter } from '../../../src/store/writer/writer.js';
import { requireOrSkip } from '../../helpers/env.js';
import { MYSQL_URL, PG_URL, RUN, mysqlNamespace, pgNamespace, reachable } from '../_e2e.js';
import { TcpProxy } from '../_tcp-proxy.js';
import { sipRow } from '../_rows.js';

const COMMIT = Buffer.from('COMMIT');

for (const [kind, url, port, make] of [
  ['postgres', PG_URL, 5432, pgNamespace],
  ['mysql', MYSQL_URL, 3306, mysqlNamespace],
] as const) {
  const skip = requireOrSkip(await reachable(url, port), `${kind} at ${url}`);
  describe(`${kind}: a lost COMMIT answer`, { skip }, () => {
    for (const committed of [true, false]) {
      test(`the server ${committed ? 'committed' : 'never got COMMIT'}: the rows are stored exactly once`, { timeout: 60_000 }, async () => {
        const ns = await make('commit');
        const target = new URL(url);
        const proxy = await TcpProxy.start(target.hostname, Number(target.port || port));
        const store = await createStore(ns.url(proxy.port));
        const stats = new Stats(null);
        const writer = new StoreWriter(store, {
          stats,
          batchSize: 50,
          batchTimeoutMs: 10,
          queueMaxRows: 10_000,
          insertRetries: 20,
          insertRetryTimeoutS: 30,
          retryBaseDelayMs: 50,
          retryMaxDelayMs: 500,
        });
        try {
          await store.ensureTable('sip_capture', 'sip');
          let cuts = 0;
          proxy.onClientData = (chunk: Buffer, client: net.Socket, upstream: net.Socket): boolean => {
            if (cuts > 0 || chunk.indexOf(COMMIT) < 0) return false;
            cuts++;
            // Half-close after COMMIT: the server runs it, then sees the end; the client's side
            // dies at once, so its answer never arrives.
            if (committed) upstream.end(chunk);
            else upstream.destroy();
            client.destroy();
            return true;
          };
          const ids = Array.from({ length: 50 }, (_, i) => `commit-${RUN}-${i}`);
          ids.forEach((callid, i) => writer.enqueue('sip_capture', 'sip', sipRow(i, { callid })));
          await writer.flush();
          assert.equal(cuts, 1, 'the COMMIT was intercepted');
          const stored = await ns.callids();
          assert.deepEqual([...stored].sort(), [...ids].sort(), 'every row exactly once');
          assert.equal(stats.snapshot().stored['sip_capture'], 50);
          assert.equal(stats.droppedCount(DropReason.DB_ERROR), 0);
        } finally {
          await writer.close();
          await store.close();
          await proxy.close();
          await ns.drop();
        }
      });
    }
  });
}
