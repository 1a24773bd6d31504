/**
 * `sipcapture import FILE.pcap -c CONFIG`: stores the SIP found in a pcap/pcapng file through
 * the same decoder (net/) and pipeline (parse → row → route → writer) as live raw capture.
 * Useful to load a capture taken elsewhere into HOMER, and to test the raw path anywhere.
 */
import type { CommandModule } from 'yargs';
import { CaptureState } from '../pipeline/capture-state.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { pino } from 'pino';
import { Stats } from '../telemetry/stats.js';
import { rowOptionsFrom } from '../capture/sip-row.js';
import { dedupFrom } from '../pipeline/dedup.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { Router } from '../route/router.js';
import { StoreSet } from '../store/store-set.js';
import { ForwardSet } from '../forward/forward-set.js';
import type { ForwarderStats } from '../forward/forwarder.js';
import { importPcap, type ImportPcapResult } from './import-pcap.js';
import type { StatsSnapshot } from '../telemetry/stats.js';
import { formatCount, formatCounts } from './format.js';

interface ImportArgs {
  file: string;
  config: string;
  json: boolean;
}

export interface ImportSummary {
  file: ImportPcapResult;
  stats: StatsSnapshot;
  /** Per forward destination, after the import (what did not reach one is in its spool). */
  forward?: ForwarderStats[];
}

/** Runs one import; resolves after every row is committed (or counted). */
export async function runImport(file: string, configFile: string): Promise<ImportSummary> {
  const cfg = loadConfig(configFile);
  // Logs go to stderr: stdout carries the summary.
  const logger = pino({ level: cfg.log_level, base: { name: 'sipcapture' } }, pino.destination(2));
  const stats = new Stats(logger, cfg.log_rate_limit_s * 1000);
  // An import is an explicit request: capture_on / hep_capture_on (meant for live traffic) do not apply.
  const state = new CaptureState({ capture_on: 1, hep_capture_on: 1 });
  // No spool: the daemon may be running with this config and holds its spool, and a spool left
  // by a one-off import would never be replayed. Rows the database refuses after the retries are
  // counted (db_error) in the summary; import the file again when the database is back.
  // No tables ahead either: an import's rows create their (dated) tables on first use.
  const storeSet = await StoreSet.open({ ...cfg, spool_max_bytes: 0 }, stats, logger, { tablesAhead: false });
  const router = new Router(cfg.routeRules, cfg.captureModes, { tableDateWindowDays: cfg.table_date_window_days });
  // The messages go to the `forward` destinations too, as HEP3 built from the capture.
  const forward = cfg.forward.length > 0 ? await ForwardSet.open(cfg, router.forwardedByRules, logger) : null;
  try {
    const pipeline = new Pipeline({
      stats,
      state,
      router,
      rowOptions: rowOptionsFrom(cfg),
      writerFor: (dbUrl) => storeSet.writerFor(dbUrl),
      defaultDbUrl: cfg.captureModes.get('default')?.db_url ?? null,
      dedup: dedupFrom(cfg),
      forward,
    });
    const result = await importPcap(file, pipeline, stats, {
      rawSocketListen: cfg.raw_socket_listen,
      listener: `pcap:${file}`,
    });
    await Promise.all([storeSet.close(), forward?.close()]);
    return { file: result, stats: stats.snapshot(), ...(forward === null ? {} : { forward: forward.stats() }) };
  } catch (err) {
    await Promise.all([storeSet.close(), forward?.close()]);
    throw err;
  }
}

/**
 * The result as `sipcapture send` prints its own: a few lines for people, or one JSON line.
 * `packets` = `packets_with_messages` + `packets_joined` + `packets_dropped`; `messages` counts
 * what those packets held (a TCP segment may hold several), `from_hep` and `from_websocket` how
 * many of them came out of HEP packets and WebSocket frames; `dropped` counts drops by reason,
 * packets and messages alike.
 */
export function formatImport(file: string, summary: ImportSummary, json: boolean): string {
  const f = summary.file;
  const stored = Object.values(summary.stats.stored).reduce((a, b) => a + b, 0);
  const dropped = Object.values(summary.stats.dropped).reduce((a, b) => a + b, 0);
  if (json) {
    return JSON.stringify({
      packets: f.packets,
      packets_with_messages: f.accounting.withMessages,
      packets_joined: f.accounting.joined,
      packets_dropped: f.accounting.dropped,
      messages: f.messages,
      from_hep: f.hep,
      from_websocket: f.websocket,
      stored,
      stored_by_table: summary.stats.stored,
      dropped: summary.stats.dropped,
    });
  }
  return [
    `read ${formatCount(f.packets)} packets from ${file}: ${formatCount(f.accounting.withMessages)} with messages, ${formatCount(f.accounting.joined)} joined into a reassembled message, ${formatCount(f.accounting.dropped)} dropped`,
    `${formatCount(f.messages)} SIP messages (${formatCount(f.hep)} from HEP, ${formatCount(f.websocket)} from WebSocket frames)`,
    `stored ${formatCount(stored)} rows: ${formatCounts(summary.stats.stored)}`,
    `dropped: ${dropped === 0 ? '0' : `${formatCount(dropped)} (${formatCounts(summary.stats.dropped)})`}`,
  ].join('\n');
}

export const importCommand: CommandModule<object, ImportArgs> = {
  command: 'import <file>',
  describe: 'Store the SIP of a pcap/pcapng file (same decoding as raw capture: IPIP, VLAN, fragments, TCP)',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'pcap or pcapng file' })
      .option('config', { alias: 'c', type: 'string', default: 'config/sipcapture.json5', describe: 'JSON5 config file' })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as one JSON line' }),
  handler: async (argv) => {
    try {
      const summary = await runImport(argv.file, argv.config);
      process.stdout.write(`${formatImport(argv.file, summary, argv.json)}\n`);
    } catch (err) {
      process.stderr.write(`sipcapture import: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
      process.exitCode = 2;
    }
  },
};
