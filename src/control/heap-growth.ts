/**
 * The V8 heap growth bound (config `heap_growing_percent`).
 *
 * After each full garbage collection V8 sets the next one's trigger at the live data times a
 * growing factor, which it picks from how fast the program allocates: up to 4× for a fast
 * allocator. The daemon allocates fast (a row object per packet, ~1.2 KB) and keeps each row
 * only until its batch is written, so at high rates the heap between two full collections is
 * mostly rows already written. A fixed, smaller factor collects them sooner: at the zero-loss
 * rates 60 % cut the peak RSS by 30–100 MiB, CPU and GC share within the noise (docs/benchmarks.md).
 *
 * The flag is process-wide (every worker thread's heap follows it) and V8 reads it at each
 * full collection, so setting it once the daemon listens takes effect. The semi-space size, in
 * contrast, is fixed when the heap is created and cannot be changed this way.
 */
import v8 from 'node:v8';

/** Applies `percent` (> 0); 0 leaves V8's own heuristic, or what node was started with. */
export function applyHeapGrowingPercent(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${Math.round(percent)}`);
}
