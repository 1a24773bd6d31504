/** Wall-clock time in microseconds since the epoch (sub-millisecond, monotonic within a run). */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
