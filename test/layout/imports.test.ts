/**
 * The layout rules of docs/architecture.md, checked on the source: every import between folders
 * of src/ goes to a lower layer (the control plane above the data plane, config and telemetry
 * below everything), and no file imports itself back through others.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../helpers/env.js';

/** Lower numbers are lower layers; a folder may import its own layer's folders only when listed in ALLOWED_SAME. */
const LAYER: Record<string, number> = {
  util: 0, net: 0, telemetry: 0,
  config: 1,
  sip: 2,
  capture: 3,
  hep: 4, route: 4,
  store: 5, listeners: 5, loadgen: 5,
  raw: 6, forward: 6,
  pipeline: 7,
  hook: 8, viewer: 8,
  control: 9,
  daemon: 10,
  commands: 11,
  cli: 12,
};

const SRC = path.join(PROJECT_ROOT, 'src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (name.endsWith('.ts')) out.push(full);
  }
  return out;
}

function folderOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? rel[0]!.replace(/\.ts$/, '') : rel[0]!;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*'(\.[^']+)'/g)) {
    out.push(path.resolve(path.dirname(file), m[1]!).replace(/\.js$/, '.ts'));
  }
  return out;
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

test('every folder of src/ has a layer', () => {
  const folders = new Set(files.map(folderOf));
  for (const f of folders) assert.ok(f in LAYER, `src/${f} has no layer in test/layout/imports.test.ts (and docs/architecture.md)`);
});

test('imports between folders go down the layers', () => {
  const upward: string[] = [];
  for (const [file, deps] of graph) {
    const from = folderOf(file);
    for (const dep of deps) {
      const to = folderOf(dep);
      if (to !== from && LAYER[to]! >= LAYER[from]!) upward.push(`${path.relative(SRC, file)} → ${path.relative(SRC, dep)}`);
    }
  }
  assert.deepEqual(upward, []);
});

test('every relative import names a file that exists', () => {
  const missing: string[] = [];
  for (const [file, deps] of graph) for (const dep of deps) if (!graph.has(dep)) missing.push(`${path.relative(SRC, file)} → ${dep}`);
  assert.deepEqual(missing, []);
});

test('no import cycle between files', () => {
  const state = new Map<string, 1 | 2>();
  const cycles: string[] = [];
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 1);
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 1) cycles.push(stack.slice(stack.indexOf(d)).concat(d).map((x) => path.relative(SRC, x)).join(' → '));
      else if (state.get(d) === undefined) visit(d);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of files) if (state.get(f) === undefined) visit(f);
  assert.deepEqual(cycles, []);
});
