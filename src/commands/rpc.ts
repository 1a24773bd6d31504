/**
 * `sipcapture rpc METHOD [PARAM …]`: kamcmd for sipcapture. Talks JSON-RPC to the running
 * daemon over rpc_socket (preferred) or http_listen, both found in the config file, or given
 * with --socket / --url. Parameters that look like integers are sent as numbers (as kamcmd
 * does); prefix `s:` to force a string, `i:` a number.
 *
 *   sipcapture rpc sipcapture.status on      → Enabled
 *   sipcapture rpc sip_capture               → on          (the old MI command)
 *   sipcapture rpc sipcapture.stats          → JSON
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import JSON5 from 'json5';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { paramSpec } from '../config/params.js';
import { callRpc, describeTarget, type RpcTarget } from '../control/rpc/client.js';

const CONFIG_CANDIDATES = ['config/sipcapture.json5', '/etc/sipcapture/sipcapture.json5'];

interface RpcArgs {
  method: string;
  params: (string | number)[];
  config?: string;
  socket?: string;
  url?: string;
  json: boolean;
  timeout: number;
}

/** kamcmd's typing of command-line parameters. */
export function typedParam(arg: string | number): string | number {
  const s = String(arg);
  if (s.startsWith('s:')) return s.slice(2);
  if (s.startsWith('i:')) {
    const n = Number(s.slice(2));
    if (!Number.isInteger(n)) throw new Error(`${JSON.stringify(s)}: i: needs an integer`);
    return n;
  }
  return /^-?\d{1,15}$/.test(s) ? Number(s) : s;
}

function stringSetting(raw: Record<string, unknown>, key: 'rpc_socket' | 'http_listen'): string {
  const v = raw[key];
  return typeof v === 'string' ? v : (paramSpec(key).default as string);
}

/** Where to send: --socket, --url, or what the config file names (socket first). */
export function resolveTarget(args: { config?: string; socket?: string; url?: string }, cwd = process.cwd()): RpcTarget {
  if (args.socket !== undefined) return { socket: path.resolve(cwd, args.socket) };
  if (args.url !== undefined) return { url: args.url };
  const file = args.config ?? CONFIG_CANDIDATES.map((f) => path.resolve(cwd, f)).find((f) => existsSync(f));
  if (file === undefined) {
    throw new Error(`no config file found (looked for ${CONFIG_CANDIDATES.join(', ')}): give -c FILE, --socket PATH or --url URL`);
  }
  let raw: unknown;
  try {
    raw = JSON5.parse<unknown>(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const cfg = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const socket = stringSetting(cfg, 'rpc_socket');
  const http = stringSetting(cfg, 'http_listen');
  const httpRpc = cfg['http_rpc'] === undefined ? 1 : Number(cfg['http_rpc']);
  if (socket !== '') {
    const resolved = path.resolve(path.dirname(path.resolve(cwd, file)), socket);
    if (existsSync(resolved) || http === '' || httpRpc === 0) return { socket: resolved };
  }
  if (http !== '' && httpRpc !== 0) return { url: `http://${http}/RPC` };
  throw new Error(`${file} enables neither rpc_socket nor JSON-RPC on http_listen`);
}

/** Prints a result as kamcmd would: strings as they are, arrays one item per line, the rest as JSON. */
export function formatResult(result: unknown): string {
  if (result === null || result === undefined) return '';
  if (typeof result === 'string') return `${result}\n`;
  if (Array.isArray(result) && result.every((x) => typeof x !== 'object' || x === null)) return result.map((x) => `${String(x)}\n`).join('');
  return `${JSON.stringify(result, null, 2)}\n`;
}

export const rpcCommand: CommandModule<object, RpcArgs> = {
  command: 'rpc <method> [params..]',
  describe: 'Call a JSON-RPC method of the running daemon (kamcmd-like), e.g. `rpc sipcapture.status on`',
  builder: (y: Argv) =>
    y
      .positional('method', { type: 'string', demandOption: true, describe: 'sipcapture.status, sip_capture, sipcapture.stats, sipcapture.reload, system.listMethods …' })
      .positional('params', { type: 'string', array: true, default: [], describe: 'parameters (integers are sent as numbers; s:TEXT forces a string)' })
      .option('config', { alias: 'c', type: 'string', describe: 'config file naming rpc_socket / http_listen (default: config/sipcapture.json5, then /etc/sipcapture/sipcapture.json5)' })
      .option('socket', { alias: 's', type: 'string', describe: 'unix socket of the daemon (overrides the config)' })
      .option('url', { alias: 'u', type: 'string', describe: 'JSON-RPC URL, e.g. http://127.0.0.1:9061/RPC (overrides the config)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the whole JSON-RPC reply' })
      .option('timeout', { type: 'number', default: 10_000, describe: 'ms to wait for the answer' }),
  handler: async (argv: ArgumentsCamelCase<RpcArgs>) => {
    let target: RpcTarget;
    let params: (string | number)[];
    try {
      target = resolveTarget(argv);
      params = argv.params.map(typedParam);
    } catch (err) {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    try {
      const reply = await callRpc(target, argv.method, params, argv.timeout);
      if (argv.json) {
        process.stdout.write(`${JSON.stringify(reply, null, 2)}\n`);
        process.exitCode = reply.error === undefined ? 0 : 1;
        return;
      }
      if (reply.error !== undefined) {
        process.stderr.write(`error: ${reply.error.code} - ${reply.error.message}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(formatResult(reply.result));
    } catch (err) {
      process.stderr.write(`error: ${(err as Error).message} (${describeTarget(target)})\n`);
      process.exitCode = 2;
    }
  },
};
