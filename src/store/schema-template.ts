/**
 * Schema templates: `sql/<dialect>/schema.sql`, an `.sql` file with `-- @kind <kinds…>`
 * sections and `{{placeholders}}` (`{{table}}`, and for PostgreSQL `{{ix}}`, the index-name
 * prefix), rendered per table. The file stays plain SQL an operator can read or run by hand
 * (after replacing the placeholders), and daily tables (`sip_capture_call_20261122`) use the
 * same text as fixed ones. One format and one loader for every backend.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TableKind } from '../capture/rows.js';
import { assertValidTableName } from '../route/table-name.js';

export type SqlDialect = 'postgres' | 'mysql' | 'sqlite';

const KINDS: readonly TableKind[] = ['sip', 'rtcp', 'report', 'logs'];

/** SQL text per table kind, placeholders still in it. */
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

/**
 * The statements creating one table of `kind`, in order, with `{{name}}` replaced by
 * `vars[name]` (an unknown placeholder is an error). `vars.table` goes into SQL text, so it must
 * be a validated identifier.
 */
export function renderTableStatements(template: SchemaTemplate, kind: TableKind, vars: Readonly<Record<string, string>> & { table: string }): string[] {
  assertValidTableName(vars.table);
  const sql = template.get(kind);
  if (sql === undefined) throw new Error(`no schema for table kind ${kind}`);
  return splitStatements(
    sql.replace(/\{\{(\w+)\}\}/g, (_m, k: string) => {
      const v = vars[k];
      if (v === undefined) throw new Error(`schema template: unknown placeholder {{${k}}}`);
      return v;
    }),
  );
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
 * Finds `sql/<dialect>/schema.sql` by walking up from this module, so it works from `src/`
 * (tsx) and from `dist/src/` (compiled; tsc does not copy .sql files) alike.
 */
export function findSchemaFile(dialect: SqlDialect): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'sql', dialect, 'schema.sql');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`sql/${dialect}/schema.sql not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The template text of a dialect (or of `file`). */
export function loadSchemaText(dialect: SqlDialect, file?: string): Promise<string> {
  return readFile(file ?? findSchemaFile(dialect), 'utf8');
}

export async function loadSchemaTemplate(dialect: SqlDialect, file?: string): Promise<SchemaTemplate> {
  const path = file ?? findSchemaFile(dialect);
  return parseSchemaTemplate(await readFile(path, 'utf8'), path);
}
