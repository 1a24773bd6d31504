/**
 * `CallReader` for the HOMER 7 layout (docs/homer7.md): heplify-server's `hep_proto_*` tables,
 * partitioned by `create_date`, with the addresses in `protocol_header` and the SIP fields in
 * `data_header` (jsonb). SIP rows are in hep_proto_1_call / _registration / _default, keyed by
 * `sid` (the Call-ID); RTCP, reports and logs (hep_proto_5 / 35 / 100_default) by `sid` = the
 * correlation id. Each query reads one parent, bounded by `create_date` (so PostgreSQL prunes
 * the partitions outside the range) and a LIMIT; the answers are merged here.
 *
 * What a HOMER 7 row does not keep is left empty or rebuilt: the reply reason and the Via branch
 * are read from `raw`; `node` is the capture agent id only (the capture_node name is not stored);
 * the user fields, the User-Agent and `callid_aleg` are there only when `homer7_data_header`
 * names them.
 */
import { formatRowDate, type DateTimeZone } from '../capture/sip-row.js';
import { IP_PROTOCOL_OF_TRANSPORT } from '../store/homer7/row.js';
import { addSearchFilters, cachedTableList, checkRange, gatherCallFlow, liveRange, num, searchLimit, searchResult, str, type SearchColumns, type Where } from './reader-common.js';
import type { SqlRow, SqlRunner } from './sql-runner.js';
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

export interface Homer7ReaderOptions {
  /** A PostgreSQL runner: HOMER 7 tables exist only there. */
  runner: SqlRunner;
  /** The zone `date` is shown in (date_time_zone), as for Homer 5 rows. */
  dateTimeZone: DateTimeZone;
  /** The data_header keys written (homer7_data_header). */
  dataHeader: readonly string[];
}

const SIP_PARENTS = ['hep_proto_1_call', 'hep_proto_1_registration', 'hep_proto_1_default'] as const;
const SIDE_PARENTS = [
  { name: 'hep_proto_5_default', kind: 'rtcp' },
  { name: 'hep_proto_35_default', kind: 'report' },
  { name: 'hep_proto_100_default', kind: 'logs' },
] as const;

const TRANSPORT_OF_IP_PROTOCOL = new Map([...IP_PROTOCOL_OF_TRANSPORT].map(([transport, ip]) => [ip, transport]));

const ph = (k: string): string => `protocol_header->>'${k}'`;
const dh = (k: string): string => `data_header->>'${k}'`;
/** Columns every row gives: the time in µs (exact: create_date is the HEP time) and the addresses. */
const COMMON_SELECT = [
  'id',
  '(extract(epoch FROM create_date) * 1000000)::bigint AS micro_ts',
  'sid',
  `${ph('srcIp')} AS source_ip`,
  `${ph('srcPort')} AS source_port`,
  `${ph('dstIp')} AS destination_ip`,
  `${ph('dstPort')} AS destination_port`,
  `${ph('captureId')} AS node`,
  `${ph('correlation_id')} AS correlation_id`,
];
const SUMMARY_SELECT = [
  ...COMMON_SELECT,
  `${ph('protocol')} AS ip_protocol`,
  ...['method', 'cseq', 'callid', 'callid_aleg', 'from_user', 'to_user', 'ruri_user', 'user_agent'].map((k) => `${dh(k)} AS ${k}`),
  // A reply's reason phrase is not a data_header key: its status line has it.
  "substring(raw FROM '^SIP/2\\.0 [0-9]{3} ([^\\r\\n]*)') AS reply_reason",
].join(', ');
const CALL_SELECT = `${SUMMARY_SELECT}, raw`;
const SIDE_SELECT = [...COMMON_SELECT, `${ph('payloadType')} AS type`, 'raw'].join(', ');
const SEARCH_COLUMNS: SearchColumns = {
  fromUser: dh('from_user'),
  toUser: dh('to_user'),
  ruriUser: dh('ruri_user'),
  method: dh('method'),
  sourceIp: ph('srcIp'),
  destinationIp: ph('dstIp'),
  node: ph('captureId'),
  // The row keeps the capture agent id only: "homer01:2001" is looked up as "2001".
  nodeValue: (asked) => asked.slice(asked.lastIndexOf(':') + 1),
  userAgent: dh('user_agent'),
};

/** A µs count as a timestamptz, exactly (to_timestamp goes through a float of seconds). */
const AT_US = "(timestamptz '1970-01-01 00:00:00+00' + ?::bigint * interval '1 microsecond')";

export class Homer7Reader implements CallReader {
  readonly schema = 'homer7' as const;
  private readonly existingTables: () => Promise<string[]>;
  /** data_header has callid_aleg (homer7_data_header names it). */
  private readonly withAleg: boolean;

  constructor(private readonly opts: Homer7ReaderOptions) {
    if (opts.runner.dialect !== 'postgres') throw new Error('HOMER 7 tables are read from PostgreSQL only');
    this.existingTables = cachedTableList(opts.runner);
    this.withAleg = opts.dataHeader.includes('callid_aleg');
  }

