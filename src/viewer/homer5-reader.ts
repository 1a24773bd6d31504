/**
 * `CallReader` for the Homer 5 layout Kamailio's sipcapture writes: SIP rows in tables named by
 * the routes' strftime templates (daily `sip_capture_call_%Y%m%d` …, or a fixed `sip_capture`),
 * across every capture mode of one database, and rtcp_capture / report_capture / logs_capture.
 * Each query reads one table, is bounded by the time range (the `date` index, then micro_ts)
 * and a LIMIT, and the answers are merged here.
 */
import { formatRowDate, type DateTimeZone } from '../capture/sip-row.js';
import { quoteIdent, type SqlRow, type SqlRunner, type SqlValue } from './sql-runner.js';
import { SIDE_TABLES, tablePattern, tablesFor, type TablePattern } from './tables.js';
import {
  LIVE_WINDOW_US,
  MAX_CALL_MESSAGES,
  MAX_SEARCH_LIMIT,
  MAX_SEARCH_SPAN_US,
  type CallFlow,
  type CallMessage,
  type CallReader,
  type MessageSummary,
  type SearchQuery,
  type SearchResult,
  type SideRow,
  type TimeRange,
} from './types.js';

export interface Homer5ReaderOptions {
  runner: SqlRunner;
  /** SIP table templates writing into this database (tables.ts, sipTemplatesFor). */
  sipTemplates: readonly string[];
  /** This database holds rtcp_capture / report_capture / logs_capture (the default mode's). */
  sideTables: boolean;
  /** The `date` column's time zone (date_time_zone). */
  dateTimeZone: DateTimeZone;
  /** table_date_window_days: older packets were stored in the table of their arrival day. */
  tableDateWindowDays: number;
}

const SUMMARY_COLUMNS = [
  'id', 'micro_ts', 'method', 'reply_reason', 'cseq', 'callid', 'callid_aleg', 'from_user', 'to_user', 'ruri_user',
  'source_ip', 'source_port', 'destination_ip', 'destination_port', 'proto', 'node', 'user_agent',
];
const CALL_COLUMNS = [...SUMMARY_COLUMNS, 'via_1_branch', 'correlation_id', 'msg'];
const SIDE_COLUMNS = ['id', 'micro_ts', 'correlation_id', 'source_ip', 'source_port', 'destination_ip', 'destination_port', 'node', 'type', 'msg'];
/** The `date` column's margin around a range: it is rendered in a time zone (DST moves it by an hour). */
const DATE_MARGIN_US = 3_700_000_000;
/** Legs followed from the asked Call-ID at most (a B2BUA chain, not a crawl of the database). */
const MAX_LEGS = 16;
const TABLE_LIST_TTL_MS = 5000;

export class Homer5Reader implements CallReader {
  readonly schema = 'homer5' as const;
  private readonly patterns: TablePattern[];
  private tableCache: { at: number; names: Promise<string[]> } | null = null;

  constructor(private readonly opts: Homer5ReaderOptions) {
    this.patterns = opts.sipTemplates.map(tablePattern);
  }

  async search(q: SearchQuery): Promise<SearchResult> {
    checkRange(q);
    const limit = Math.max(1, Math.min(MAX_SEARCH_LIMIT, Math.floor(q.limit)));
    const where = this.rangeWhere(q);
    const like = (col: string, v: string): void => {
      where.sql.push(`${col} LIKE ? ESCAPE '!'`);
      where.params.push(likePattern(v));
    };
    const eq = (col: string, v: string | undefined): void => {
      if (v === undefined || v === '') return;
      if (v.includes('*')) return like(col, v);
      where.sql.push(`${col} = ?`);
      where.params.push(v);
    };
    if (q.callId !== undefined && q.callId !== '') {
      where.sql.push('(callid = ? OR callid_aleg = ?)');
      where.params.push(q.callId, q.callId);
    }
    eq('from_user', q.fromUser);
    eq('to_user', q.toUser);
    eq('ruri_user', q.ruriUser);
    eq('method', q.method);
    eq('source_ip', q.sourceIp);
    eq('destination_ip', q.destinationIp);
    eq('node', q.node);
    if (q.userAgent !== undefined && q.userAgent !== '') like('user_agent', `*${q.userAgent.replaceAll('*', '')}*`);
    const rows = await this.fromSipTables(q, SUMMARY_COLUMNS, where, 'DESC', limit + 1);
    const messages = rows.map(summaryOf).sort(newestFirst);
    return { messages: messages.slice(0, limit), truncated: messages.length > limit };
  }

