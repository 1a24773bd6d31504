/**
 * What every `CallReader` does the same whatever the tables: the range checks, the LIKE
 * patterns of a search, column values as text or numbers, the live window, the table list
 * cache, and following a call's legs (the `_b2b-1` convention and the A-leg Call-ID its rows
 * name) from one set of Call-IDs to the next.
 */
import type { SqlRunner, SqlValue } from './sql-runner.js';
import {
  LIVE_WINDOW_US,
  MAX_CALL_MESSAGES,
  MAX_SEARCH_LIMIT,
  MAX_SEARCH_SPAN_US,
  type CallFlow,
  type CallMessage,
  type MessageSummary,
  type SearchQuery,
  type SearchResult,
  type SideRow,
  type TimeRange,
} from './types.js';

/** Legs followed from the asked Call-ID at most (a B2BUA chain, not a crawl of the database). */
export const MAX_LEGS = 16;
const TABLE_LIST_TTL_MS = 5000;

/** The Call-ID and the B2BUA convention's other leg: `X` ↔ `X_b2b-1`. */
export function relatedCallIds(callId: string): string[] {
  const suffix = '_b2b-1';
  return callId.endsWith(suffix) ? [callId, callId.slice(0, -suffix.length)] : [callId, callId + suffix];
}

export function checkRange(r: TimeRange): void {
  if (!Number.isFinite(r.fromUs) || !Number.isFinite(r.toUs) || r.fromUs > r.toUs) throw new RangeError('the time range must have from ≤ to');
  if (r.toUs - r.fromUs > MAX_SEARCH_SPAN_US) throw new RangeError(`the time range spans more than ${MAX_SEARCH_SPAN_US / 86_400_000_000} days`);
}

/** `a*b` → `a%b`, the other LIKE characters escaped with `!`. */
function likePattern(v: string): string {
  return v.replace(/[!%_]/g, '!$&').replaceAll('*', '%');
}

function newestFirst(a: MessageSummary, b: MessageSummary): number {
  return b.microTs - a.microTs || b.id - a.id;
}

/** SQL conditions (joined with AND) and their `?` parameters. */
export interface Where {
  sql: string[];
  params: SqlValue[];
}

/** The SQL expression of each search field in a layout; `node` may map the asked value first. */
export interface SearchColumns {
  fromUser: string;
  toUser: string;
  ruriUser: string;
  method: string;
  sourceIp: string;
  destinationIp: string;
  node: string;
  userAgent: string;
  nodeValue?: (asked: string) => string;
}

/** The rows a search asks each table for: its limit, and one more to tell that more matched. */
export function searchLimit(q: SearchQuery): number {
  return Math.max(1, Math.min(MAX_SEARCH_LIMIT, Math.floor(q.limit)));
}

/**
 * A search's field filters, the same grammar for every layout: a value with `*` is a LIKE
 * pattern, any other an exact match, an empty one no filter; the User-Agent matches a part.
 * (The Call-ID is the reader's own: its columns differ by layout.)
 */
export function addSearchFilters(where: Where, q: SearchQuery, cols: SearchColumns): void {
  const like = (expr: string, v: string): void => {
    where.sql.push(`${expr} LIKE ? ESCAPE '!'`);
    where.params.push(likePattern(v));
  };
  const eq = (expr: string, v: string | undefined): void => {
    if (v === undefined || v === '') return;
    if (v.includes('*')) return like(expr, v);
    where.sql.push(`${expr} = ?`);
    where.params.push(v);
  };
  eq(cols.fromUser, q.fromUser);
  eq(cols.toUser, q.toUser);
  eq(cols.ruriUser, q.ruriUser);
  eq(cols.method, q.method);
  eq(cols.sourceIp, q.sourceIp);
  eq(cols.destinationIp, q.destinationIp);
  eq(cols.node, q.node === undefined || cols.nodeValue === undefined ? q.node : cols.nodeValue(q.node));
  if (q.userAgent !== undefined && q.userAgent !== '') like(cols.userAgent, `*${q.userAgent.replaceAll('*', '')}*`);
}

/** The newest `limit` of the tables' answers (each asked for limit + 1). */
export function searchResult(messages: MessageSummary[], limit: number): SearchResult {
  messages.sort(newestFirst);
  return { messages: messages.slice(0, limit), truncated: messages.length > limit };
}

/** Text of a column: BLOB / bytea arrive as bytes (a plain Uint8Array from the SQLite thread). */
export const str = (v: unknown): string =>
  typeof v === 'string'
    ? v
    : typeof v === 'number' || typeof v === 'bigint'
      ? String(v)
      : v instanceof Uint8Array
        ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8')
        : '';
export const num = (v: unknown): number => Number(v ?? 0);

/** The range `latest` reads: after `afterUs`, within the live window, up to a minute ahead (clocks). */
export function liveRange(afterUs: number): TimeRange | null {
  const nowUs = Date.now() * 1000;
  const range = { fromUs: Math.max(afterUs + 1, nowUs - LIVE_WINDOW_US), toUs: nowUs + 60_000_000 };
  return range.fromUs > range.toUs ? null : range;
}

/** The database's table names, listed at most every few seconds. */
export function cachedTableList(runner: SqlRunner): () => Promise<string[]> {
  let cache: { at: number; names: Promise<string[]> } | null = null;
  return () => {
    const now = Date.now();
    if (cache === null || now - cache.at > TABLE_LIST_TTL_MS) {
      const names = runner.tables();
      cache = { at: now, names };
      names.catch(() => (cache = null));
    }
    return cache.names;
  };
}

/**
 * A call flow: the messages of `callId` and of the legs tied to it. `fetch` returns the messages
 * whose Call-ID or A-leg Call-ID is one of `ids`; two rounds are made (the call and its named
 * legs, then the legs those rows name), and `side` gets the Call-IDs and correlation ids found.
 */
export async function gatherCallFlow(
  callId: string,
  fetch: (ids: string[]) => Promise<CallMessage[]>,
  side: (correlation: string[]) => Promise<SideRow[]>,
): Promise<CallFlow> {
  const ids = new Set(relatedCallIds(callId));
  const seen = new Map<string, CallMessage>();
  for (let round = 0; round < 2; round++) {
    for (const m of await fetch([...ids].slice(0, MAX_LEGS))) seen.set(`${m.table}\0${m.id}`, m);
    const before = ids.size;
    for (const m of seen.values()) {
      for (const id of [m.callid, m.callidAleg]) if (id !== '' && ids.size < MAX_LEGS) for (const x of relatedCallIds(id)) ids.add(x);
    }
    if (ids.size === before) break;
  }
  const messages = [...seen.values()].sort((a, b) => a.microTs - b.microTs || a.table.localeCompare(b.table) || a.id - b.id);
  const present = new Set(messages.map((m) => m.callid));
  const callIds = [callId, ...[...present].filter((id) => id !== callId)];
  const correlation = new Set([...present, ...messages.map((m) => m.correlationId).filter((c) => c !== '')]);
  const sideRows = correlation.size > 0 ? await side([...correlation].slice(0, MAX_LEGS * 2)) : [];
  return { callId, callIds, messages: messages.slice(0, MAX_CALL_MESSAGES), side: sideRows, truncated: messages.length > MAX_CALL_MESSAGES };
}
