/**
 * The schema templates `sql/<dialect>/schema.sql`: one `-- @template sip` and one
 * `-- @template report` section of statements with `{{placeholders}}`, rendered per table.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TableKind } from '../capture/rows.js';

export type SqlDialect = 'postgres' | 'mysql';

/** The statements of each `-- @template` section of a schema file, placeholders unreplaced. */
export interface SchemaTemplate {
  sip: string[];
  report: string[];
}

/**
 * Finds `sql/<dialect>/schema.sql` by walking up from this module, so it works from `src/`
 * (tsx) and from `dist/src/` (compiled) alike.
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

/** Splits a schema file into its sections; a statement ends with `;` at the end of a line. */
export function parseSchemaTemplate(text: string): SchemaTemplate {
  const out: SchemaTemplate = { sip: [], report: [] };
  let section: string[] | undefined;
  let current: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const m = /^--\s*@template\s+(\w+)/.exec(raw);
    if (m) {
      if (current.length > 0) throw new Error('schema template: unterminated statement before @template');
      if (m[1] === 'sip') section = out.sip;
      else if (m[1] === 'report') section = out.report;
      else throw new Error(`schema template: unknown section ${m[1]}`);
      continue;
    }
    const line = raw.trimEnd();
    if (line.trim() === '' || line.trimStart().startsWith('--')) continue;
    if (!section) throw new Error('schema template: SQL before the first @template line');
    current.push(line);
    if (line.endsWith(';')) {
      section.push(current.join('\n').slice(0, -1));
      current = [];
    }
  }
  if (current.length > 0) throw new Error('schema template: unterminated statement at end of file');
  if (out.sip.length === 0 || out.report.length === 0) throw new Error('schema template: missing @template sip or report');
  return out;
}

export async function loadSchemaTemplate(dialect: SqlDialect, file?: string): Promise<SchemaTemplate> {
  return parseSchemaTemplate(await readFile(file ?? findSchemaFile(dialect), 'utf8'));
}

/** Replaces `{{name}}` placeholders; an unknown placeholder is an error. */
export function renderStatements(stmts: readonly string[], vars: Readonly<Record<string, string>>): string[] {
  return stmts.map((s) =>
    s.replace(/\{\{(\w+)\}\}/g, (_m, k: string) => {
      const v = vars[k];
      if (v === undefined) throw new Error(`schema template: unknown placeholder {{${k}}}`);
      return v;
    }),
  );
}

export function templateFor(t: SchemaTemplate, kind: TableKind): string[] {
  return kind === 'sip' ? t.sip : t.report;
}
