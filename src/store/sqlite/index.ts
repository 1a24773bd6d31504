/** SQLite backend entry point (loaded by store/factory.ts for `sqlite:` URLs). */
import type { Store } from '../store.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';

export { SqliteStore, SqliteStoreError, parseSqliteUrl, type SqliteStoreOptions } from './sqlite-store.js';

export function createSqliteStore(url: string, opts: SqliteStoreOptions = {}): Promise<Store> {
  return SqliteStore.open(url, opts);
}
