/**
 * The databases of one running daemon: one Store and one StoreWriter per distinct database URL
 * (capture modes sharing a URL share them). The pipeline asks `writerFor(db_url)`; shutdown
 * calls `close()`, which drains every writer before closing the connections.
 */
import type { SipcaptureConfig } from '../control/config/types.js';
import type { Logger } from '../control/logger.js';
import type { Stats } from '../control/stats.js';
import { createStore } from './factory.js';
import type { Store } from './store.js';
import { StoreWriter } from './writer.js';

export class StoreSet {
  private constructor(
    private readonly stores: readonly Store[],
    readonly writers: ReadonlyMap<string, StoreWriter>,
  ) {}

  /** Opens a store and a writer for every database URL the capture modes use. */
  static async open(cfg: SipcaptureConfig, stats: Stats, logger: Logger): Promise<StoreSet> {
    const stores: Store[] = [];
    const writers = new Map<string, StoreWriter>();
    try {
      for (const mode of cfg.captureModes.values()) {
        if (writers.has(mode.db_url)) continue;
        const store = await createStore(mode.db_url, { dbInsertMode: cfg.db_insert_mode });
        stores.push(store);
        writers.set(
          mode.db_url,
          new StoreWriter(store, {
            batchSize: cfg.batch_size,
            batchTimeoutMs: cfg.batch_timeout_ms,
            queueMaxRows: cfg.queue_max_rows,
            insertRetries: cfg.insert_retries,
            insertRetryTimeoutS: cfg.insert_retry_timeout,
            stats,
            logger,
          }),
        );
        logger.info({ db: store.displayUrl, mode: mode.name }, 'store ready');
      }
    } catch (err) {
      await Promise.allSettled(stores.map((s) => s.close()));
      throw err;
    }
    return new StoreSet(stores, writers);
  }

  /** The writer for a capture mode's db_url (every mode's URL was opened in `open`). */
  writerFor(dbUrl: string): StoreWriter {
    const writer = this.writers.get(dbUrl);
    if (writer === undefined) throw new Error(`no writer for ${dbUrl}`);
    return writer;
  }

  /** Drains every writer into its database, then closes the connections. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.writers.values()].map((w) => w.close()));
    await Promise.allSettled(this.stores.map((s) => s.close()));
  }
}
