/**
 * `sipcapture send`: the load generator as a command. Sends realistic SIP (calls,
 * registrations, OPTIONS) as HEP v1/v2/v3 over UDP or TCP at a token-bucket rate, a bounded
 * number of messages, and prints what it sent (`--json` for scripts such as bench/system/run.ts).
 */
import type { Argv, CommandModule } from 'yargs';
import { MIX_NAMES, type MixName } from '../loadgen/mix.js';
import type { LoadOptions } from '../loadgen/load.js';
import type { HepVersion } from '../loadgen/packets.js';
import type { SendSummary, Transport } from '../loadgen/sender.js';
import { formatCount, formatCounts } from './format.js';

export interface SendArgs {
  host: string;
  port: number;
  transport: string;
  hep: string;
  rate: number;
  count: number;
  mix: string;
  workers: number;
  connections: number;
  'capture-id': number;
  seed: number;
  json: boolean;
}

/** `3`, `1,2,3` or `all` → versions. */
export function parseVersions(text: string): HepVersion[] {
  const parts = text === 'all' ? ['1', '2', '3'] : text.split(',').map((s) => s.trim());
  const out = parts.map((p) => {
    if (p !== '1' && p !== '2' && p !== '3') throw new RangeError(`--hep: ${JSON.stringify(p)} is not 1, 2 or 3`);
    return Number(p) as HepVersion;
  });
  return [...new Set(out)];
}

/** `udp`, `tcp` or `udp,tcp` → transports. */
export function parseTransports(text: string): Transport[] {
  const parts = text.split(',').map((s) => s.trim());
  for (const p of parts) if (p !== 'udp' && p !== 'tcp') throw new RangeError(`--transport: ${JSON.stringify(p)} is not udp or tcp`);
  return [...new Set(parts as Transport[])];
}

export function loadOptionsFromArgs(a: Omit<SendArgs, 'json'>): LoadOptions {
  if (!(MIX_NAMES as readonly string[]).includes(a.mix)) throw new RangeError(`--mix: ${JSON.stringify(a.mix)} is not one of ${MIX_NAMES.join(', ')}`);
  return {
    host: a.host,
    port: a.port,
    transports: parseTransports(a.transport),
    versions: parseVersions(a.hep),
    rate: a.rate,
    count: a.count,
    mix: a.mix as MixName,
    workers: a.workers,
    connections: a.connections,
    captureId: a['capture-id'],
    seed: a.seed,
  };
}

export function formatSummary(s: SendSummary): string {
  const n = formatCount;
  const kv = formatCounts;
  const lines = [
    `sent ${n(s.sent)} of ${n(s.count)} messages (${n(s.flows)} flows, ${(s.sentBytes / 1e6).toFixed(1)} MB) in ${s.durationS.toFixed(2)} s`,
    `rate: requested ${s.requestedRate === 0 ? 'unlimited' : `${n(s.requestedRate)}/s`}, achieved ${n(s.achievedRate)}/s (${s.workers} sender thread${s.workers === 1 ? '' : 's'}, CPU ${(s.cpuUserS + s.cpuSystemS).toFixed(2)} s)`,
    `by stream: ${kv(s.byStream)}`,
    `by flow: ${kv(s.byFlow)}`,
    `send errors: ${s.sendErrors === 0 ? '0' : `${n(s.sendErrors)} (${kv(s.errorCodes)})`}`,
  ];
  return lines.join('\n');
}

/** Runs the command; resolves with the exit code (0 = everything requested was sent). */
export async function runSendCommand(a: SendArgs, out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const options = loadOptionsFromArgs(a);
  // Loaded here, not at the top: `sipcapture run` should not pay for the load generator at start-up.
  const { sendLoad } = await import('../loadgen/load.js');
  const summary = await sendLoad(options);
  out(a.json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary)}\n`);
  return summary.sent === summary.count && summary.sendErrors === 0 ? 0 : 1;
}

export function sendOptions<T>(y: Argv<T>): Argv<T & SendArgs> {
  return y
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'HEP destination address' })
    .option('port', { type: 'number', default: 9060, describe: 'HEP destination port' })
    .option('transport', { type: 'string', default: 'udp', describe: 'udp, tcp, or udp,tcp (alternating)' })
    .option('hep', { type: 'string', default: '3', describe: 'HEP version 1, 2 or 3; a list such as 1,2,3 alternates (TCP: 3 only)' })
    .option('rate', { type: 'number', default: 5000, describe: 'messages per second (token bucket); 0 = as fast as possible' })
    .option('count', { type: 'number', default: 50_000, describe: 'messages to send' })
    .option('mix', { type: 'string', default: 'mixed', choices: MIX_NAMES, describe: 'traffic: call flows, registrations, OPTIONS, or a mix' })
    .option('workers', { type: 'number', default: 1, describe: 'sender threads sharing rate and count' })
    .option('connections', { type: 'number', default: 1, describe: 'TCP connections' })
    .option('capture-id', { type: 'number', default: 2001, describe: 'HEP capture id (node column = capture_node:id)' })
    .option('seed', { type: 'number', default: 1, describe: 'seed of the traffic variants' })
    .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON line' });
}

/** For src/cli.ts: `.command(sendCommand)`. */
export const sendCommand: CommandModule<object, SendArgs> = {
  command: 'send',
  describe: 'Send generated SIP as HEP at a given rate (load generator for benchmarks and tests)',
  builder: (y) => sendOptions(y),
  handler: async (argv) => {
    try {
      process.exitCode = await runSendCommand(argv);
    } catch (err) {
      process.stderr.write(`sipcapture send: ${(err as Error).message}\n`);
      process.exitCode = 2;
    }
  },
};
