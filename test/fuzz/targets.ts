/** The fuzz targets by name, with their input counts for the short (CI) and long modes. */
import type { TargetFactory } from './harness.js';
import { hepTcpTarget, hepUdpTarget } from './hep-targets.js';
import { rawTarget } from './raw-target.js';
import { sipTarget } from './sip-target.js';

export interface TargetSpec {
  name: string;
  make: TargetFactory;
  /** Inputs in short mode (`npm run fuzz`, the test suite): sized for ≤ ~60 s for all four. */
  short: number;
}

export const TARGETS: readonly TargetSpec[] = [
  { name: 'hep-udp', make: hepUdpTarget, short: 120_000 },
  { name: 'hep-tcp', make: hepTcpTarget, short: 30_000 },
  { name: 'sip', make: sipTarget, short: 120_000 },
  { name: 'raw', make: rawTarget, short: 60_000 },
];

/** Inputs per target in long mode: at least a million each. */
export const LONG_COUNT = 1_000_000;
/** The fixed seed of the short run (CI). */
export const DEFAULT_SEED = 20261122;
