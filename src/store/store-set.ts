/**
 * The databases of one running daemon: per distinct database URL (capture modes sharing a URL
 * share them) one Store, one StoreWriter, and — unless spool_max_bytes is 0 — one on-disk Spool
 * (spool_dir/<hash of the URL>/) with its SpoolReplayer. The pipeline asks `writerFor(db_url)`.
 *
 * Rows the database cannot take go to the spool and are replayed in order when it works again,
 * also after a restart. Tables the routes will need soon (today's and tomorrow's daily tables,
 * constant names) are created at start and re-checked every `aheadIntervalMs`. Shutdown
 * (`close()`) stops the replay, drains every writer — into the database, or after
 * `drainTimeoutMs` into the spool — then closes spools and connections.
 */
import type { Logger } from 'pino';
import { directoryProblem } from '../config/host-checks.js';
import type { CaptureMode, SipcaptureConfig } from '../config/types.js';
import type { Stats } from '../telemetry/stats.js';
import { dbUrlKind, destinationOf, maskPasswords } from '../config/db-url.js';
import { createStore, type CreateStoreOptions } from './factory.js';
import type { CountingStore, ValueCounters } from './values.js';
import { isDiskFull, SpoolFullError } from './spool/errors.js';
import { rowBatchCodec } from './spool/record-codec.js';
import { SpoolReplayer, type SpoolReplayerOptions } from './spool/replayer.js';
import { Spool, spoolLabel, type SpoolStats } from './spool/segment-log.js';
import { adoptLegacyDir, otherSpoolDirs, spoolDirFor } from './spool-dirs.js';
import type { RowBatch, Store } from './store.js';
import type { Homer7Counters, Homer7Store } from './homer7/index.js';
import { tablesAhead } from './tables-ahead.js';
import { StoreWriter, type StoreWriterOptions } from './writer/writer.js';

/** Batches in flight per database with db_insert_mode 2 (PostgreSQL and MySQL). */
export const INSERT_MODE_2_IN_FLIGHT = 4;
/**
 * Batches in flight per PostgreSQL database with db_insert_mode 0/1 when the spool
 * takes batches the database is behind on (spool_after_batches > 0): that already gives up the
 * commit order under backlog, and a second insert keeps the server busy while the first one
 * commits. Measured into PostgreSQL at 39k msg/s (docs/benchmarks.md): p99 0.3–0.5 s with 4, 2.9–4.3 s with 2, 5.8 s with 1.
 */
export const SPOOLING_IN_FLIGHT = 4;
/**
 * The same for MySQL, two: with one, an insert of merged batches that took longer than four
 * batch intervals sent the next batches to the spool, whose replay came seconds later (p99
 * 0.6–5.4 s at 15–18k msg/s into MariaDB; with two 0.25–3.2 s, docs/benchmarks.md). Four cost
 * ~60 MiB of RSS at 18k msg/s (session 3).
 */
export const SPOOLING_IN_FLIGHT_MYSQL = 2;
/** Batches handed to the SQLite worker at once (it commits them in that order). */
export const SQLITE_IN_FLIGHT = 2;

export interface StoreSetOptions {
  /** Overrides for every writer (tests: shorter back-off). */
  writer?: Partial<Omit<StoreWriterOptions, 'stats' | 'logger' | 'onUnwritable'>>;
  /** Replay back-off and yielding (tests: faster probing). */
  replayer?: Omit<SpoolReplayerOptions, 'logger'>;
  /** How often the tables ahead are checked, ms. Default 10 minutes. 0 = only at start. */
  aheadIntervalMs?: number;
  /** false: no tables ahead at all (a pcap import: its rows create their tables on first use). Default true. */
  tablesAhead?: boolean;
  /** The clock for the tables ahead, seconds (tests). */
  nowSec?: () => number;
  /** Longest a writer drains with retries at close before the rest goes to the spool, ms. Default 5000. */
  drainTimeoutMs?: number;
  /**
   * At close, after this long the writers give up the inserts still in flight and spool them
   * with everything still waiting (StoreWriter.abandon), ms. Default 8000: well within the CLI's
   * 15 s stop deadline.
   */
  abandonAfterMs?: number;
  /** Opens the store of a URL (tests: a fake). Default: factory.ts createStore. */
  storeFactory?: (url: string, opts: CreateStoreOptions) => Promise<Store>;
}

