/**
 * Schema templates: an `.sql` file with `-- @kind <kinds…>` sections and a `{{table}}`
 * placeholder, rendered per table. The file stays plain SQL an operator can read or run by hand
 * (after replacing the placeholder), and daily tables (`sip_capture_call_20261122`) use the same
 * text as fixed ones. Nothing here is SQLite-specific except the file that is loaded.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TableKind } from '../../capture/rows.js';
import { assertValidTableName } from '../../route/table-name.js';

const KINDS: readonly TableKind[] = ['sip', 'rtcp', 'report', 'logs'];
const PLACEHOLDER = /\{\{table\}\}/g;

/** SQL text per table kind, with the `{{table}}` placeholder still in it. */
export type SchemaTemplate = ReadonlyMap<TableKind, string>;

/** Splits a template file into sections; every kind must have exactly one. */
export function parseSchemaTemplate(text: string, source = 'schema'): SchemaTemplate {
  const out = new Map<TableKind, string>();
  let current: TableKind[] = [];
  let body: string[] = [];
  const finish = (): void => {
    for (const k of current) out.set(k, body.join('\n').trim());
  };
  for (const line of text.split(/\r?\n/)) {
    const m = /^--\s*@kind\s+(.+)$/.exec(line);
    if (m === null) {
      if (current.length > 0) body.push(line);
      continue;
    }
    finish();
    body = [];
    current = [];
    for (const word of (m[1] ?? '').trim().split(/\s+/)) {
      if (!(KINDS as readonly string[]).includes(word)) throw new Error(`${source}: unknown table kind ${JSON.stringify(word)}`);
      const kind = word as TableKind;
      if (out.has(kind) || current.includes(kind)) throw new Error(`${source}: table kind ${kind} defined twice`);
      current.push(kind);
    }
  }
  finish();
  for (const k of KINDS) if (!out.has(k)) throw new Error(`${source}: no "-- @kind ${k}" section`);
  return out;
}

/** The statements creating one table, in order, with the name substituted. */
export function renderTableStatements(template: SchemaTemplate, kind: TableKind, table: string): string[] {
  // The name goes into SQL text: only ever a validated identifier (it is also double-quoted).
  assertValidTableName(table);
  const sql = template.get(kind);
  if (sql === undefined) throw new Error(`no schema for table kind ${kind}`);
  return splitStatements(sql.replace(PLACEHOLDER, table));
}

/** Splits on `;` at the end of a line, dropping comment-only pieces. */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((s) =>
      s
        .split(/\r?\n/)
        .filter((l) => !/^\s*--/.test(l))
        .join('\n')
        .trim(),
    )
    .filter((s) => s.length > 0);
}

/**
 * Finds `sql/<relPath>` by walking up from this module: from src/store/sqlite/ (tsx) and from
 * dist/src/store/sqlite/ (compiled) alike, since tsc does not copy .sql files into dist/.
 */
export function findSqlFile(relPath: string, from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'sql', relPath);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`schema file sql/${relPath} not found above ${fileURLToPath(from)}`);
}

/** The SQLite template text (sql/sqlite/schema.sql). */
export async function loadSqliteSchemaText(): Promise<string> {
  return readFile(findSqlFile('sqlite/schema.sql'), 'utf8');
}
