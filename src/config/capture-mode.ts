/**
 * The `capture_mode` grammar: `NAME=>db_url=…;table_name=a|b;mt_mode=…;hash_source=…`.
 *
 * We accept a superset of what Kamailio accepts, and refuse what it silently misreads:
 * - a trailing `;` (and empty `;;` segments) is fine (Kamailio: "Param name missing after ;",
 *   although the README's own example ends with `;`);
 * - parameters in any order; `hash_source` anywhere, not only last (Kamailio compares it against
 *   the rest of the whole string, so it only works last);
 * - an unquoted value runs to the next `;` and is trimmed, so `table_name=t_a | t_b` works
 *   (Kamailio stops at whitespace and rejects the `|`); `"…"` / `'…'` quote a value containing `;`;
 * - unknown parameter names are an error with a suggestion (Kamailio ignores them silently, so a
 *   typo such as `tabel_name` would surface later as "table names not set");
 * - a parameter given twice is an error (Kamailio keeps the last one).
 * Kept from Kamailio: db_url, table_name and mt_mode are required; mt_mode is case-sensitive;
 * hash_source is case-insensitive and defaults to call_id.
 */
import type { CaptureMode, HashSource, MtMode, Schema } from './types.js';
import { checkDbUrl } from './db-url.js';
import { checkTableTemplate, splitTableList } from './table-template.js';
import { didYouMean } from './suggest.js';

export const CAPTURE_MODE_PARAMS = ['db_url', 'table_name', 'mt_mode', 'hash_source', 'schema'] as const;
export const SCHEMAS: readonly Schema[] = ['homer5', 'homer7'];
/** The table name a `schema=homer7` mode routes to when it names none (the HOMER 7 store does not use it). */
export const HOMER7_TABLE_PLACEHOLDER = 'hep_proto';
export const MT_MODES: readonly MtMode[] = ['rand', 'round_robin', 'hash'];
export const HASH_SOURCES: readonly HashSource[] = ['call_id', 'from_user', 'to_user'];

/** Mode names: what a route rule's `capture_mode` can refer to. */
const NAME_CHARS = /^[A-Za-z0-9_.-]$/;

export type CaptureModeResult =
  | { ok: true; mode: CaptureMode }
  /** `name` is set when the name itself could be read, so routes can still refer to it. */
  | { ok: false; name?: string; problems: string[] };

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';

function describeChar(c: string | undefined): string {
  return c === undefined ? 'the end of the text' : JSON.stringify(c);
}

/** Checks an mt_mode value (case-sensitive, like Kamailio). Undefined when valid. */
export function checkMtMode(value: string): string | undefined {
  if ((MT_MODES as readonly string[]).includes(value)) return undefined;
  const hint = (MT_MODES as readonly string[]).includes(value.toLowerCase())
    ? ` — mt_mode is case-sensitive, as in Kamailio: use ${value.toLowerCase()}`
    : didYouMean(value, MT_MODES);
  return `is not allowed (allowed: ${MT_MODES.join(', ')})${hint}`;
}

/** Normalises a hash_source value (case-insensitive, like Kamailio), or undefined if invalid. */
export function normaliseHashSource(value: string): HashSource | undefined {
  const v = value.toLowerCase();
  return (HASH_SOURCES as readonly string[]).includes(v) ? (v as HashSource) : undefined;
}

/**
 * Parses one `capture_mode` value. Error texts name the offset (0-based character index into
 * the value) where Kamailio would say `invalid parameter [...] at [n]`.
 */