/** What metrics and the RPC read about one database URL. */
export interface StorageStats {
  /** The URL, password masked. */
  db: string;
  backend: string;
  /** Rows waiting in the writer (collected, waiting for a flush slot, or being written). */
  queueDepth: number;
  /** Estimated bytes of those rows (what queue_max_bytes bounds). */
  queueBytes: number;
  inFlightBatches: number;
  /** Inserts are failing right now (from the first failed attempt to the next success). */
  failing: boolean;
  /** Batches go straight to the spool (the database is known to be down). */
  outage: boolean;
  /**
   * null when spool_max_bytes is 0. `alreadyCommittedBatches/Rows`: replayed records found
   * committed by an earlier run (their marker row exists) and not written again.
   */
  spool: (SpoolStats & { dir: string; maxBytes: number; replaying: boolean; alreadyCommittedBatches: number; alreadyCommittedRows: number }) | null;
  /** What a `schema: homer7` store did about partitions (homer7/index.ts); null for other stores. */
  homer7: Readonly<Homer7Counters> | null;
  /** Text values changed to fit (values.ts: truncated, NUL removed, invalid UTF-16 replaced); null if the store does not count. */
  values: Readonly<ValueCounters> | null;
}

interface Db {
  url: string;
  store: Store;
  writer: StoreWriter;
  spool: Spool<RowBatch> | null;
  replayer: SpoolReplayer<RowBatch> | null;
  /** Spools of earlier configurations replayed into this database (spool-dirs.ts). */
  earlier: { spool: Spool<RowBatch>; replayer: SpoolReplayer<RowBatch> }[];
}

/** The schema options of a capture mode's store (store/homer7/ for `schema: homer7`). */
export function homer7StoreOptions(mode: CaptureMode, cfg: SipcaptureConfig, logger: Logger | null): Pick<CreateStoreOptions, 'schema' | 'homer7'> {
  if (mode.schema !== 'homer7') return {};
  return {
    schema: 'homer7',
    homer7: {
      partitionMinutes: cfg.homer7_partition_minutes,
      dataHeader: cfg.homer7_data_header,
      // Like Homer 5 table names: a row dated further back goes to the DEFAULT partition, not a new one.
      onDemandPastDays: cfg.table_date_window_days > 0 ? cfg.table_date_window_days : 36500,
      onAheadError: (err) => logger?.warn({ db: maskPasswords(mode.db_url), err: err.message }, 'cannot create HOMER 7 partitions ahead yet; retrying later'),
    },
  };
}

/** A spool of an earlier configuration that no configured database can be said to own. */
export interface UnclaimedSpool {
  dir: string;
  /** Its label (the destination it was for), when written by a version that labels spools. */
  destination: string | null;
  pendingBytes: number;
}

function isCounting(store: Store): store is Store & CountingStore {
  return typeof (store as Partial<CountingStore>).valueCounters === 'object';
}

export class StoreSet {
  private aheadTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private aheadFailing = new Set<string>();
  /** What tables-ahead creates tables for: the start-up config's routes until a reload replaces them. */
  private routing: Pick<SipcaptureConfig, 'routeRules' | 'captureModes'>;

  private constructor(
    private readonly dbs: readonly Db[],
    readonly writers: ReadonlyMap<string, StoreWriter>,
    cfg: SipcaptureConfig,
    private readonly logger: Logger | null,
    private readonly opts: StoreSetOptions,
    /** Spools of earlier configurations found at start that no configured database owns. */
    readonly unclaimedSpools: readonly UnclaimedSpool[] = [],
  ) {
    this.routing = cfg;
  }

  /**
   * The routes of a reloaded config (SIGHUP, `sipcapture.reload`): their tables for now and the
   * next period are created at once and at every later round, instead of the start-up routes'.
   * The reload only applies routing whose database URLs are already open.
   */
  useRouting(cfg: Pick<SipcaptureConfig, 'routeRules' | 'captureModes'>): void {
    this.routing = cfg;
    if (this.closing === null) void this.ensureTablesAhead();
  }

