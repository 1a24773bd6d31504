import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  extractBetween,
  PARAMS_BEGIN,
  PARAMS_END,
  RELOAD_BEGIN,
  RELOAD_END,
  renderParameterTable,
  renderReloadTable,
  renderStrftimeTable,
  STRFTIME_BEGIN,
  STRFTIME_END,
} from '../../src/config/render-docs.js';
import { PARAMS } from '../../src/config/params.js';
import { projectRoot } from './helpers.js';

const doc = readFileSync(path.join(projectRoot(), 'docs', 'configuration.md'), 'utf8');
const fix = 'run: node --import tsx src/config/render-docs.ts --write';

test('docs/configuration.md contains exactly the rendered parameter table', () => {
  assert.equal(extractBetween(doc, PARAMS_BEGIN, PARAMS_END), renderParameterTable(), fix);
});

test('README.md contains exactly the rendered parameter table', () => {
  const readme = readFileSync(path.join(projectRoot(), 'README.md'), 'utf8');
  assert.equal(extractBetween(readme, PARAMS_BEGIN, PARAMS_END), renderParameterTable(), fix);
});

test('docs/configuration.md contains exactly the rendered strftime table', () => {
  assert.equal(extractBetween(doc, STRFTIME_BEGIN, STRFTIME_END), renderStrftimeTable(), fix);
});

test('docs/operations.md contains exactly the rendered reload table, and it names every parameter once', () => {
  const ops = readFileSync(path.join(projectRoot(), 'docs', 'operations.md'), 'utf8');
  assert.equal(extractBetween(ops, RELOAD_BEGIN, RELOAD_END), renderReloadTable(), fix);
  const named = [...renderReloadTable().matchAll(/`(\w+)`/g)].map((m) => m[1]);
  assert.deepEqual([...named].sort(), PARAMS.map((p) => p.name).sort());
});

test('the table has one row per parameter, with origin and default', () => {
  const rows = renderParameterTable().trim().split('\n').slice(2);
  assert.equal(rows.length, PARAMS.length);
  for (const [i, p] of PARAMS.entries()) {
    assert.ok(rows[i]!.startsWith(`| \`${p.name}\` |`), p.name);
    assert.ok(rows[i]!.includes(p.kamailio ? '| Kamailio |' : '| sipcapture |'), p.name);
  }
  assert.ok(renderParameterTable().includes('| `insert_retries` | int | `0` | 0..500 | Kamailio |'));
});