  /**
   * The row is one of `ids` (`sid`) or names one as its A leg: correlation_id holds the X-CID
   * value when the HEP packet had no correlation id of its own, and is indexed; data_header's
   * callid_aleg is asked only when written, as heplify-server's indexes do not cover it (the
   * query then reads the range's partitions, still under the statement timeout).
   */
  private callIdWhere(where: Where, ids: readonly string[]): void {
    const marks = ids.map(() => '?').join(', ');
    const terms = [`sid IN (${marks})`, `${ph('correlation_id')} IN (${marks})`, ...(this.withAleg ? [`${dh('callid_aleg')} IN (${marks})`] : [])];
    where.sql.push(`(${terms.join(' OR ')})`);
    for (let i = 0; i < terms.length; i++) where.params.push(...ids);
  }

  async search(q: SearchQuery): Promise<SearchResult> {
    checkRange(q);
    const limit = searchLimit(q);
    const where = rangeWhere(q);
    if (q.callId !== undefined && q.callId !== '') this.callIdWhere(where, [q.callId]);
    addSearchFilters(where, q, SEARCH_COLUMNS);
    const rows = await this.fromParents(SIP_PARENTS, SUMMARY_SELECT, where, 'DESC', limit + 1);
    return searchResult(
      rows.map((r) => this.summaryOf(r)),
      limit,
    );
  }

  async callFlow(callId: string, range: TimeRange): Promise<CallFlow> {
    checkRange(range);
    return gatherCallFlow(
      callId,
      async (ids) => {
        const where = rangeWhere(range);
        this.callIdWhere(where, ids);
        return (await this.fromParents(SIP_PARENTS, CALL_SELECT, where, 'ASC', MAX_CALL_MESSAGES + 1)).map((r) => this.callMessageOf(r));
      },
      (correlation) => this.sideRows(correlation, range),
    );
  }

  async latest(afterUs: number, limit: number): Promise<MessageSummary[]> {
    const range = liveRange(afterUs);
    return range === null ? [] : (await this.search({ ...range, limit })).messages;
  }

  close(): Promise<void> {
    return this.opts.runner.close();
  }

  /** Rows of each existing parent; each gives at most `limit`. */
  private async fromParents(parents: readonly string[], select: string, where: Where, order: 'ASC' | 'DESC', limit: number): Promise<SqlRow[]> {
    const existing = new Set(await this.existingTables());
    const out: SqlRow[] = [];
    for (const parent of parents) {
      if (!existing.has(parent)) continue;
      const rows = await this.opts.runner.query(
        `SELECT ${select} FROM ${parent} WHERE ${where.sql.join(' AND ')} ORDER BY create_date ${order}, id ${order} LIMIT ${limit}`,
        where.params,
      );
      for (const r of rows) r['table'] = parent;
      out.push(...rows);
    }
    return out;
  }

  private async sideRows(correlation: string[], range: TimeRange): Promise<SideRow[]> {
    const out: SideRow[] = [];
    for (const { name, kind } of SIDE_PARENTS) {
      const where = rangeWhere(range);
      where.sql.push(`sid IN (${correlation.map(() => '?').join(', ')})`);
      where.params.push(...correlation);
      for (const r of await this.fromParents([name], SIDE_SELECT, where, 'ASC', MAX_CALL_MESSAGES)) {
        out.push({ kind, table: name, ...this.common(r), type: num(r['type']), msg: str(r['raw']) });
      }
    }
    return out.sort((a, b) => a.microTs - b.microTs);
  }

  private common(r: SqlRow): Pick<SideRow, 'id' | 'microTs' | 'date' | 'correlationId' | 'sourceIp' | 'sourcePort' | 'destinationIp' | 'destinationPort' | 'node'> {
    const microTs = num(r['micro_ts']);
    return {
      id: num(r['id']),
      microTs,
      date: formatRowDate(microTs, this.opts.dateTimeZone),
      correlationId: str(r['correlation_id']),
      sourceIp: str(r['source_ip']),
      sourcePort: num(r['source_port']),
      destinationIp: str(r['destination_ip']),
      destinationPort: num(r['destination_port']),
      node: str(r['node']),
    };
  }

  private summaryOf(r: SqlRow): MessageSummary {
    const { correlationId, ...common } = this.common(r);
    const callid = str(r['callid']) || str(r['sid']);
    const aleg = str(r['callid_aleg']);
    return {
      ...common,
      table: str(r['table']),
      method: str(r['method']),
      replyReason: str(r['reply_reason']),
      cseq: str(r['cseq']),
      callid,
      // Without callid_aleg in data_header, a correlation id other than the Call-ID names the A leg.
      callidAleg: aleg !== '' || correlationId === callid ? aleg : correlationId,
      fromUser: str(r['from_user']),
      toUser: str(r['to_user']),
      ruriUser: str(r['ruri_user']),
      proto: TRANSPORT_OF_IP_PROTOCOL.get(num(r['ip_protocol'])) ?? 0,
      userAgent: str(r['user_agent']),
    };
  }

  private callMessageOf(r: SqlRow): CallMessage {
    const msg = str(r['raw']);
    return {
      ...this.summaryOf(r),
      via1Branch: /^(?:Via|v)[ \t]*:[^\r\n]*?;[ \t]*branch=([^;,\s]+)/im.exec(msg)?.[1] ?? '',
      correlationId: str(r['correlation_id']),
      msg,
    };
  }
}

function rangeWhere(range: TimeRange): Where {
  return { sql: [`create_date >= ${AT_US}`, `create_date <= ${AT_US}`], params: [range.fromUs, range.toUs] };
}
