/**
 * heap_growing_percent: V8 really takes the flag at run time. Two child processes run the same
 * allocation pattern as the daemon under load (row-sized objects kept in a sliding window until
 * "written", then dropped); the one with the bound set must peak with a clearly smaller heap.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { PROJECT_ROOT } from '../helpers/env.js';

const underTsx = import.meta.url.endsWith('.ts');
const moduleFile = underTsx ? path.join(PROJECT_ROOT, 'src', 'control', 'heap-growth.ts') : path.join(PROJECT_ROOT, 'dist', 'src', 'control', 'heap-growth.js');

// ~40 MB live (40,000 rows of ~1 KB), 1.2 million rows allocated in all.
const WORKLOAD = `
import v8 from 'node:v8';
import { pathToFileURL } from 'node:url';
const { applyHeapGrowingPercent } = await import(pathToFileURL(process.argv[1]).href);
applyHeapGrowingPercent(Number(process.argv[2]));
const window = [];
let peak = 0;
for (let i = 0; i < 1_200_000; i++) {
  window.push({ i, callid: 'c' + i + 'x'.repeat(200), ruri: 'sip:' + i + '@example.org'.repeat(8), via: 'SIP/2.0/UDP ' + i + ';branch=z9hG4bK'.repeat(20), n: [i, i] });
  if (window.length > 40_000) window.splice(0, 10_000);
  if ((i & 4095) === 0) peak = Math.max(peak, v8.getHeapStatistics().total_physical_size);
}
process.stdout.write(String(peak));
`;

async function peakHeap(percent: number): Promise<number> {
  const args = [...(underTsx ? ['--import', 'tsx'] : []), '--input-type=module', '-e', WORKLOAD, moduleFile, String(percent)];
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: PROJECT_ROOT, timeout: 60_000 });
  return Number(stdout);
}

describe('heap_growing_percent', () => {
  test('a bound of 30 % keeps the peak heap well below V8’s own heuristic', async () => {
    const [own, bounded] = await Promise.all([peakHeap(0), peakHeap(30)]);
    assert.ok(own > 0 && bounded > 0, `peaks ${own} / ${bounded}`);
    assert.ok(bounded < own * 0.8, `peak heap with the bound ${(bounded / 1048576).toFixed(0)} MiB, without ${(own / 1048576).toFixed(0)} MiB`);
  });
});
