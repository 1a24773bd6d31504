/**
 * Database URLs (`db_url` and a capture mode's `db_url=`). Kamailio accepts any srdb1 driver
 * URL; sipcapture has three stores, so only their schemes are accepted:
 *
 *   sqlite://PATH                 PATH relative to the config file's folder, or absolute
 *   sqlite:///abs/path            (Kamailio's db_sqlite form), or sqlite://:memory:
 *   postgres://user:pw@host[:port]/db   (postgresql:// also accepted)
 *   mysql://user:pw@host[:port]/db
 */
import path from 'node:path';

export type DbKind = 'sqlite' | 'postgres' | 'mysql';

const SCHEMES: Readonly<Record<string, DbKind>> = {
  sqlite: 'sqlite',
  postgres: 'postgres',
  postgresql: 'postgres',
  mysql: 'mysql',
};

export const ALLOWED_DB_URL_FORMS = 'sqlite://PATH, postgres://USER:PASS@HOST[:PORT]/DB, postgresql://…, mysql://USER:PASS@HOST[:PORT]/DB';

/** The store kind of a URL, or undefined if the scheme is not one we support. */
export function dbUrlKind(url: string): DbKind | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  return m ? SCHEMES[(m[1] ?? '').toLowerCase()] : undefined;
}

/** Checks a non-empty URL. Returns undefined when valid, else the reason. */
export function checkDbUrl(url: string): string | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (!m) return `is not a database URL (allowed: ${ALLOWED_DB_URL_FORMS})`;
  const scheme = m[1] ?? '';
  const kind = SCHEMES[scheme.toLowerCase()];
  if (kind === undefined) {
    return `uses the scheme "${scheme}", which sipcapture does not support (allowed: ${ALLOWED_DB_URL_FORMS})`;
  }
  if (kind === 'sqlite') {
    return url.length > m[0].length ? undefined : 'has no file path after "sqlite://"';
  }
  const raw = rawCharsInUserInfo(url.slice(m[0].length));
  if (raw !== '') {
    return `has a raw ${raw} in its user name or password, which cuts the URL short: percent-encode it (@ → %40, # → %23, / → %2F, ? → %3F, : in the user name → %3A)`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `is not a valid URL (expected ${scheme}://USER:PASS@HOST[:PORT]/DB)`;
  }
  if (parsed.hostname === '') return `has no host (expected ${scheme}://USER:PASS@HOST[:PORT]/DB)`;
  if (parsed.pathname.replace(/^\//, '') === '') {
    return `has no database name (expected ${scheme}://USER:PASS@HOST[:PORT]/DB)`;
  }
  return undefined;
}