  /** Opens a store, writer and spool for every database URL the capture modes use. */
  static async open(cfg: SipcaptureConfig, stats: Stats, logger: Logger | null, opts: StoreSetOptions = {}): Promise<StoreSet> {
    const dbs: Db[] = [];
    const writers = new Map<string, StoreWriter>();
    const legacyOwners = new Map<string, Db>();
    let unclaimed: UnclaimedSpool[];
    try {
      for (const mode of cfg.captureModes.values()) {
        if (writers.has(mode.db_url)) continue;
        const url = mode.db_url;
        const kind = dbUrlKind(url);
        const isSqlite = kind === 'sqlite';
        // SQLite: the worker thread writes batches one by one in the order they arrive, so two
        // in flight keep the order and let the main thread encode the next batch meanwhile.
        const spills = cfg.spool_max_bytes > 0 && cfg.spool_after_batches > 0;
        const isPostgres = kind === 'postgres';
        const maxInFlight = isSqlite
          ? SQLITE_IN_FLIGHT
          : cfg.db_insert_mode === 2
            ? INSERT_MODE_2_IN_FLIGHT
            : !spills
              ? 1
              : isPostgres
                ? SPOOLING_IN_FLIGHT
                : SPOOLING_IN_FLIGHT_MYSQL;
        // One connection more than batches in flight: replay and table creation need one too.
        const store = await (opts.storeFactory ?? createStore)(url, {
          dbInsertMode: cfg.db_insert_mode,
          poolSize: maxInFlight + 1,
          ...homer7StoreOptions(mode, cfg, logger),
        });
        const db: Db = { url, store, writer: undefined as unknown as StoreWriter, spool: null, replayer: null, earlier: [] };
        dbs.push(db);
        if (cfg.spool_max_bytes > 0) {
          const legacy = adoptLegacyDir(cfg.spool_dir, url);
          if (legacy !== undefined) legacyOwners.set(legacy, db);
          db.spool = await Spool.open({
            dir: spoolDirFor(cfg.spool_dir, url),
            label: destinationOf(url),
            codec: rowBatchCodec,
            maxBytes: cfg.spool_max_bytes,
            onRecreated: (lost) =>
              logger?.error(
                { db: store.displayUrl, spool: db.spool?.dir, lostBytes: lost.bytes, lostRows: lost.rows },
                'spool directory was deleted while in use: made again, spooling goes on; the records not yet replayed went with it',
              ),
          }).catch((err: unknown) => {
            // A recursive mkdir on a read-only file system says ENOENT: name the key and the real reason.
            throw new Error(`spool_dir ${cfg.spool_dir}: ${directoryProblem(cfg.spool_dir, true) ?? (err as Error).message}`, { cause: err });
          });
        }
        const spool = db.spool;
        db.writer = new StoreWriter(store, {
          batchSize: cfg.batch_size,
          batchTimeoutMs: cfg.batch_timeout_ms,
          queueMaxRows: cfg.queue_max_rows,
          queueMaxBytes: cfg.queue_max_bytes,
          spoolAfterBatches: cfg.spool_after_batches,
          insertRetries: cfg.insert_retries,
          insertRetryTimeoutS: cfg.insert_retry_timeout,
          maxInFlight,
          batchMerge: cfg.batch_merge,
          ...opts.writer,
          stats,
          logger,
          ...(spool === null
            ? {}
            : {
                onUnwritable: async (batch) => {
                  let ok: boolean;
                  try {
                    ok = await spool.append(batch);
                  } catch (err) {
                    // The disk is full before spool_max_bytes: counted spool_full too (the
                    // spool cut the partial record off; appends work again once there is room).
                    if (isDiskFull(err)) throw new SpoolFullError(spool.dir, spool.capacityBytes, `disk full (${(err as Error).message})`);
                    throw err;
                  }
                  if (!ok) throw new SpoolFullError(spool.dir, spool.capacityBytes);
                  db.replayer?.notify();
                },
              }),
        });
        writers.set(url, db.writer);
        if (spool !== null) {
          db.replayer = new SpoolReplayer(db.writer, spool, { ...opts.replayer, logger });
          if (!spool.isEmpty) {
            logger?.warn({ db: store.displayUrl, spool: spool.dir, pendingBytes: spool.stats().pendingBytes }, 'spool from an earlier run will be replayed');
          }
          db.replayer.start();
        }
        logger?.info({ db: store.displayUrl, mode: mode.name, spool: spool?.dir ?? null, maxInFlight }, 'store ready');
      }
      unclaimed = await replayEarlierSpools(cfg, dbs, legacyOwners, logger, opts);
    } catch (err) {
      for (const db of dbs) await db.replayer?.stop();
      for (const db of dbs) for (const e of db.earlier) await e.replayer.stop();
      await Promise.allSettled(dbs.flatMap((db) => db.earlier.map((e) => e.spool.close())));
      await Promise.allSettled(dbs.map((db) => db.spool?.close({ removeIfEmpty: true }) ?? Promise.resolve()));
      await Promise.allSettled(dbs.map((db) => db.store.close()));
      throw err;
    }
    const set = new StoreSet(dbs, writers, cfg, logger, opts, unclaimed);
    if (opts.tablesAhead !== false) set.startAhead();
    return set;
  }

