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

interface ImportArgs {
  file: string;
  config: string;
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
  const storeSet = await StoreSet.open(cfg, stats, logger);
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

export const importCommand: CommandModule<object, ImportArgs> = {
  command: 'import <file>',
  describe: 'Store the SIP of a pcap/pcapng file (same decoding as raw capture: IPIP, VLAN, fragments, TCP)',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'pcap or pcapng file' })
      .option('config', { alias: 'c', type: 'string', default: 'config/sipcapture.json5', describe: 'JSON5 config file' }),
  handler: async (argv) => {
    try {
      const summary = await runImport(argv.file, argv.config);
      const stored = Object.values(summary.stats.stored).reduce((a, b) => a + b, 0);
      process.stdout.write(
        `${JSON.stringify({ packets: summary.file.packets, messages: summary.file.messages, stored, dropped: summary.stats.dropped })}\n`,
      );
    } catch (err) {
      process.stderr.write(`sipcapture import: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
      process.exitCode = 2;
    }
  },
};
