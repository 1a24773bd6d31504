/**
 * `sipcapture show CALL-ID` and `sipcapture search`: the viewer for a terminal. They read the
 * databases of a config file the way the daemon's viewer does (viewer/open-reader.ts), so they
 * work beside a running daemon, or without one.
 */
import type { Argv, CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import { buildLadder, endpoint, arrowLabel } from '../viewer/ladder.js';
import { callText, utcDate, utcTime } from '../viewer/ladder-text.js';
import { openCallReader } from '../viewer/open-reader.js';
import { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, type MessageSummary, type SearchQuery, type TimeRange } from '../viewer/types.js';

const DEFAULT_CONFIG = 'config/sipcapture.json5';
const UNITS: Readonly<Record<string, number>> = { s: 1e6, m: 60e6, h: 3600e6, d: 86_400e6 };

/** `10m`, `2h`, `7d`, `30s` → microseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  if (m === null) throw new RangeError(`${JSON.stringify(text)} is not a duration such as 30s, 10m, 2h or 7d`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** An ISO 8601 time (UTC unless it says otherwise) → microseconds. */
export function parseTime(text: string, option: string): number {
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(' ', 'T')}Z`;
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new RangeError(`--${option}: ${JSON.stringify(text)} is not a time such as 2026-12-06T11:20:00 (UTC)`);
  return ms * 1000;
}

/** Control characters of captured text would drive the terminal: shown as `?`. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '?');
}

function rangeFrom(a: { since: string; start?: string | undefined; end?: string | undefined }): TimeRange {
  const toUs = a.end === undefined ? Date.now() * 1000 : parseTime(a.end, 'end');
  const fromUs = a.start === undefined ? toUs - parseDuration(a.since) : parseTime(a.start, 'start');
  return { fromUs, toUs };
}

interface CommonArgs {
  config: string;
  since: string;
  start?: string | undefined;
  end?: string | undefined;
  json: boolean;
}

function commonOptions<T>(y: Argv<T>, since: string): Argv<T & CommonArgs> {
  return y
    .option('config', { alias: 'c', type: 'string', default: DEFAULT_CONFIG, describe: 'JSON5 config file (its databases are read)' })
    .option('since', { type: 'string', default: since, describe: 'how far back: 30s, 10m, 2h, 7d' })
    .option('start', { type: 'string', describe: 'start of the time range, ISO 8601 (UTC unless a zone is given); overrides --since' })
    .option('end', { type: 'string', describe: 'end of the time range (default: now)' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of text' });
}

export interface ShowArgs extends CommonArgs {
  callid: string;
  messages: boolean;
}

export async function runShow(a: ShowArgs, out: (t: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const reader = await openCallReader(loadConfig(a.config));
  try {
    const flow = await reader.callFlow(a.callid, rangeFrom(a));
    const ladder = buildLadder(a.callid, flow.messages);
    out(a.json ? `${JSON.stringify({ flow, ladder })}\n` : printable(callText(flow, ladder, a.messages)));
    return flow.messages.length > 0 ? 0 : 1;
  } finally {
    await reader.close();
  }
}

export interface SearchArgs extends CommonArgs {
  callid?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  ruri?: string | undefined;
  method?: string | undefined;
  'src-ip'?: string | undefined;
  'dst-ip'?: string | undefined;
  node?: string | undefined;
  ua?: string | undefined;
  limit: number;
}

export function searchQueryFrom(a: SearchArgs): SearchQuery {
  if (!Number.isInteger(a.limit) || a.limit < 1 || a.limit > MAX_SEARCH_LIMIT) throw new RangeError(`--limit: ${a.limit} is not an integer from 1 to ${MAX_SEARCH_LIMIT}`);
  const q: SearchQuery = { ...rangeFrom(a), limit: a.limit };
  const set = (key: keyof SearchQuery, v: string | undefined): void => {
    if (v !== undefined && v !== '') (q as unknown as Record<string, string>)[key] = v;
  };
  set('callId', a.callid);
  set('fromUser', a.from);
  set('toUser', a.to);
  set('ruriUser', a.ruri);
  set('method', a.method);
  set('sourceIp', a['src-ip']);
  set('destinationIp', a['dst-ip']);
  set('node', a.node);
  set('userAgent', a.ua);
  return q;
}

/** One line per message: time, method or status, From → To, addresses, Call-ID. */
export function searchLines(messages: readonly MessageSummary[]): string[] {
  return messages.map((m) =>
    printable(
      [
        `${utcDate(m.microTs)} ${utcTime(m.microTs)}`,
        arrowLabel(m).padEnd(16),
        `${m.fromUser || '-'} -> ${m.toUser || '-'}`.padEnd(30),
        `${endpoint(m.sourceIp, m.sourcePort)} -> ${endpoint(m.destinationIp, m.destinationPort)}`.padEnd(44),
        m.callid,
      ].join('  '),
    ),
  );
}

export async function runSearch(a: SearchArgs, out: (t: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const query = searchQueryFrom(a);
  const reader = await openCallReader(loadConfig(a.config));
  try {
    const res = await reader.search(query);
    if (a.json) out(`${JSON.stringify(res)}\n`);
    else {
      const lines = searchLines(res.messages);
      lines.push(`${res.messages.length} message${res.messages.length === 1 ? '' : 's'}, newest first${res.truncated ? ` (more match: narrow the search or raise --limit)` : ''}`);
      out(`${lines.join('\n')}\n`);
    }
    return 0;
  } finally {
    await reader.close();
  }
}

async function exitWith(name: string, run: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await run();
  } catch (err) {
    process.stderr.write(`sipcapture ${name}: ${(err as Error).message}\n`);
    process.exitCode = 2;
  }
}

export const showCommand: CommandModule<object, ShowArgs> = {
  command: 'show <callid>',
  describe: 'Print a call as a ladder diagram (every message of the call and of its legs); exit 1 when none is found',
  builder: (y) =>
    commonOptions(y, '7d')
      .positional('callid', { type: 'string', demandOption: true, describe: 'the Call-ID' })
      .option('messages', { type: 'boolean', default: false, describe: 'print every message in full after the ladder' }),
  handler: (argv) => exitWith('show', () => runShow(argv)),
};

export const searchCommand: CommandModule<object, SearchArgs> = {
  command: 'search',
  describe: 'Search stored SIP messages (newest first)',
  builder: (y) =>
    commonOptions(y, '1h')
      .option('callid', { type: 'string', describe: 'Call-ID (also matches callid_aleg)' })
      .option('from', { type: 'string', describe: 'From user (* is a wildcard)' })
      .option('to', { type: 'string', describe: 'To user' })
      .option('ruri', { type: 'string', describe: 'R-URI user' })
      .option('method', { type: 'string', describe: 'method (INVITE) or reply code (486)' })
      .option('src-ip', { type: 'string', describe: 'source IP' })
      .option('dst-ip', { type: 'string', describe: 'destination IP' })
      .option('node', { type: 'string', describe: 'capture node (e.g. homer01:2001)' })
      .option('ua', { type: 'string', describe: 'part of the User-Agent' })
      .option('limit', { type: 'number', default: DEFAULT_SEARCH_LIMIT, describe: `messages at most (1-${MAX_SEARCH_LIMIT})` }),
  handler: (argv) => exitWith('search', () => runSearch(argv)),
};
