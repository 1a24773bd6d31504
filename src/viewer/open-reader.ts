/**
 * The reader of a configuration: one reader per database its capture modes write to, by the
 * schema written there (one database URL has one schema: Homer 5 tables, or HOMER 7
 * `hep_proto_*`), behind one `CallReader` that asks each and merges the answers (a capture mode
 * may send some methods to another database).
 */
import type { SipcaptureConfig } from '../config/types.js';
import { Homer5Reader } from './homer5-reader.js';
import { Homer7Reader } from './homer7-reader.js';
import { openSqlRunner } from './sql-runner.js';
import { sipTemplatesFor } from './tables.js';
import { QUERY_TIMEOUT_MS, type CallFlow, type CallReader, type MessageSummary, type SearchQuery, type SearchResult, type TimeRange } from './types.js';

type ReaderConfig = Pick<SipcaptureConfig, 'routeRules' | 'captureModes' | 'date_time_zone' | 'table_date_window_days' | 'homer7_data_header'>;

export async function openCallReader(cfg: ReaderConfig, opts: { timeoutMs?: number } = {}): Promise<CallReader> {
  const defaultUrl = cfg.captureModes.get('default')?.db_url;
  const schemaOf = new Map([...cfg.captureModes.values()].map((m) => [m.db_url, m.schema ?? 'homer5']));
  const readers: CallReader[] = [];
  try {
    for (const [url, schema] of schemaOf) {
      const runner = await openSqlRunner(url, { timeoutMs: opts.timeoutMs ?? QUERY_TIMEOUT_MS });
      if (schema === 'homer7') readers.push(new Homer7Reader({ runner, dateTimeZone: cfg.date_time_zone, dataHeader: cfg.homer7_data_header }));
      else readers.push(new Homer5Reader({ runner, sipTemplates: sipTemplatesFor(cfg, url), sideTables: url === defaultUrl, dateTimeZone: cfg.date_time_zone, tableDateWindowDays: cfg.table_date_window_days }));
    }
  } catch (err) {
    await Promise.allSettled(readers.map((r) => r.close()));
    throw err;
  }
  return readers.length === 1 ? readers[0]! : new MergedReader(readers);
}

/** Several databases read as one. */
class MergedReader implements CallReader {
  /** The first database's (its default capture mode's, usually). */
  readonly schema: CallReader['schema'];

  constructor(private readonly readers: readonly CallReader[]) {
    this.schema = readers[0]!.schema;
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    const parts = await Promise.all(this.readers.map((r) => r.search(query)));
    const all = parts.flatMap((p) => p.messages).sort((a, b) => b.microTs - a.microTs);
    return { messages: all.slice(0, query.limit), truncated: all.length > query.limit || parts.some((p) => p.truncated) };
  }

  async callFlow(callId: string, range: TimeRange): Promise<CallFlow> {
    const parts = await Promise.all(this.readers.map((r) => r.callFlow(callId, range)));
    return {
      callId,
      callIds: [...new Set(parts.flatMap((p) => p.callIds))],
      messages: parts.flatMap((p) => p.messages).sort((a, b) => a.microTs - b.microTs),
      side: parts.flatMap((p) => p.side).sort((a, b) => a.microTs - b.microTs),
      truncated: parts.some((p) => p.truncated),
    };
  }

  async latest(afterUs: number, limit: number): Promise<MessageSummary[]> {
    const parts = await Promise.all(this.readers.map((r) => r.latest(afterUs, limit)));
    return parts.flat().sort((a, b) => b.microTs - a.microTs).slice(0, limit);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.readers.map((r) => r.close()));
  }
}
