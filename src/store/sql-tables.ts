/**
 * What the PostgreSQL and MySQL stores share around their SQL: the tables they have made sure
 * of, what the catalog said about each (column widths and the like), and what to forget when
 * the table changes behind the daemon's back (dropped, altered, a column narrowed).
 *
 * Each backend supplies how to read a table's description, how to create a table, and how to
 * tell from an insert error what changed; `insert()` here runs the backend's write with those
 * rules, so `ensureTable`/`insert` behave the same in both.
 */
import type { TableKind } from '../capture/rows.js';
import { assertValidTableName } from '../route/table-name.js';
import type { RowBatch } from './store.js';

/**
 * What an insert error says about the table: `missing` (dropped: create it again before the
 * next insert), `columns` (altered: read its description again), `width` (a value longer than
 * its column: the widths may have been narrowed, so read them again and try once more), or
 * null (nothing about the table).
 */
export type TableChange = 'missing' | 'columns' | 'width' | null;

export interface SqlTablesOptions<Info> {
  /** The name the server uses (PostgreSQL folds to lower case); called after the name check. */
  serverName?: (table: string) => string;
  /** The catalog's description of a table, or undefined when it does not exist. */
  describe(name: string, kind: TableKind): Promise<Info | undefined>;
  /** The description used for a table the catalog does not know yet. */
  defaults: Info;
  /** Creates a table (and its indexes) if it does not exist. */
  create(name: string, kind: TableKind): Promise<void>;
  /** What an insert error says about the table. */
  changeOf(err: unknown): TableChange;
  /** True when two descriptions would write the same values (a width error is then the rows'). */
  same(a: Info, b: Info): boolean;
}

/**
 * Runs `create` once per key of `ensured`, the promise shared by concurrent callers; a failed
 * creation is forgotten so a later call (database back up) tries again.
 */
export function ensureOnce(ensured: Map<string, Promise<void>>, key: string, create: () => Promise<void>): Promise<void> {
  let p = ensured.get(key);
  if (!p) {
    p = create();
    ensured.set(key, p);
    p.catch(() => ensured.delete(key));
  }
  return p;
}

export class SqlTables<Info> {
  private readonly ensured = new Map<string, Promise<void>>();
  private readonly infos = new Map<string, Info>();

  constructor(private readonly opts: SqlTablesOptions<Info>) {}

  /** The server's name of a table; throws a TypeError when the name is not a safe identifier. */
  nameOf(table: string): string {
    assertValidTableName(table);
    return this.opts.serverName?.(table) ?? table;
  }

  /**
   * Runs `create` once per key, the promise shared by concurrent callers; a failed creation is
   * forgotten so a later call (database back up) tries again.
   */
  once(key: string, create: () => Promise<void>): Promise<void> {
    return ensureOnce(this.ensured, key, create);
  }

  /** Store.ensureTable: creates the table once and reads its description. */
  ensureTable(table: string, kind: TableKind): Promise<void> {
    let name: string;
    try {
      name = this.nameOf(table);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return this.once(name, async () => {
      await this.opts.create(name, kind);
      this.infos.delete(name);
      // Validates the columns of a pre-existing table and caches its description.
      await this.info(name, kind);
    });
  }

  /** The cached description of a table, read from the catalog on first use. */
  async info(name: string, kind: TableKind): Promise<Info> {
    const cached = this.infos.get(name);
    if (cached !== undefined) return cached;
    const info = await this.opts.describe(name, kind);
    if (info === undefined) return this.opts.defaults;
    this.infos.set(name, info);
    return info;
  }

  /**
   * Store.insert around the backend's `write`: what a failure says about the table is
   * forgotten, and a value too long for a column whose width was read before is tried once
   * more with the widths read again (a column narrowed while running), instead of every row
   * of every batch failing until a restart.
   */
  async insert(batch: RowBatch, write: (name: string) => Promise<void>, alsoForgetOnMissing: readonly string[] = []): Promise<void> {
    const name = this.nameOf(batch.table);
    if (batch.rows.length === 0) return;
    try {
      await write(name);
    } catch (err) {
      const change = this.opts.changeOf(err);
      if (change === null) throw err;
      const before = this.infos.get(name) ?? this.opts.defaults;
      this.infos.delete(name);
      if (change === 'missing') {
        this.ensured.delete(name);
        for (const key of alsoForgetOnMissing) this.ensured.delete(key);
      }
      if (change !== 'width') throw err;
      const now = await this.info(name, batch.kind);
      if (this.opts.same(before, now)) throw err;
      await write(name);
    }
  }
}