/** After its last `@`, a URL's rest looks like HOST[:PORT]/DB: what comes before is a user name and password. */
const HOST_PORT_DB = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::\d+)?\/[^/?#@]+/;

/**
 * The characters a URL cannot hold raw in its user name or password (`@`, `#`, `/`, `?`) that
 * `rest` (the URL after `scheme://`) has there, quoted and joined, or '' when there are none.
 * Without this a `#` makes the rest a fragment ("no database name"), and a message would show
 * the password's tail as the host.
 */
function rawCharsInUserInfo(rest: string): string {
  const at = rest.lastIndexOf('@');
  if (at <= 0 || !HOST_PORT_DB.test(rest.slice(at + 1))) return '';
  const userInfo = rest.slice(0, at);
  const found = ['@', '#', '/', '?'].filter((c) => userInfo.includes(c)).map((c) => `"${c}"`);
  return found.length <= 1 ? (found[0] ?? '') : `${found.slice(0, -1).join(', ')} and ${found.at(-1) ?? ''}`;
}

/** The file path of a `sqlite://` URL (`:memory:` for an in-memory database). */
export function sqliteFilePath(url: string): string {
  return url.replace(/^sqlite:\/\//i, '');
}

/**
 * Makes a relative sqlite path absolute against `baseDir` (the config file's folder), so the
 * daemon does not depend on its working directory. Other URLs are returned unchanged.
 */
export function resolveDbUrl(url: string, baseDir: string): string {
  if (dbUrlKind(url) !== 'sqlite') return url;
  const file = sqliteFilePath(url);
  if (file === ':memory:' || path.isAbsolute(file)) return url;
  return 'sqlite://' + path.resolve(baseDir, file);
}

const DEFAULT_PORTS: Readonly<Record<DbKind, string>> = { sqlite: '', postgres: '5432', mysql: '3306' };

/**
 * What identifies where a URL's rows go, without its secrets: the backend, user, host, port,
 * database and the query parameters (e.g. PostgreSQL `options=-c search_path=…`) but no
 * password, in one normal form — `postgres://` and `postgresql://`, `HOST` and `host`, no port
 * and the default port give the same. For sqlite, the file path. A password rotation does not
 * change it; another database, server or user does.
 */
export function destinationOf(url: string): string {
  const kind = dbUrlKind(url);
  if (kind === undefined) return maskPasswords(url);
  if (kind === 'sqlite') return `sqlite://${sqliteFilePath(url)}`;
  let u: URL;
  try {
    u = new URL(url.replace(/^[A-Za-z][A-Za-z0-9+.-]*:/, 'x:'));
  } catch {
    return maskPasswords(url);
  }
  const params = [...u.searchParams].filter(([k]) => !/pass|secret|key/i.test(k)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = params.length === 0 ? '' : `?${new URLSearchParams(params).toString()}`;
  const user = decodeURIComponent(u.username);
  return `${kind}://${user === '' ? '' : `${user}@`}${u.hostname.toLowerCase()}:${u.port || DEFAULT_PORTS[kind]}/${decodeURIComponent(u.pathname.replace(/^\//, ''))}${query}`;
}

/** Characters of a URL scheme after its first letter. */
function isSchemeChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e;
}

function isLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

/** Where a URL written in free text ends: white space or a quote. */
function isTokenEnd(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x22 || c === 0x27;
}

/**
 * Replaces the password of every `scheme://user:password@` in `text` with `***`, or with as
 * many `*` as it has characters when `keepLength` is set (so error offsets still point right).
 * The password runs to the LAST `@` before white space or a quote, so a raw `@`, `#`, `/` or `;`
 * in it (which should have been percent-encoded) is masked too, never shown in part.
 *
 * One pass over the text: after each `://` the scan jumps past the URL it found, so a value of a
 * megabyte costs milliseconds, not the minutes a backtracking regular expression needs.
 */
export function maskPasswords(text: string, keepLength = false): string {
  const n = text.length;
  let out = '';
  let copied = 0;
  let from = 0;
  for (;;) {
    const sep = text.indexOf('://', from);
    if (sep === -1) break;
    from = sep + 3;
    // A scheme: a run of scheme characters before `://` with a letter in it.
    let hasLetter = false;
    for (let k = sep - 1; k >= 0 && isSchemeChar(text.charCodeAt(k)); k--) hasLetter ||= isLetter(text.charCodeAt(k));
    if (!hasLetter) continue;
    // The user name: up to `:`; no password when `/`, `@`, `;` or white space comes first.
    let colon = from;
    while (colon < n) {
      const c = text.charCodeAt(colon);
      if (c === 0x3a || c === 0x2f || c === 0x40 || c === 0x3b || isTokenEnd(c)) break;
      colon++;
    }
    if (colon >= n || text.charCodeAt(colon) !== 0x3a) continue;
    let lastAt = -1;
    let end = colon + 1;
    for (; end < n && !isTokenEnd(text.charCodeAt(end)); end++) if (text.charCodeAt(end) === 0x40) lastAt = end;
    // Any later `://` before `end` has no `@` after the one found, so it needs no look.
    from = end;
    if (lastAt === -1) continue;
    const pwLength = lastAt - colon - 1;
    out += text.slice(copied, colon + 1) + (keepLength ? '*'.repeat(pwLength) : '***');
    copied = lastAt;
  }
  return copied === 0 ? text : out + text.slice(copied);
}