  async callFlow(callId: string, range: TimeRange): Promise<CallFlow> {
    checkRange(range);
    const ids = new Set(relatedCallIds(callId));
    const seen = new Map<string, CallMessage>();
    // Two rounds: the call and its named legs, then the legs those rows name (callid_aleg / X-CID).
    for (let round = 0; round < 2; round++) {
      const list = [...ids].slice(0, MAX_LEGS);
      const where = this.rangeWhere(range);
      const marks = list.map(() => '?').join(', ');
      where.sql.push(`(callid IN (${marks}) OR callid_aleg IN (${marks}))`);
      where.params.push(...list, ...list);
      const rows = await this.fromSipTables(range, CALL_COLUMNS, where, 'ASC', MAX_CALL_MESSAGES + 1);
      for (const r of rows) {
        const m = callMessageOf(r);
        seen.set(`${m.table}\0${m.id}`, m);
      }
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
    const side = this.opts.sideTables && correlation.size > 0 ? await this.sideRows([...correlation].slice(0, MAX_LEGS * 2), range) : [];
    return { callId, callIds, messages: messages.slice(0, MAX_CALL_MESSAGES), side, truncated: messages.length > MAX_CALL_MESSAGES };
  }

  async latest(afterUs: number, limit: number): Promise<MessageSummary[]> {
    const nowUs = Date.now() * 1000;
    const range = { fromUs: Math.max(afterUs + 1, nowUs - LIVE_WINDOW_US), toUs: nowUs + 60_000_000 };
    if (range.fromUs > range.toUs) return [];
    return (await this.search({ ...range, limit })).messages;
  }

  close(): Promise<void> {
    return this.opts.runner.close();
  }

  private rangeWhere(range: TimeRange): { sql: string[]; params: SqlValue[] } {
    const zone = this.opts.dateTimeZone;
    const guard = this.opts.runner.guard;
    return {
      sql: ['date >= ?', 'date <= ?', 'micro_ts >= ?', 'micro_ts <= ?', ...(guard === null ? [] : [guard])],
      params: [formatRowDate(Math.max(0, range.fromUs - DATE_MARGIN_US), zone), formatRowDate(range.toUs + DATE_MARGIN_US, zone), range.fromUs, range.toUs],
    };
  }

  private async existingTables(): Promise<string[]> {
    const now = Date.now();
    if (this.tableCache === null || now - this.tableCache.at > TABLE_LIST_TTL_MS) {
      const names = this.opts.runner.tables();
      this.tableCache = { at: now, names };
      names.catch(() => (this.tableCache = null));
    }
    return this.tableCache.names;
  }

  /** Rows of every SIP table the range touches; each table gives at most `limit`. */
  private async fromSipTables(range: TimeRange, columns: readonly string[], where: { sql: string[]; params: SqlValue[] }, order: 'ASC' | 'DESC', limit: number): Promise<SqlRow[]> {
    const tables = tablesFor(this.patterns, await this.existingTables(), range, this.opts.tableDateWindowDays);
    if (order === 'DESC') tables.reverse();
    const out: SqlRow[] = [];
    for (const table of tables) {
      const rows = await this.opts.runner.query(
        `SELECT ${this.selectList(columns)} FROM ${quoteIdent(this.opts.runner.dialect, table)} WHERE ${where.sql.join(' AND ')} ORDER BY micro_ts ${order}, id ${order} LIMIT ${limit}`,
        where.params,
      );
      for (const r of rows) r['table'] = table;
      out.push(...rows);
    }
    return out;
  }

  private async sideRows(correlation: string[], range: TimeRange): Promise<SideRow[]> {
    const existing = new Set((await this.existingTables()).map((t) => t.toLowerCase()));
    const out: SideRow[] = [];
    for (const { name, kind } of SIDE_TABLES) {
      if (!existing.has(name)) continue;
      const where = this.rangeWhere(range);
      where.sql.push(`correlation_id IN (${correlation.map(() => '?').join(', ')})`);
      where.params.push(...correlation);
      const rows = await this.opts.runner.query(
        `SELECT ${this.selectList(SIDE_COLUMNS)} FROM ${quoteIdent(this.opts.runner.dialect, name)} WHERE ${where.sql.join(' AND ')} ORDER BY micro_ts, id LIMIT ${MAX_CALL_MESSAGES}`,
        where.params,
      );
      for (const r of rows) out.push(sideRowOf(r, kind, name));
    }
    return out.sort((a, b) => a.microTs - b.microTs);
  }

  /** The columns, with `date` as text on every backend (node-postgres would make it a local Date). */
  private selectList(columns: readonly string[]): string {
    const date = this.opts.runner.dialect === 'postgres' ? "to_char(date, 'YYYY-MM-DD HH24:MI:SS') AS date" : 'date';
    return [date, ...columns].join(', ');
  }
}

/** The Call-ID and the B2BUA convention's other leg: `X` ↔ `X_b2b-1`. */
export function relatedCallIds(callId: string): string[] {
  const suffix = '_b2b-1';
  return callId.endsWith(suffix) ? [callId, callId.slice(0, -suffix.length)] : [callId, callId + suffix];
}

function checkRange(r: TimeRange): void {
  if (!Number.isFinite(r.fromUs) || !Number.isFinite(r.toUs) || r.fromUs > r.toUs) throw new RangeError('the time range must have from ≤ to');
  if (r.toUs - r.fromUs > MAX_SEARCH_SPAN_US) throw new RangeError(`the time range spans more than ${MAX_SEARCH_SPAN_US / 86_400_000_000} days`);
}

/** `a*b` → `a%b`, the other LIKE characters escaped with `!`. */
export function likePattern(v: string): string {
  return v.replace(/[!%_]/g, '!$&').replaceAll('*', '%');
}

function newestFirst(a: MessageSummary, b: MessageSummary): number {
  return b.microTs - a.microTs || b.id - a.id;
}

/** Text of a column: BLOB / bytea arrive as bytes (a plain Uint8Array from the SQLite thread). */
const str = (v: unknown): string =>
  typeof v === 'string'
    ? v
    : typeof v === 'number' || typeof v === 'bigint'
      ? String(v)
      : v instanceof Uint8Array
        ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8')
        : '';
const num = (v: unknown): number => Number(v ?? 0);

function summaryOf(r: SqlRow): MessageSummary {
  return {
    table: str(r['table']),
    id: num(r['id']),
    microTs: num(r['micro_ts']),
    date: str(r['date']),
    method: str(r['method']),
    replyReason: str(r['reply_reason']),
    cseq: str(r['cseq']),
    callid: str(r['callid']),
    callidAleg: str(r['callid_aleg']),
    fromUser: str(r['from_user']),
    toUser: str(r['to_user']),
    ruriUser: str(r['ruri_user']),
    sourceIp: str(r['source_ip']),
    sourcePort: num(r['source_port']),
    destinationIp: str(r['destination_ip']),
    destinationPort: num(r['destination_port']),
    proto: num(r['proto']),
    node: str(r['node']),
    userAgent: str(r['user_agent']),
  };
}

function callMessageOf(r: SqlRow): CallMessage {
  return { ...summaryOf(r), via1Branch: str(r['via_1_branch']), correlationId: str(r['correlation_id']), msg: str(r['msg']) };
}

function sideRowOf(r: SqlRow, kind: SideRow['kind'], table: string): SideRow {
  return {
    kind,
    table,
    id: num(r['id']),
    microTs: num(r['micro_ts']),
    date: str(r['date']),
    correlationId: str(r['correlation_id']),
    sourceIp: str(r['source_ip']),
    sourcePort: num(r['source_port']),
    destinationIp: str(r['destination_ip']),
    destinationPort: num(r['destination_port']),
    node: str(r['node']),
    type: num(r['type']),
    msg: str(r['msg']),
  };
}
