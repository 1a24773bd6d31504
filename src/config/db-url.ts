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

/**
 * Replaces the password of every `scheme://user:password@` in `text` with `***`, or with as
 * many `*` as it has characters when `keepLength` is set (so error offsets still point right).
 */
export function maskPasswords(text: string, keepLength = false): string {
  // The password may contain ";" (quoted in a capture_mode), but not "@", "/", quotes or spaces.
  return text.replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:/@\s;]*:)([^\s@/"']*)@/g, (_m, head: string, pw: string) =>
    `${head}${keepLength ? '*'.repeat(pw.length) : '***'}@`,
  );
}
