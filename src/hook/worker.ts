/**
 * The hook worker thread: imports hook_module, then runs event_callback for each packet of each
 * batch, in order. A synchronous hook that never returns cannot be interrupted on its own
 * thread, so the daemon watches `progress` and terminates this worker (hook-runner.ts); an
 * asynchronous hook is bounded here by hook_timeout_ms.
 */
import { pathToFileURL } from 'node:url';
import { javascriptSyntaxProblem } from '../config/host-checks.js';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeHep } from '../hep/decode.js';
import type { HookFunction } from './public.js';
import {
  FLAG_CAPTURE_ON,
  PROGRESS_INDEX,
  PROGRESS_SEQ,
  PROGRESS_STARTED,
  HOOK_OUTCOMES,
  type HookBatchMessage,
  type HookOutcome,
  type HookResults,
  type HookWorkerInit,
  type HookWorkerMessage,
} from './protocol.js';
import { HepHookRequest, HookRouters, type HookContext } from './request.js';

/** Partial results are sent at least this often during a long batch, so a hang loses little. */
const FLUSH_EVERY_MS = 5;

const port = parentPort;
if (port === null) throw new Error('hook-worker.ts must run in a worker thread');
const init = workerData as HookWorkerInit;
const flags = new Int32Array(init.flags);
const progress = new Float64Array(init.progress);
progress[PROGRESS_INDEX] = -1;

const post = (m: HookWorkerMessage): void => port.postMessage(m);

const ctx: HookContext = {
  rowOptions: init.rowOptions,
  modes: new Map(init.modes),
  defaultDbUrl: init.defaultDbUrl,
  captureOn: () => Atomics.load(flags, FLAG_CAPTURE_ON) === 1,
  log: (level, message) => post({ type: 'log', level, message }),
};
const routers = new HookRouters(ctx);

function isRecord(v: unknown): v is Record<string, unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null;
}

async function loadHook(): Promise<HookFunction> {
  const file = init.hookModule;
  if (/\.[cm]?ts$/.test(file) && !import.meta.url.endsWith('.ts')) {
    // Compiled daemon, TypeScript hook: tsx (if installed) compiles it on import.
    try {
      const api = (await import('tsx/esm/api')) as { register: () => unknown };
      api.register();
    } catch {
      throw new Error(`hook_module ${file} is TypeScript, and tsx is not installed to load it: compile it to .js, or install tsx`);
    }
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    // A syntax error from import() names neither the file nor the line; `node --check` does.
    const e = err instanceof Error ? err : new Error(String(err));
    const parsed = e instanceof SyntaxError ? javascriptSyntaxProblem(file) : undefined;
    if (parsed !== undefined) throw new Error(`hook_module ${parsed}`, { cause: err });
    throw new Error(`hook_module ${file} cannot be loaded: ${e.name}: ${e.message}`, { cause: err });
  }
  const name = init.eventCallback;
  const fn = mod[name] ?? (isRecord(mod['default']) ? mod['default'][name] : undefined);
  if (typeof fn !== 'function') {
    const exported = Object.keys(mod).join(', ') || 'nothing';
    throw new Error(`hook_module ${file} does not export a function named ${name} (event_callback); it exports: ${exported}`);
  }
  return fn as HookFunction;
}

function outcomeOf(ret: unknown): Result {
  if (ret === 1 || ret === true) return { outcome: 'continue' };
  if (ret === 0 || ret === false) return { outcome: 'handled' };
  if (typeof ret === 'number' && ret < 0) return { outcome: 'rejected' };
  return { outcome: 'bad_return', detail: `returned ${typeof ret === 'number' ? ret : typeof ret} (expected 1, 0 or a negative number)` };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return isRecord(v) && typeof v['then'] === 'function';
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

type Result = { outcome: HookOutcome; detail?: string };

/** Calls the hook; a promise only when the hook returned one (no microtask per sync call). */
function runOne(fn: HookFunction, req: HepHookRequest): Result | Promise<Result> {
  let ret: unknown;
  try {
    ret = fn(req.event, req);
  } catch (err) {
    return { outcome: 'error', detail: describe(err) };
  }
  return isThenable(ret) ? settle(ret) : outcomeOf(ret);
}

async function settle(ret: PromiseLike<unknown>): Promise<Result> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), init.timeoutMs);
  });
  try {
    const settled = await Promise.race([Promise.resolve(ret).then((v) => ({ v })), timeout]);
    if (settled === 'timeout') return { outcome: 'timeout', detail: `no answer within ${init.timeoutMs} ms` };
    return outcomeOf(settled.v);
  } catch (err) {
    return { outcome: 'error', detail: describe(err) };
  } finally {
    clearTimeout(timer);
  }
}

const OUTCOME_CODE = new Map(HOOK_OUTCOMES.map((o, i) => [o, i]));

async function runBatch(fn: HookFunction, m: HookBatchMessage): Promise<void> {
  const data = Buffer.from(m.data);
  const n = m.listeners.length;
  let out: HookResults = newResults(m.seq, 0, n);
  let lastFlush = Date.now();
  progress[PROGRESS_SEQ] = m.seq;
  for (let i = 0; i < n; i++) {
    const raw = data.subarray(m.offsets[i], m.offsets[i + 1]);
    const decoded = decodeHep(raw);
    if (!decoded.ok) {
      out.outcomes[i - out.from] = OUTCOME_CODE.get('malformed') ?? 0;
      continue;
    }
    const req = new HepHookRequest(decoded.packet, raw, m.listeners[i] ?? '', m.receivedAtUs[i] ?? 0, ctx, routers);
    progress[PROGRESS_STARTED] = Date.now();
    progress[PROGRESS_INDEX] = i;
    let r = runOne(fn, req);
    if (r instanceof Promise) r = await r;
    progress[PROGRESS_INDEX] = -1;
    req.close();
    out.outcomes[i - out.from] = OUTCOME_CODE.get(r.outcome) ?? 0;
    if (req.actions.length > 0) out.actions.push({ i, actions: req.actions });
    if (r.detail !== undefined) out.details.push({ i, detail: r.detail });
    const now = Date.now();
    if (now - lastFlush >= FLUSH_EVERY_MS && i + 1 < n) {
      // A long batch reports as it goes, so a hang later in it loses little.
      post({ ...out, outcomes: out.outcomes.subarray(0, i + 1 - out.from) });
      out = newResults(m.seq, i + 1, n);
      lastFlush = now;
    }
  }
  out.last = true;
  post(out);
}

function newResults(seq: number, from: number, n: number): HookResults {
  return { type: 'results', seq, from, outcomes: new Uint8Array(n - from), actions: [], details: [], last: false };
}

try {
  const fn = await loadHook();
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (m: HookBatchMessage) => {
    chain = chain.then(() => runBatch(fn, m));
  });
  post({ type: 'ready' });
} catch (err) {
  post({ type: 'fatal', message: err instanceof Error ? err.message : String(err) });
}
