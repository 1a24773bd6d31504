#!/usr/bin/env node
/**
 * The `sipcapture` command. Only argument handling lives here; each command calls into the
 * modules that do the work.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import {
  ConfigError,
  configWarnings,
  derivedConfigForDisplay,
  effectiveConfigForDisplay,
  loadConfig,
  readConfigFile,
} from './config/load.js';
import { PARAM_NAMES } from './config/params.js';
import { hostProblems } from './config/host-checks.js';
import type { SipcaptureConfig } from './config/types.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { packageVersion } from './util/package-info.js';
import { startDaemon } from './daemon.js';
import { importCommand } from './commands/import.js';
import { importKamailioCommand } from './commands/import-kamailio.js';
import { rpcCommand } from './commands/rpc.js';
import { sendCommand } from './commands/send.js';
import { searchCommand, showCommand } from './commands/viewer.js';

const DEFAULT_CONFIG = 'config/sipcapture.json5';
/** SIGTERM must not hang forever on a dead database: drain for at most this long. */
const SHUTDOWN_DEADLINE_MS = 15_000;

/** Loads the config or prints every problem and exits 2. */
function loadOrExit(file: string): SipcaptureConfig {
  try {
    return loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * Loads the config and checks it against this host (addresses, directories, the hook's syntax),
 * or prints every problem and exits 2: `check-config` and `run` refuse the same configs.
 */
async function loadAndCheckOrExit(file: string): Promise<SipcaptureConfig> {
  const cfg = loadOrExit(file);
  const problems = await hostProblems(cfg);
  if (problems.length > 0) {
    process.stderr.write(`${new ConfigError(file, problems).message}\n`);
    process.exit(2);
  }
  return cfg;
}

async function runCommand(file: string): Promise<void> {
  const cfg = await loadAndCheckOrExit(file);
  const logger = createLogger(cfg.log_level);
  for (const warning of configWarnings(cfg)) logger.warn({ config: file }, warning);
  let daemon;
  try {
    daemon = await startDaemon(cfg, logger, { configFile: file });
  } catch (err) {
    logger.fatal({ err }, `start-up failed: ${(err as Error).message}`);
    logger.flush();
    process.exitCode = 1;
    return;
  }
  logger.info({ config: file, version: packageVersion() }, 'sipcapture running');
  installSignalHandlers(logger, () => daemon.stop(), () => daemon.stats.snapshot());
  // SIGHUP re-reads the config (control/reload.ts logs what took effect and what did not).
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'reloading the configuration');
    daemon.reload().catch(() => undefined);
  });
}

/** The parameters the file sets itself (the others have their default), for check-config's output. */
function keysSetInFile(file: string): string[] {
  const raw = readConfigFile(file);
  return typeof raw === 'object' && raw !== null ? Object.keys(raw).filter((k) => PARAM_NAMES.has(k)) : [];
}

/** `finalStats`: the counters for the last line when the stop misses its deadline. */
function installSignalHandlers(logger: Logger, stop: () => Promise<void>, finalStats: () => unknown): void {
  let shuttingDown = false;
  const shutdown = (signal: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down: stopping listeners and draining queues');
    const deadline = setTimeout(() => {
      logger.error({ stats: finalStats() }, 'shutdown deadline reached with rows still queued');
      logger.flush();
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    stop().then(
      () => {
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

await yargs(hideBin(process.argv))
  .scriptName('sipcapture')
  .usage('$0 <command> [options]')
  .command(
    'run',
    'Start the capture daemon in the foreground',
    (y) => y.option('config', { alias: 'c', type: 'string', default: DEFAULT_CONFIG, describe: 'JSON5 config file' }),
    async (argv) => runCommand(argv.config),
  )
  .command(
    'check-config',
    'Validate a config file (and that this host and user can run it: addresses, data paths, the hook) and print the effective configuration (defaults included)',
    (y) =>
      y
        .option('config', { alias: 'c', type: 'string', default: DEFAULT_CONFIG, describe: 'JSON5 config file' })
        .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print nothing when the config is valid (problems still go to stderr, exit 2): for ExecStartPre' }),
    async (argv) => {
      const cfg = await loadAndCheckOrExit(argv.config);
      if (!argv.quiet) {
        const shown = { parameters: effectiveConfigForDisplay(cfg), set_in_file: keysSetInFile(argv.config), derived: derivedConfigForDisplay(cfg) };
        process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
      }
      for (const warning of configWarnings(cfg)) process.stderr.write(`warning: ${warning}\n`);
    },
  )
  .command(importCommand)
  .command(sendCommand)
  .command(rpcCommand)
  .command(importKamailioCommand)
  .command(showCommand)
  .command(searchCommand)
  .command(
    'db <action>',
    'Database schema and retention: `db init` creates the tables of every db_url of the config (today\'s and tomorrow\'s daily tables or partitions included); `db prune` drops what retention_days and the size guard say, listing each table',
    (y) =>
      y
        .positional('action', {
          choices: ['init', 'prune'] as const,
          demandOption: true,
          describe: 'init: create missing tables (existing ones are left as they are); prune: drop tables past their retention (see --dry-run)',
        })
        .option('config', { alias: 'c', type: 'string', default: DEFAULT_CONFIG, describe: 'JSON5 config file' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'prune: list what would be dropped, drop nothing' }),
    async (argv) => {
      const cfg = loadOrExit(argv.config);
      const print = (line: string): void => void process.stdout.write(`${line}\n`);
      if (argv.action === 'prune') {
        const { pruneCommand } = await import('./commands/prune.js');
        process.exitCode = (await pruneCommand(cfg, { dryRun: argv['dry-run'], print })) ? 0 : 1;
        return;
      }
      const { initConfigDatabases } = await import('./store/db-init.js');
      const ok = await initConfigDatabases(cfg, print);
      process.exitCode = ok ? 0 : 1;
    },
  )
  .demandCommand(1, 'Name a command: run, check-config')
  .strict()
  .version(packageVersion())
  .help()
  .parseAsync();
