/**
 * The fuzz loop: for each index, derive a generator from (seed, index), build an input, run the
 * target under a stopwatch, and check what came back. A failure is an exception escaping the
 * code under test, a broken invariant, a rejection without a known reason, a call slower than
 * the time budget (re-timed three times before it counts, so a GC pause or a busy machine is not called a hang), or memory
 * beyond its bound. Each failing input is written to a file that `run.js --replay` runs again.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Rng } from './rng.js';
import type { Seeds } from './seeds.js';

export interface FuzzInput {
  /** Target-specific small integer (link type, maxFrame, row options …). */
  param: number;
  /** The bytes: one datagram, the chunks of a TCP stream, or a sequence of frames. */
  parts: Buffer[];
  /** Target-specific numbers (timestamps, clock steps); empty when unused. */
  nums: number[];
}

export interface Outcome {
  /** Reason labels of this input's rejections (`<DropReason>/<detail code>`), in order. */
  rejections: string[];
  /** Messages, frames or rows that went through. */
  accepted: number;
  /**
   * Longest single call into the code under test (one push of a TCP chunk, one frame), for
   * targets whose input is many calls; absent: the whole input is one call.
   */
  maxCallMs?: number;
}

/** A broken invariant (as opposed to an exception thrown by the code under test). */
export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantError';
  }
}

export function check(cond: boolean, message: string | (() => string)): asserts cond {
  if (!cond) throw new InvariantError(typeof message === 'string' ? message : message());
}

export interface FuzzTarget {
  readonly name: string;
  readonly what: string;
  /** Every reason label execute() may report. */
  readonly reasons: ReadonlySet<string>;
  generate(rng: Rng, index: number): FuzzInput;
  execute(input: FuzzInput): Outcome;
  /** For stateful targets: a check of the retained state (bounded), run after every input. */
  checkState?(): void;
  /** Retained-state figures for the report (e.g. peak reassembly bytes). */
  stateReport?(): Record<string, number>;
  /** End of the run (flush reassembly); returns the rejections that produces. */
  finish?(): Outcome;
  /** A fresh instance with no retained state (replay, re-timing). */
  fresh(): FuzzTarget;
}

export type TargetFactory = (seeds: Seeds) => FuzzTarget;

export interface FuzzFailure {
  index: number;
  kind: 'throw' | 'invariant' | 'unnamed_reason' | 'hang' | 'memory';
  message: string;
  file: string | null;
}

export interface FuzzReport {
  target: string;
  seed: number;
  inputs: number;
  accepted: number;
  rejections: Map<string, number>;
  durationMs: number;
  maxInputMs: number;
  maxInputIndex: number;
  /** Inputs over the budget once that were fast when re-timed (GC, scheduling). */
  slowUnconfirmed: number;
  peakHeapBytes: number;
  peakRssBytes: number;
  /** Heap used right after a full GC (node --expose-gc only; -1 otherwise): first, peak, last sample. */
  liveHeapFirst: number;
  liveHeapPeak: number;
  liveHeapLast: number;
  state: Record<string, number>;
  failures: FuzzFailure[];
}

export interface FuzzOptions {
  seed: number;
  count: number;
  /** A call slower than this (re-timed twice) is a hang. */
  budgetMs: number;
  /** Heap used beyond this is a failure. */
  maxHeapBytes: number;
  /** Memory is sampled every this many inputs. */
  sampleEvery: number;
  /** With node --expose-gc: a full GC and a live-heap sample every this many inputs (0: never). */
  gcEvery: number;
  /** Live heap (after GC) growing more than this from the first sample is a failure (a leak). */
  maxLiveGrowthBytes: number;
  /** Where failing inputs go; null: not written. */
  crashDir: string | null;
  /** Stop after this many failures (the rest are usually the same bug). */
  maxFailures: number;
  /** Called every `sampleEvery` inputs with the number done. */
  progress?: (done: number) => void;
}

/** Inputs between two turns of the event loop (see runTarget). */
const YIELD_EVERY = 1000;

