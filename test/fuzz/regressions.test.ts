/**
 * Inputs the fuzzer once failed on (test/fuzz/regressions/*.hex, the format of the crash files),
 * replayed on fresh targets: each must now run without an exception, a broken invariant or an
 * unnamed rejection.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../hep/_helpers.js';
import { replay } from './runner.js';
import { loadSeeds } from './seeds.js';

const dir = join(projectRoot(), 'test', 'fuzz', 'regressions');
const files = readdirSync(dir).filter((f) => f.endsWith('.hex')).sort();

describe('fuzz regressions', () => {
  test('there are regression inputs', () => assert.ok(files.length > 0));
  for (const f of files) {
    test(f, async () => {
      const lines: string[] = [];
      const failed = await replay([join(dir, f)], (l) => lines.push(l), await seedsOnce());
      assert.equal(failed, 0, lines.join('\n'));
    });
  }
});

let cached: ReturnType<typeof loadSeeds> | null = null;
function seedsOnce(): ReturnType<typeof loadSeeds> {
  cached ??= loadSeeds();
  return cached;
}
