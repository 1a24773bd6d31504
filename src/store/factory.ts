/**
 * One entry point from a `db_url` to a Store, chosen by the URL scheme. The PostgreSQL and MySQL
 * backends are imported on demand, so a SQLite-only install never loads pg or mysql2.
 */
import { ALLOWED_DB_URL_FORMS, dbUrlKind, maskPasswords, type DbKind } from '../config/db-url.js';
import type { MysqlStoreOptions } from './mysql/index.js';
import type { PostgresStoreOptions } from './postgres/index.js';
import type { SqliteStoreOptions } from './sqlite/sqlite-store.js';
import type { Homer7StoreOptions } from './homer7/index.js';
import type { Store } from './store.js';

/**
 * Options common to every backend, plus one object per backend that only that backend sees (so
 * e.g. SQLite's rowsPerStatement never reaches the MySQL store, whose option of the same name
 * means something else).
 */
export interface CreateStoreOptions {
  /** Kamailio's db_insert_mode (0, 1, 2): MySQL uses 1 (INSERT DELAYED); see docs/storage.md. */
  dbInsertMode?: number;
  /** Connections in the pool of a PostgreSQL / MySQL store (SQLite has one worker). */
  poolSize?: number;
  sqlite?: SqliteStoreOptions;
  postgres?: PostgresStoreOptions;
  mysql?: MysqlStoreOptions;
  /** The capture mode's schema (default homer5); homer7 needs a PostgreSQL URL. */
  schema?: 'homer5' | 'homer7';
  homer7?: Homer7StoreOptions;
}

type BackendFactory = (url: string, opts: object) => Promise<Store>;

/** Backend → [module relative to this file, exported factory name]. The scheme decides the backend (config/db-url.ts dbUrlKind). */
const BACKENDS: Readonly<Record<DbKind, readonly [string, string]>> = {
  sqlite: ['./sqlite/index.js', 'createSqliteStore'],
  postgres: ['./postgres/index.js', 'createPostgresStore'],
  mysql: ['./mysql/index.js', 'createMysqlStore'],
};

export async function createStore(url: string, opts: CreateStoreOptions = {}): Promise<Store> {
  const kind = dbUrlKind(url);
  if (kind === undefined) throw new Error(`unsupported db_url ${maskPasswords(url)}: allowed ${ALLOWED_DB_URL_FORMS}`);
  if (opts.schema === 'homer7') {
    if (kind !== 'postgres') throw new Error(`schema homer7 needs a PostgreSQL db_url (homer-app reads HOMER 7 tables from PostgreSQL only), not ${maskPasswords(url)}`);
    const factory = await loadBackendFactory(kind, './homer7/index.js', 'createHomer7Store', url);
    return factory(url, { ...(opts.poolSize === undefined ? {} : { poolSize: opts.poolSize }), ...opts.homer7 });
  }
  const [modulePath, exportName] = BACKENDS[kind];
  const factory = await loadBackendFactory(kind, modulePath, exportName, url);
  return factory(url, backendOptions(kind, opts));
}

/** The options object the backend of `kind` receives. */
export function backendOptions(kind: DbKind, opts: CreateStoreOptions): object {
  const pool = opts.poolSize === undefined ? {} : { poolSize: opts.poolSize };
  switch (kind) {
    case 'sqlite':
      return { ...opts.sqlite };
    case 'postgres':
      return { ...pool, ...opts.postgres };
    case 'mysql':
      return { ...pool, ...(opts.dbInsertMode === undefined ? {} : { dbInsertMode: opts.dbInsertMode }), ...opts.mysql };
  }
}

/**
 * Imports a backend module and returns its factory. Exported for tests (a missing module must
 * give a clear error, not a stack trace about an import).
 */
export async function loadBackendFactory(scheme: string, modulePath: string, exportName: string, url = ''): Promise<BackendFactory> {
  let mod: Record<string, unknown>;
  try {
    // A variable specifier: the postgres/mysql folders may not exist in every build.
    mod = (await import(modulePath)) as Record<string, unknown>;
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const msg = typeof e.message === 'string' ? e.message : String(err);
    const forUrl = url === '' ? '' : ` for ${maskPasswords(url)}`;
    // Only "this backend module is missing", not "a package it imports is missing".
    const missing = /Cannot find module '([^']+)'/.exec(msg)?.[1] ?? '';
    const stem = modulePath.replace(/^\.\//, '').replace(/\.js$/, '');
    if (e.code === 'ERR_MODULE_NOT_FOUND' && /\.(?:js|ts)$/.test(missing) && missing.replace(/\.(?:js|ts)$/, '').endsWith(stem)) {
      throw new Error(`the ${scheme} backend is not available in this build (${modulePath} is missing)${forUrl}`, { cause: err });
    }
    throw new Error(`cannot load the ${scheme} backend${forUrl}: ${msg}`, { cause: err });
  }
  const factory = mod[exportName];
  if (typeof factory !== 'function') {
    throw new Error(`the ${scheme} backend module ${modulePath} does not export ${exportName}()`);
  }
  return factory as BackendFactory;
}
