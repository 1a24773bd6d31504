/** Shared helpers for the config tests. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import type { SipcaptureConfig } from '../../src/config/types.js';

/** The project root (works from test/ under tsx and from dist/test/ after tsc). */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      readFileSync(path.join(dir, 'package.json'));
      return dir;
    } catch {
      const up = path.dirname(dir);
      if (up === dir) throw new Error('package.json not found');
      dir = up;
    }
  }
}

/** A minimal valid configuration plus `extra`. */
export function valid(extra: Record<string, unknown> = {}): SipcaptureConfig {
  return validateConfig({ db_url: 'sqlite://:memory:', ...extra }, '/tmp/test.json5');
}

/** The problems (as `key: message` lines) of an invalid configuration; fails if it is valid. */
export function problems(raw: Record<string, unknown>, withDefaultDb = true): string[] {
  try {
    validateConfig(withDefaultDb ? { db_url: 'sqlite://:memory:', ...raw } : raw, '/tmp/test.json5');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.problems.map((p) => `${p.key}: ${p.message}`);
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(raw)}`);
}

/** Asserts exactly one problem, matching every pattern. */
export function oneProblem(raw: Record<string, unknown>, ...patterns: (RegExp | string)[]): string {
  const ps = problems(raw);
  assert.equal(ps.length, 1, `expected one problem, got:\n${ps.join('\n')}`);
  const p = ps[0]!;
  for (const pat of patterns) {
    if (typeof pat === 'string') assert.ok(p.includes(pat), `"${p}" should contain "${pat}"`);
    else assert.match(p, pat);
  }
  return p;
}
