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
import { rowOptionsFrom } from '../daemon.js';
import { dedupFrom } from '../pipeline/dedup.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { Router } from '../route/router.js';
import { StoreSet } from '../store/store-set.js';
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
}

/** Runs one import; resolves after every row is committed (or counted). */
export async function runImport(file: string, configFile: string): Promise<ImportSummary> {
  const cfg = loadConfig(configFile);
  // Logs go to stderr: stdout carries the summary.
  const logger = pino({ level: cfg.log_level, base: { name: 'sipcapture' } }, pino.destination(2));
  const stats = new Stats(logger, cfg.log_rate_limit_s * 1000);
  // An import is an explicit request: capture_on / hep_capture_on (meant for live traffic) do not apply.
  const state = new CaptureState({ capture_on: 1, hep_capture_on: 1 });
  const storeSet = await StoreSet.open(cfg, stats, logger);
  try {
    const pipeline = new Pipeline({
      stats,
      state,
      router: new Router(cfg.routeRules, cfg.captureModes, { tableDateWindowDays: cfg.table_date_window_days }),
      rowOptions: rowOptionsFrom(cfg),
      writerFor: (dbUrl) => storeSet.writerFor(dbUrl),
      defaultDbUrl: cfg.captureModes.get('default')?.db_url ?? null,
      dedup: dedupFrom(cfg),
    });
    const result = await importPcap(file, pipeline, stats, {
      rawSocketListen: cfg.raw_socket_listen,
      listener: `pcap:${file}`,
    });
    await storeSet.close();
    return { file: result, stats: stats.snapshot() };
  } catch (err) {
    await storeSet.close();
    throw err;
  }
}

/** The result as `sipcapture send` prints its own: a few lines for people, or one JSON line. */
export function formatImport(file: string, summary: ImportSummary, json: boolean): string {
  const stored = Object.values(summary.stats.stored).reduce((a, b) => a + b, 0);
  const dropped = Object.values(summary.stats.dropped).reduce((a, b) => a + b, 0);
  if (json) return JSON.stringify({ packets: summary.file.packets, messages: summary.file.messages, stored, stored_by_table: summary.stats.stored, dropped: summary.stats.dropped });
  return [
    `read ${formatCount(summary.file.packets)} packets, ${formatCount(summary.file.messages)} SIP messages from ${file}`,
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
