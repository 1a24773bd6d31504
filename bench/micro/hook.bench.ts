/**
 * Per-packet cost of the nonsip_hook (hook/runner.ts): packets go to the hook worker in
 * batches and come back with the decision. Measures throughput and added latency for a trivial
 * hook (`pass`: return 1) and one that reads chunks (`inspect`), against the decode alone.
 * Run: node --import tsx bench/micro/hook.bench.ts [packets]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { CaptureState } from '../../src/pipeline/capture-state.js';
import { Stats } from '../../src/telemetry/stats.js';
import { decodeHep } from '../../src/hep/decode.js';
import { encodeHep } from '../../src/hep/encode.js';
import { HookRunner } from '../../src/hook/runner.js';

const N = Number(process.argv[2] ?? 200_000);
const BURST = 64;
const here = path.dirname(fileURLToPath(import.meta.url));
const hookModule = path.resolve(here, '../../test/fixtures/hooks/pass.mjs');

const payload = [
  'INVITE sip:bob@example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1;rport',
  'From: "Alice" <sip:alice@example.com>;tag=1',
  'To: <sip:bob@example.com>',
  'Call-ID: bench@192.0.2.10',
  'CSeq: 1 INVITE',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');
const packet = encodeHep({ srcIp: '192.0.2.10', dstIp: '192.0.2.20', srcPort: 5060, dstPort: 5060, tsSec: 1795348800, captureId: 1, payload: payload.padEnd(800, ' ') });

async function run(fn: string): Promise<void> {
  const stats = new Stats(null);
  const state = new CaptureState({ capture_on: 1, hep_capture_on: 1 });
  let done = 0;
  let latencySum = 0;
  const sentAt = new Float64Array(N);
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => (finish = r));
  const runner = await HookRunner.start({
    settings: { hookModule, eventCallback: fn, timeoutMs: 100, rowOptions: { captureNode: 'n', callidAlegHeaders: [], customFieldHeaders: ['', '', ''], topoh: null, captureBadMsgs: false, dateTimeZone: 'UTC' }, modes: [], defaultDbUrl: null },
    state,
    stats,
    logger: pino({ level: 'silent' }),
    onDefault: (data, _listener, receivedAtUs) => {
      decodeHep(data);
      latencySum += performance.now() - sentAt[receivedAtUs]!;
      if (++done === N) finish();
    },
    enqueue: () => undefined,
  });
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  let i = 0;
  // Bursts of BURST packets per loop turn, as a busy UDP socket delivers them.
  await new Promise<void>((resolve) => {
    const burst = (): void => {
      // Offer what the worker can take (below MAX_QUEUED): this measures capacity, not overload.
      for (let k = 0; k < BURST && i < N && runner.queueDepth < 4096; k++, i++) {
        sentAt[i] = performance.now();
        runner.submit(packet, 'bench', i); // receivedAtUs carries the index here
      }
      if (i < N) setImmediate(burst);
      else resolve();
    };
    burst();
  });
  await finished;
  const ms = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  await runner.close();
  const skipped = stats.hookCount('overload') + stats.hookCount('unavailable');
  console.log(
    `${fn.padEnd(8)} ${N} packets: ${((ms * 1000) / N).toFixed(2)} µs/packet end to end (${Math.round(N / (ms / 1000))} packets/s), ` +
      `receive thread busy ${((elu.active * 1000) / N).toFixed(2)} µs/packet (default-path decode included), mean added latency ${(latencySum / N).toFixed(2)} ms, skipped ${skipped}`,
  );
}

{
  const t0 = performance.now();
  for (let i = 0; i < N; i++) decodeHep(packet);
  console.log(`decode   ${N} packets: ${(((performance.now() - t0) * 1000) / N).toFixed(2)} µs/packet (no hook)`);
}
await run('pass');
await run('inspect');
