/**
 * `CallReader` for the Homer 5 layout Kamailio's sipcapture writes: SIP rows in tables named by
 * the routes' strftime templates (daily `sip_capture_call_%Y%m%d` …, or a fixed `sip_capture`),
 * across every capture mode of one database, and rtcp_capture / report_capture / logs_capture.
 * Each query reads one table, is bounded by the time range (the `date` index, then micro_ts)
 * and a LIMIT, and the answers are merged here.
 */
import { formatRowDate, type DateTimeZone } from '../capture/sip-row.js';
import { quoteIdent, type SqlRow, type SqlRunner } from './sql-runner.js';
import { SIDE_TABLES, tablePattern, tablesFor, type TablePattern } from './tables.js';
import { addSearchFilters, cachedTableList, checkRange, gatherCallFlow, liveRange, num, searchLimit, searchResult, str, type SearchColumns, type Where } from './reader-common.js';
import {
  MAX_CALL_MESSAGES,
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
const SEARCH_COLUMNS: SearchColumns = {
  fromUser: 'from_user',
  toUser: 'to_user',
  ruriUser: 'ruri_user',
  method: 'method',
  sourceIp: 'source_ip',
  destinationIp: 'destination_ip',
  node: 'node',
  userAgent: 'user_agent',
};
const SIDE_COLUMNS = ['id', 'micro_ts', 'correlation_id', 'source_ip', 'source_port', 'destination_ip', 'destination_port', 'node', 'type', 'msg'];
/** The `date` column's margin around a range: it is rendered in a time zone (DST moves it by an hour). */
const DATE_MARGIN_US = 3_700_000_000;

export class Homer5Reader implements CallReader {
  readonly schema = 'homer5' as const;
  private readonly patterns: TablePattern[];
  private readonly existingTables: () => Promise<string[]>;

  constructor(private readonly opts: Homer5ReaderOptions) {
    this.patterns = opts.sipTemplates.map(tablePattern);
    this.existingTables = cachedTableList(opts.runner);
  }

  async search(q: SearchQuery): Promise<SearchResult> {
    checkRange(q);
    const limit = searchLimit(q);
    const where = this.rangeWhere(q);
    if (q.callId !== undefined && q.callId !== '') {
      where.sql.push('(callid = ? OR callid_aleg = ?)');
      where.params.push(q.callId, q.callId);
    }
    addSearchFilters(where, q, SEARCH_COLUMNS);
    const rows = await this.fromSipTables(q, SUMMARY_COLUMNS, where, 'DESC', limit + 1);
    return searchResult(rows.map(summaryOf), limit);
  }

  async callFlow(callId: string, range: TimeRange): Promise<CallFlow> {
    checkRange(range);
    return gatherCallFlow(
      callId,
      async (ids) => {
        const where = this.rangeWhere(range);
        const marks = ids.map(() => '?').join(', ');
        where.sql.push(`(callid IN (${marks}) OR callid_aleg IN (${marks}))`);
        where.params.push(...ids, ...ids);
        return (await this.fromSipTables(range, CALL_COLUMNS, where, 'ASC', MAX_CALL_MESSAGES + 1)).map(callMessageOf);
      },
      (correlation) => (this.opts.sideTables ? this.sideRows(correlation, range) : Promise.resolve([])),
    );
  }

  async latest(afterUs: number, limit: number): Promise<MessageSummary[]> {
    const range = liveRange(afterUs);
    return range === null ? [] : (await this.search({ ...range, limit })).messages;
  }

  close(): Promise<void> {
    return this.opts.runner.close();
  }

  private rangeWhere(range: TimeRange): Where {
    const zone = this.opts.dateTimeZone;
    const guard = this.opts.runner.guard;
    return {
      sql: ['date >= ?', 'date <= ?', 'micro_ts >= ?', 'micro_ts <= ?', ...(guard === null ? [] : [guard])],
      params: [formatRowDate(Math.max(0, range.fromUs - DATE_MARGIN_US), zone), formatRowDate(range.toUs + DATE_MARGIN_US, zone), range.fromUs, range.toUs],
    };
  }

  /** Rows of every SIP table the range touches; each table gives at most `limit`. */
  private async fromSipTables(range: TimeRange, columns: readonly string[], where: Where, order: 'ASC' | 'DESC', limit: number): Promise<SqlRow[]> {
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
