/**
 * Generates the parameter tables of the docs from params.ts (the parameters in
 * docs/configuration.md and README.md, the reload classes in docs/operations.md), so the docs
 * cannot drift from the code (a test compares them).
 *
 *   node --import tsx src/config/render-docs.ts --write   # update the docs
 *   node --import tsx src/config/render-docs.ts --check   # exit 1 if out of date
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../util/package-info.js';
import { pathToFileURL } from 'node:url';
import type { NamedParamSpec } from './params.js';
import { allowedText, PARAMS, RELOAD_CLASSES, type ReloadClass } from './params.js';
import { STRFTIME_CONVERSIONS } from './table-template.js';

export const PARAMS_BEGIN = '<!-- BEGIN GENERATED PARAMETERS (src/config/render-docs.ts) -->';
export const PARAMS_END = '<!-- END GENERATED PARAMETERS -->';
export const STRFTIME_BEGIN = '<!-- BEGIN GENERATED STRFTIME (src/config/render-docs.ts) -->';
export const STRFTIME_END = '<!-- END GENERATED STRFTIME -->';
export const RELOAD_BEGIN = '<!-- BEGIN GENERATED RELOAD (src/config/render-docs.ts) -->';
export const RELOAD_END = '<!-- END GENERATED RELOAD -->';

const cell = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (s: string): string => '`' + s + '`';

function typeText(p: NamedParamSpec): string {
  switch (p.type) {
    case 'int':
      return 'int';
    case 'flag':
      return 'flag (int)';
    case 'string':
      return 'str';
    case 'enum':
      return 'enum (str)';
    case 'string-list':
      return 'str or str[] (repeatable)';
    case 'listen':
      return 'str, object or array of them';
    case 'routes':
      return 'str or rule[]';
    case 'forward':
      return 'str, object or array of them';
  }
}

function defaultText(p: NamedParamSpec): string {
  const d = p.default;
  if (Array.isArray(d) && d.length === 0) return 'none';
  return code(typeof d === 'number' ? String(d) : JSON.stringify(d));
}

/** The Markdown table of every parameter, in params.ts order. */
export function renderParameterTable(): string {
  const lines = [
    '| Parameter | Type | Default | Allowed | Origin | Description |',
    '|---|---|---|---|---|---|',
  ];
  for (const p of PARAMS) {
    const desc = p.note ? `${p.doc} *${p.note}*` : p.doc;
    lines.push(
      `| ${code(p.name)} | ${typeText(p)} | ${cell(defaultText(p))} | ${cell(allowedText(p))} | ${p.kamailio ? 'Kamailio' : 'sipcapture'} | ${cell(desc)} |`,
    );
  }
  return lines.join('\n') + '\n';
}

/** The Markdown table of the strftime conversions allowed in table names. */
export function renderStrftimeTable(): string {
  const lines = ['| Conversion | Width | Meaning (UTC) |', '|---|---|---|'];
  for (const [letter, c] of Object.entries(STRFTIME_CONVERSIONS)) lines.push(`| ${code('%' + letter)} | ${c.width} | ${cell(c.meaning)} |`);
  return lines.join('\n') + '\n';
}

/** The Markdown table of what a reload does with each parameter, one row per reload class. */
export function renderReloadTable(): string {
  const lines = ['| Parameters | What a reload does when they changed |', '|---|---|'];
  for (const [reload, meaning] of Object.entries(RELOAD_CLASSES) as [ReloadClass, string][]) {
    const keys = PARAMS.filter((p) => p.reload === reload).map((p) => code(p.name));
    if (keys.length > 0) lines.push(`| ${keys.join(', ')} | ${cell(meaning)} |`);
  }
  return lines.join('\n') + '\n';
}

/** Replaces the text between `begin` and `end` (markers kept). */
export function replaceBetween(doc: string, begin: string, end: string, body: string): string {
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`markers ${begin} … ${end} not found`);
  return doc.slice(0, a + begin.length) + '\n' + body + doc.slice(b);
}

/** The text between the markers, as the test and --check compare it. */
export function extractBetween(doc: string, begin: string, end: string): string | undefined {
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  return a < 0 || b < a ? undefined : doc.slice(a + begin.length + 1, b);
}

const BLOCKS: readonly [begin: string, end: string, render: () => string][] = [
  [PARAMS_BEGIN, PARAMS_END, renderParameterTable],
  [STRFTIME_BEGIN, STRFTIME_END, renderStrftimeTable],
  [RELOAD_BEGIN, RELOAD_END, renderReloadTable],
];

/** Re-renders every generated block present in `doc`. */
export function renderDocument(doc: string): string {
  let out = doc;
  for (const [begin, end, render] of BLOCKS) {
    if (extractBetween(out, begin, end) !== undefined) out = replaceBetween(out, begin, end, render());
  }
  return out;
}

/** The documents that carry generated tables. */
export function generatedDocPaths(): string[] {
  const root = packageRoot();
  return [path.join(root, 'docs', 'configuration.md'), path.join(root, 'README.md'), path.join(root, 'docs', 'operations.md')];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const file of generatedDocPaths()) {
    const doc = readFileSync(file, 'utf8');
    const next = renderDocument(doc);
    if (process.argv.includes('--write')) {
      if (next !== doc) writeFileSync(file, next);
      console.log(next === doc ? `${file} is up to date` : `${file} updated`);
    } else if (next !== doc) {
      console.error(`${file} is out of date: run node --import tsx src/config/render-docs.ts --write`);
      process.exitCode = 1;
    }
  }
}