export async function runTarget(target: FuzzTarget, opts: FuzzOptions): Promise<FuzzReport> {
  const report: FuzzReport = {
    target: target.name,
    seed: opts.seed,
    inputs: 0,
    accepted: 0,
    rejections: new Map(),
    durationMs: 0,
    maxInputMs: 0,
    maxInputIndex: -1,
    slowUnconfirmed: 0,
    peakHeapBytes: 0,
    peakRssBytes: 0,
    liveHeapFirst: -1,
    liveHeapPeak: -1,
    liveHeapLast: -1,
    state: {},
    failures: [],
  };
  const started = performance.now();
  const fail = (index: number, input: FuzzInput | null, kind: FuzzFailure['kind'], message: string): void => {
    const file = input !== null && opts.crashDir !== null ? writeCrash(opts.crashDir, target.name, opts.seed, index, kind, message, input) : null;
    report.failures.push({ index, kind, message, file });
  };
  const tally = (outcome: Outcome, index: number, input: FuzzInput | null): boolean => {
    report.accepted += outcome.accepted;
    for (const r of outcome.rejections) {
      if (!target.reasons.has(r)) {
        fail(index, input, 'unnamed_reason', `rejection without a known reason: ${JSON.stringify(r)}`);
        return false;
      }
      report.rejections.set(r, (report.rejections.get(r) ?? 0) + 1);
    }
    return true;
  };

  for (let i = 0; i < opts.count && report.failures.length < opts.maxFailures; i++) {
    // Let the event loop turn now and then, as it does between receive batches in the daemon:
    // zlib's sync calls free what a failed inflate held only then (a loop that never yields
    // holds ~2 KiB per corrupt compressed payload, 2 GB over a million).
    if (i % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
    const input = target.generate(Rng.forInput(opts.seed, i), i);
    report.inputs++;
    let outcome: Outcome;
    const t0 = performance.now();
    try {
      outcome = target.execute(input);
      target.checkState?.();
    } catch (err) {
      fail(i, input, err instanceof InvariantError ? 'invariant' : 'throw', describeError(err));
      continue;
    }
    const dt = outcome.maxCallMs ?? performance.now() - t0;
    if (dt > report.maxInputMs) {
      report.maxInputMs = dt;
      report.maxInputIndex = i;
    }
    if (dt > opts.budgetMs) {
      const again = retime(target, input);
      if (again > opts.budgetMs) fail(i, input, 'hang', `one call took ${dt.toFixed(1)} ms, best of 3 re-timings ${again.toFixed(1)} ms (budget ${opts.budgetMs} ms)`);
      else report.slowUnconfirmed++;
    }
    if (!tally(outcome, i, input)) continue;
    if (i % opts.sampleEvery === 0) {
      sampleMemory(report);
      opts.progress?.(i);
      if (report.peakHeapBytes > opts.maxHeapBytes) {
        fail(i, null, 'memory', `heap used ${mib(report.peakHeapBytes)} > ${mib(opts.maxHeapBytes)}`);
      }
    }
    if (opts.gcEvery > 0 && i > 0 && i % opts.gcEvery === 0 && sampleLiveHeap(report)) {
      if (report.liveHeapLast - report.liveHeapFirst > opts.maxLiveGrowthBytes) {
        fail(i, null, 'memory', `live heap grew from ${mib(report.liveHeapFirst)} to ${mib(report.liveHeapLast)}`);
      }
    }
  }
  if (target.finish !== undefined) {
    try {
      tally(target.finish(), report.inputs, null);
    } catch (err) {
      fail(report.inputs, null, err instanceof InvariantError ? 'invariant' : 'throw', `at finish: ${describeError(err)}`);
    }
  }
  sampleMemory(report);
  report.state = target.stateReport?.() ?? {};
  report.durationMs = performance.now() - started;
  return report;
}

/** Best of three runs on a fresh instance (the input alone, without accumulated state). */
function retime(target: FuzzTarget, input: FuzzInput): number {
  let best = Number.POSITIVE_INFINITY;
  for (let k = 0; k < 3; k++) {
    const fresh = target.fresh();
    const t0 = performance.now();
    let call: number | undefined;
    try {
      call = fresh.execute(input).maxCallMs;
    } catch {
      // the first run already reported it
    }
    best = Math.min(best, call ?? performance.now() - t0);
  }
  return best;
}

/** Full GC, then heap used: what the target really retains. False without --expose-gc. */
function sampleLiveHeap(report: FuzzReport): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return false;
  gc();
  const live = process.memoryUsage().heapUsed;
  if (report.liveHeapFirst < 0) report.liveHeapFirst = live;
  report.liveHeapPeak = Math.max(report.liveHeapPeak, live);
  report.liveHeapLast = live;
  return true;
}

function sampleMemory(report: FuzzReport): void {
  const m = process.memoryUsage();
  report.peakHeapBytes = Math.max(report.peakHeapBytes, m.heapUsed);
  report.peakRssBytes = Math.max(report.peakRssBytes, m.rss);
}

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}\n${(err.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return String(err);
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

// ---------------------------------------------------------------- input files

/**
 * Text format of a saved input (crash files and test/fuzz/regressions/*.hex):
 *   # comment lines
 *   target NAME
 *   param N
 *   nums N,N,…
 *   part HEX        (one line per part, in order)
 */
export function formatInput(target: string, input: FuzzInput, comments: readonly string[]): string {
  const lines = comments.map((c) => `# ${c.replace(/\n/g, '\n# ')}`);
  lines.push(`target ${target}`, `param ${input.param}`, `nums ${input.nums.join(',')}`);
  for (const p of input.parts) lines.push(`part ${p.toString('hex')}`);
  return `${lines.join('\n')}\n`;
}

export function parseInput(text: string): { target: string; input: FuzzInput } {
  let target = '';
  const input: FuzzInput = { param: 0, parts: [], nums: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.indexOf(' ');
    const key = sp < 0 ? line : line.slice(0, sp);
    const value = sp < 0 ? '' : line.slice(sp + 1).trim();
    if (key === 'target') target = value;
    else if (key === 'param') input.param = Number(value);
    else if (key === 'nums') input.nums = value === '' ? [] : value.split(',').map(Number);
    else if (key === 'part') input.parts.push(Buffer.from(value, 'hex'));
    else throw new Error(`unknown line in fuzz input: ${line}`);
  }
  if (target === '') throw new Error('fuzz input without a target line');
  return { target, input };
}

export function readInputFile(file: string): { target: string; input: FuzzInput } {
  return parseInput(readFileSync(file, 'utf8'));
}

function writeCrash(dir: string, target: string, seed: number, index: number, kind: string, message: string, input: FuzzInput): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${target}-seed${seed}-${index}.hex`);
  const replay = `node dist/test/fuzz/run.js --replay ${file}   (or: --target ${target} --seed ${seed} --count ${index + 1})`;
  writeFileSync(file, formatInput(target, input, [`${kind}: ${message}`, `seed ${seed} index ${index}`, replay]));
  return file;
}