  /** Estimated bytes of the rows waiting in every writer (the memory guard's "is anything ours queued"). */
  queuedBytes(): number {
    let n = 0;
    for (const db of this.dbs) n += db.writer.queueBytes;
    return n;
  }

  /** The writer for a capture mode's db_url (every mode's URL was opened in `open`). */
  writerFor(dbUrl: string): StoreWriter {
    const writer = this.writers.get(dbUrl);
    if (writer === undefined) throw new Error(`no writer for ${maskPasswords(dbUrl)}`);
    return writer;
  }

  /** One entry per database URL, for metrics and the RPC. Cheap: reads counters only. */
  storageStats(): StorageStats[] {
    return this.dbs.map((db) => ({
      db: db.store.displayUrl,
      backend: db.store.backend,
      queueDepth: db.writer.queueDepth,
      queueBytes: db.writer.queueBytes,
      inFlightBatches: db.writer.inFlightBatches,
      failing: db.writer.failing,
      outage: db.writer.inOutage,
      spool:
        db.spool === null
          ? null
          : {
              ...db.spool.stats(),
              dir: db.spool.dir,
              maxBytes: db.spool.capacityBytes,
              replaying: db.replayer?.replaying ?? false,
              alreadyCommittedBatches: db.writer.replayedAlreadyCommitted.batches,
              alreadyCommittedRows: db.writer.replayedAlreadyCommitted.rows,
            },
      values: isCounting(db.store) ? db.store.valueCounters : null,
      homer7: (db.store as Partial<Homer7Store>).homer7Counters ?? null,
    }));
  }

  /**
   * Asks every database with a server for a trivial query (Store.ping): one entry per database,
   * `error` null when it answered. Used at start and for /health.
   */
  probe(): Promise<{ db: string; error: unknown }[]> {
    return Promise.all(
      this.dbs.map(async (db) => {
        try {
          await db.store.ping?.();
          return { db: db.store.displayUrl, error: null };
        } catch (err) {
          return { db: db.store.displayUrl, error: err };
        }
      }),
    );
  }

  /**
   * Creates the tables the routes need now and in the next period (tables-ahead.ts). Failures
   * are logged, not thrown: a table still missing later is created on first use.
   */
  async ensureTablesAhead(nowSec = (this.opts.nowSec ?? (() => Date.now() / 1000))()): Promise<void> {
    const wanted = tablesAhead(this.routing.routeRules, this.routing.captureModes, nowSec);
    await Promise.all(
      this.dbs.map(async (db) => {
        for (const t of wanted.get(db.url) ?? []) {
          try {
            await db.store.ensureTable(t.name, t.kind);
          } catch (err) {
            // Closed under the check (a short run): not a database problem.
            if (this.closing !== null) return;
            if (!this.aheadFailing.has(db.url)) {
              this.aheadFailing.add(db.url);
              this.logger?.warn({ db: db.store.displayUrl, table: t.name, err: (err as Error).message }, 'cannot create tables ahead yet; retrying later');
            }
            return;
          }
        }
        this.aheadFailing.delete(db.url);
      }),
    );
  }

  private startAhead(): void {
    void this.ensureTablesAhead();
    const every = this.opts.aheadIntervalMs ?? 10 * 60_000;
    if (every > 0) {
      this.aheadTimer = setInterval(() => void this.ensureTablesAhead(), every);
      this.aheadTimer.unref();
    }
  }

