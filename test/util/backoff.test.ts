import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, WakeableSleep, backoffDelay } from '../../src/util/backoff.js';

test('backoffDelay: base after the first failure, doubling, capped', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 100, 1000)), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(backoffDelay(0, 100, 1000), 100);
  assert.equal(backoffDelay(10_000, 1, 5000), 5000);
});

test('Backoff counts failures and starts over after a success', () => {
  const b = new Backoff(200, 30_000);
  assert.deepEqual([b.fail(), b.fail(), b.fail()], [200, 400, 800]);
  assert.equal(b.failures, 3);
  b.succeed();
  assert.equal(b.failures, 0);
  assert.equal(b.fail(), 200);
});

test('WakeableSleep: wakeAll ends every wait now; with stay, later waits too', async () => {
  const s = new WakeableSleep(true);
  const t0 = Date.now();
  const waits = [s.sleep(10_000), s.sleep(10_000)];
  s.wakeAll();
  await Promise.all(waits);
  assert.ok(Date.now() - t0 < 1000);
  s.wakeAll(true);
  const t1 = Date.now();
  await s.sleep(10_000);
  assert.ok(Date.now() - t1 < 100);
});
