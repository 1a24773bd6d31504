/**
 * Runs the sender in one thread or, with `workers` > 1, in that many worker threads that split
 * the rate and the count (each with its own socket, token bucket and Call-ID tag), and merges
 * their summaries. One Node thread tops out at some rate on a given machine (see
 * docs/benchmarks.md); workers are for going beyond it on machines with spare cores.
 */
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { runSender, validateSenderOptions, type SendSummary, type SenderOptions } from './sender.js';

export interface LoadOptions extends SenderOptions {
  /** Sender threads (default 1 = this thread). */
  workers?: number;
}

/** Starts the worker entry next to this module (.js when compiled; .ts under tsx, whose hooks workers do not inherit on Node 20). */
function startWorker(share: SenderOptions): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData: share });
  const entry = new URL('./worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const src = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(src, { eval: true, workerData: share });
}

function addInto(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Merges per-thread summaries into one (rates and times over the union of the sending windows). */
export function mergeSummaries(parts: readonly SendSummary[], requestedRate: number): SendSummary {
  const byStream: Record<string, number> = {};
  const byFlow: Record<string, number> = {};
  const errorCodes: Record<string, number> = {};
  let count = 0;
  let sent = 0;
  let sentBytes = 0;
  let flows = 0;
  let sendErrors = 0;
  let firstSendUs = Number.POSITIVE_INFINITY;
  let lastSendUs = 0;
  for (const p of parts) {
    count += p.count;
    sent += p.sent;
    sentBytes += p.sentBytes;
    flows += p.flows;
    sendErrors += p.sendErrors;
    addInto(byStream, p.byStream);
    addInto(byFlow, p.byFlow);
    addInto(errorCodes, p.errorCodes);
    if (p.firstSendUs > 0) firstSendUs = Math.min(firstSendUs, p.firstSendUs);
    lastSendUs = Math.max(lastSendUs, p.lastSendUs);
  }
  if (!Number.isFinite(firstSendUs)) firstSendUs = 0;
  const durationS = Math.max(0, (lastSendUs - firstSendUs) / 1e6);
  return {
    count,
    sent,
    sentBytes,
    byStream,
    byFlow,
    flows,
    sendErrors,
    errorCodes,
    requestedRate,
    achievedRate: durationS > 0 ? sent / durationS : sent,
    durationS,
    firstSendUs,
    lastSendUs,
    // process.cpuUsage() in a worker reports the whole process, so take it once, not summed.
    cpuUserS: Math.max(...parts.map((p) => p.cpuUserS)),
    cpuSystemS: Math.max(...parts.map((p) => p.cpuSystemS)),
    workers: parts.length,
  };
}

export async function sendLoad(opts: LoadOptions): Promise<SendSummary> {
  validateSenderOptions(opts);
  const workers = Math.max(1, Math.floor(opts.workers ?? 1));
  const { workers: _w, ...base } = opts;
  if (workers === 1) return runSender(base);
  const tag = randomBytes(3).toString('hex');
  const shares = Array.from({ length: workers }, (_, i) => {
    const count = Math.floor(opts.count / workers) + (i < opts.count % workers ? 1 : 0);
    // Seeds differ so the workers do not send the same flow variants in lock step.
    const o: SenderOptions = { ...base, count, rate: opts.rate / workers, seed: (opts.seed ?? 1) + i * 7919, runTag: `${tag}${i.toString(16).padStart(2, '0')}` };
    return o;
  });
  const parts = await Promise.all(
    shares.map(
      (share) =>
        new Promise<SendSummary>((resolve, reject) => {
          const w = startWorker(share);
          let result: SendSummary | undefined;
          w.once('message', (m: SendSummary) => (result = m));
          w.once('error', reject);
          w.once('exit', (code) => (result !== undefined ? resolve(result) : reject(new Error(`sender worker exited with code ${code} and no summary`))));
        }),
    ),
  );
  return mergeSummaries(parts, opts.rate);
}