  /**
   * Stops the replay, drains every writer (with retries for up to drainTimeoutMs, then what is
   * left goes to the spool; after abandonAfterMs, inserts that hang are given up and spooled
   * too), closes the spools (an empty one leaves no directory) and the connections. Rows still
   * in a spool are replayed by the next start.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.aheadTimer !== null) clearInterval(this.aheadTimer);
    // A database that does not answer at all (a table lock, a frozen server) must not hold the
    // shutdown past its deadline: what is in flight or waiting then goes to the spool.
    const abandonTimer = setTimeout(() => {
      for (const db of this.dbs) void db.writer.abandon();
    }, this.opts.abandonAfterMs ?? 8000);
    await Promise.allSettled(this.dbs.flatMap((db) => [db.replayer?.stop() ?? Promise.resolve(), ...db.earlier.map((e) => e.replayer.stop())]));
    const drainMs = this.opts.drainTimeoutMs ?? 5000;
    await Promise.allSettled(
      this.dbs.map(async (db) => {
        const timer = setTimeout(() => db.writer.stopRetrying(), drainMs);
        try {
          await db.writer.close();
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    await Promise.allSettled(
      this.dbs.map(async (db) => {
        if (db.spool === null) return;
        const pending = db.spool.stats().pendingBytes;
        if (pending > 0) this.logger?.warn({ db: db.store.displayUrl, spool: db.spool.dir, pendingBytes: pending }, 'spool kept for the next start');
        await db.spool.close({ removeIfEmpty: true });
      }),
    );
    await Promise.allSettled(this.dbs.flatMap((db) => db.earlier.map((e) => e.spool.close({ removeIfEmpty: true }))));
    clearTimeout(abandonTimer);
    // A connection stuck in a hung server may keep a pool from ending: not the shutdown's problem.
    await Promise.allSettled(this.dbs.map((db) => Promise.race([db.store.close(), new Promise((resolve) => setTimeout(resolve, 2000).unref())])));
  }
}

/**
 * Spools in spool_dir that no configured database opened (spool-dirs.ts): replayed into the
 * database that owns them (an earlier version's directory of a configured URL; or, with one
 * database, any), else reported. A directory another running process holds is its own business.
 */
async function replayEarlierSpools(
  cfg: SipcaptureConfig,
  dbs: readonly Db[],
  legacyOwners: ReadonlyMap<string, Db>,
  logger: Logger | null,
  opts: StoreSetOptions,
): Promise<UnclaimedSpool[]> {
  const spooled = dbs.filter((d) => d.spool !== null);
  if (spooled.length === 0) return [];
  const unclaimed: UnclaimedSpool[] = [];
  for (const dir of otherSpoolDirs(cfg.spool_dir, new Set(spooled.map((d) => d.spool!.dir)))) {
    let spool: Spool<RowBatch>;
    try {
      spool = await Spool.open({ dir, codec: rowBatchCodec, maxBytes: cfg.spool_max_bytes });
    } catch (err) {
      logger?.debug({ spool: dir, err: (err as Error).message }, 'spool directory not opened');
      continue;
    }
    if (spool.isEmpty) {
      await spool.close({ removeIfEmpty: true });
      continue;
    }
    const label = (await spoolLabel(dir)) ?? null;
    const pendingBytes = spool.stats().pendingBytes;
    const owner = legacyOwners.get(dir) ?? spooled.find((d) => label !== null && destinationOf(d.url) === label) ?? (spooled.length === 1 ? spooled[0] : undefined);
    if (owner === undefined) {
      await spool.close();
      unclaimed.push({ dir, destination: label, pendingBytes });
      logger?.error(
        { spool: dir, destination: label ?? 'unknown (an earlier version wrote it)', pendingBytes },
        'spool of a database URL no longer configured: not replayed (several databases are configured and none is its own); put its db_url back, or keep only one database, to replay it',
      );
      continue;
    }
    logger?.warn(
      { db: owner.store.displayUrl, spool: dir, destination: label ?? 'unknown (an earlier version wrote it)', pendingBytes },
      'spool of an earlier db_url will be replayed into this database',
    );
    const replayer = new SpoolReplayer(owner.writer, spool, { ...opts.replayer, logger });
    owner.earlier.push({ spool, replayer });
    replayer.start();
  }
  return unclaimed;
}
