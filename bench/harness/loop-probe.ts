/**
 * Preloaded into the daemon under test (`node --import …/loop-probe.js`): measures how long the
 * event loop was blocked after start-up (perf_hooks.monitorEventLoopDelay) and the garbage collector's pauses,
 * and writes them to stderr as one JSON line when the process exits. A UDP receive buffer only
 * overflows while the loop is not reading, so this tells stalls from steady overload.
 */
import { writeSync } from 'node:fs';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';

const loop = monitorEventLoopDelay({ resolution: 5 });
// From 1 s on: module loading and start-up (< 1 s) block the loop by design and are not traffic stalls.
setTimeout(() => loop.enable(), 1000).unref();
const gc = { count: 0, totalMs: 0, maxMs: 0, over50ms: 0, byKind: {} as Record<string, { count: number; totalMs: number; maxMs: number }> };
const KINDS: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const detail = (e as { detail?: { kind?: number } | null }).detail;
    const kind = KINDS[detail?.kind ?? 0] ?? 'other';
    const k = (gc.byKind[kind] ??= { count: 0, totalMs: 0, maxMs: 0 });
    k.count++;
    k.totalMs += e.duration;
    k.maxMs = Math.max(k.maxMs, e.duration);
    gc.count++;
    gc.totalMs += e.duration;
    gc.maxMs = Math.max(gc.maxMs, e.duration);
    if (e.duration > 50) gc.over50ms++;
  }
});
obs.observe({ entryTypes: ['gc'] });

process.on('exit', () => {
  loop.disable();
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  const out = {
    loopProbe: {
      maxMs: ms(loop.max),
      p99Ms: ms(loop.percentile(99)),
      p999Ms: ms(loop.percentile(99.9)),
      meanMs: ms(loop.mean),
      gc: { ...gc, totalMs: Math.round(gc.totalMs), maxMs: Math.round(gc.maxMs * 10) / 10 },
    },
  };
  writeSync(2, `${JSON.stringify(out)}\n`);
});