export function parseCaptureMode(text: string): CaptureModeResult {
  let i = 0;
  const skipSpace = (): void => {
    while (isSpace(text[i])) i++;
  };

  skipSpace();
  const nameStart = i;
  while (i < text.length && text[i] !== '=' && !isSpace(text[i])) {
    if (!NAME_CHARS.test(text.charAt(i))) {
      return {
        ok: false,
        problems: [`character ${describeChar(text[i])} at offset ${i} is not allowed in a mode name (use A-Z a-z 0-9 _ . -)`],
      };
    }
    i++;
  }
  const name = text.slice(nameStart, i);
  if (name === '') {
    return { ok: false, problems: [`the mode name is missing at offset ${i} (expected NAME=>db_url=…;table_name=…;mt_mode=…)`] };
  }
  skipSpace();
  if (text.slice(i, i + 2) !== '=>') {
    return {
      ok: false,
      name,
      problems: [`expected "=>" after the mode name "${name}" at offset ${text[i] === '=' ? i + 1 : i}, found ${describeChar(text[text[i] === '=' ? i + 1 : i])}`],
    };
  }
  i += 2;

  const problems: string[] = [];
  if (name === 'default') {
    problems.push('the mode name "default" is reserved for the mode built from db_url, table_name, mt_mode and hash_source; choose another name');
  }

  // name = value pairs separated by ';'
  const values = new Map<string, { value: string; offset: number }>();
  while (true) {
    skipSpace();
    if (i >= text.length) break;
    if (text[i] === ';') {
      i++;
      continue;
    }
    const pStart = i;
    while (i < text.length && /[A-Za-z0-9_]/.test(text.charAt(i))) i++;
    const pName = text.slice(pStart, i);
    if (pName === '') {
      problems.push(`expected a parameter name at offset ${i}, found ${describeChar(text[i])}`);
      return { ok: false, name, problems };
    }
    skipSpace();
    if (text[i] !== '=') {
      problems.push(`expected "=" after the parameter name "${pName}" at offset ${i}, found ${describeChar(text[i])}`);
      return { ok: false, name, problems };
    }
    i++;
    skipSpace();
    const vStart = i;
    let value: string;
    const quote = text[i];
    if (quote === '"' || quote === "'") {
      const end = text.indexOf(quote, i + 1);
      if (end < 0) {
        problems.push(`the quote opened at offset ${i} is never closed`);
        return { ok: false, name, problems };
      }
      value = text.slice(i + 1, end);
      i = end + 1;
      skipSpace();
      if (i < text.length && text[i] !== ';') {
        problems.push(`expected ";" after the quoted value of "${pName}" at offset ${i}, found ${describeChar(text[i])}`);
        return { ok: false, name, problems };
      }
    } else {
      const end = text.indexOf(';', i);
      i = end < 0 ? text.length : end;
      value = text.slice(vStart, i).trim();
    }

    if (!(CAPTURE_MODE_PARAMS as readonly string[]).includes(pName)) {
      problems.push(
        `unknown parameter "${pName}" at offset ${pStart}${didYouMean(pName, CAPTURE_MODE_PARAMS)} ` +
          `(allowed: ${CAPTURE_MODE_PARAMS.join(', ')}; Kamailio ignores unknown names silently, sipcapture refuses them so a typo cannot go unnoticed)`,
      );
    } else if (values.has(pName)) {
      problems.push(`parameter "${pName}" is given twice (again at offset ${pStart}); give it once`);
    } else {
      values.set(pName, { value, offset: vStart });
    }
  }

  const dbUrl = values.get('db_url');
  if (dbUrl === undefined || dbUrl.value === '') {
    problems.push('db_url is not set (required, as in Kamailio)');
  } else {
    const why = checkDbUrl(dbUrl.value);
    if (why !== undefined) problems.push(`db_url at offset ${dbUrl.offset} ${why}`);
  }

  const schemaValue = values.get('schema');
  let schema: Schema = 'homer5';
  if (schemaValue !== undefined) {
    if ((SCHEMAS as readonly string[]).includes(schemaValue.value)) schema = schemaValue.value as Schema;
    else problems.push(`schema at offset ${schemaValue.offset}: "${schemaValue.value}" is not allowed (allowed: ${SCHEMAS.join(', ')})${didYouMean(schemaValue.value, SCHEMAS)}`);
  }
  // HOMER 7 rows go to hep_proto_* by HEP type and CSeq method: table_name and mt_mode are optional.
  const homer7 = schema === 'homer7';
  const tableList = values.get('table_name');
  const tables = tableList === undefined ? (homer7 ? [HOMER7_TABLE_PLACEHOLDER] : []) : splitTableList(tableList.value);
  if (tables.length === 0) {
    problems.push('table_name is not set (required, as in Kamailio; one name or a|b|…)');
  } else {
    for (const t of tables) {
      const why = checkTableTemplate(t);
      if (why !== undefined) problems.push(`table_name at offset ${tableList?.offset ?? 0}: "${t}": ${why}`);
    }
  }

  const mt = values.get('mt_mode');
  if ((mt === undefined || mt.value === '') && !homer7) {
    problems.push(`mt_mode is not set (required, as in Kamailio; allowed: ${MT_MODES.join(', ')})`);
  } else if (mt !== undefined && mt.value !== '') {
    const why = checkMtMode(mt.value);
    if (why !== undefined) problems.push(`mt_mode at offset ${mt.offset}: "${mt.value}" ${why}`);
  }

  const hs = values.get('hash_source');
  let hashSource: HashSource = 'call_id';
  if (hs !== undefined) {
    const v = normaliseHashSource(hs.value);
    if (v === undefined) {
      problems.push(
        `hash_source at offset ${hs.offset}: "${hs.value}" is not allowed (allowed: ${HASH_SOURCES.join(', ')}, any case)${didYouMean(hs.value.toLowerCase(), HASH_SOURCES)}`,
      );
    } else {
      hashSource = v;
    }
  }

  if (problems.length > 0) return { ok: false, name, problems };
  return {
    ok: true,
    mode: {
      name,
      db_url: dbUrl?.value ?? '',
      table_name: tables,
      mt_mode: (mt?.value ?? 'rand') as MtMode,
      hash_source: hashSource,
      ...(homer7 ? { schema } : {}),
    },
  };
}
