/**
 * Builds the 44-column `sip_capture` row from a captured message and its parsed SIP, in the
 * order and with the failure rules of Kamailio's sip_capture():
 * headers → R-URI → From → To → Call-ID → identities → Authorization → Contact → the rest.
 * Deliberate differences from Kamailio 5.6.3 are marked "Difference:" below.
 */
import { authUser } from '../sip/auth-user.js';
import { text } from '../sip/bytes.js';
import { parseContactBody } from '../sip/contact.js';
import { HdrType } from '../sip/header-types.js';
import { pidUser } from '../sip/identity.js';
import { parseNameAddr } from '../sip/name-addr.js';
import { callidAleg, customField, originator, reasonHeader, rtpStat } from '../sip/named-headers.js';
import type { SipMessage } from '../sip/parser.js';
import { topohCodec } from '../sip/topoh.js';
import { parseUri } from '../sip/uri.js';
import type { SipcaptureConfig } from '../config/types.js';
import type { CapturedMessage } from './message.js';
import type { SipCaptureRow } from './rows.js';

export type DateTimeZone = 'UTC' | 'local';

export interface SipRowOptions {
  /** `capture_node` (Kamailio default `homer01`). */
  captureNode: string;
  /** `callid_aleg_header` already split on ';' (no trimming, empties dropped, ≤ 16 names). */
  callidAlegHeaders: readonly string[];
  /** custom_field1..3_header (Kamailio defaults `Mac`, `IP`, `Port`); '' disables a field. */
  customFieldHeaders: readonly [string, string, string];
  /** topoh mask_key and callid_prefix when topoh_unmask=1, else null. */
  topoh: { key: string; prefix: string } | null;
  /** capture_bad_msgs: keep rows whose headers after the required ones, From, To or Contact are bad. */
  captureBadMsgs: boolean;
  /** Zone the `date` column is rendered in. */
  dateTimeZone: DateTimeZone;
}

/** Stable reasons for not building a row (Kamailio's sip_capture returns -1). */
/** The row options of a configuration (what a reload of the row keys changes). */
export function rowOptionsFrom(cfg: SipcaptureConfig): SipRowOptions {
  return {
    captureNode: cfg.capture_node,
    callidAlegHeaders: cfg.callid_aleg_header.split(';').filter((h) => h !== '').slice(0, 16),
    customFieldHeaders: [cfg.custom_field1_header, cfg.custom_field2_header, cfg.custom_field3_header],
    topoh: cfg.topoh_unmask === 1 ? { key: cfg.topoh_mask_key, prefix: cfg.topoh_callid_prefix } : null,
    captureBadMsgs: cfg.capture_bad_msgs !== 0,
    dateTimeZone: cfg.date_time_zone,
  };
}

export type SipRowRejectReason = 'bad_headers' | 'bad_ruri' | 'bad_from' | 'bad_to' | 'bad_contact';

export type SipRowResult =
  | { ok: true; row: SipCaptureRow }
  | { ok: false; reason: SipRowRejectReason; message: string };

/** Kamailio's `node` buffer is 100 bytes (snprintf): at most 99 bytes of text. */
const NODE_MAX_BYTES = 99;

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

// Rows arrive in time order: remember the last rendered second.
let lastDateSec = Number.NaN;
let lastDateZone: DateTimeZone = 'UTC';
let lastDateText = '';

/** `YYYY-MM-DD HH:MM:SS` of floor(microTs / 1e6) in UTC or the process's local zone. */
export function formatRowDate(microTs: number, zone: DateTimeZone): string {
  const sec = Math.floor(microTs / 1e6);
  if (sec === lastDateSec && zone === lastDateZone) return lastDateText;
  const text = renderDate(sec, zone);
  lastDateSec = sec;
  lastDateZone = zone;
  lastDateText = text;
  return text;
}

function renderDate(sec: number, zone: DateTimeZone): string {
  const d = new Date(sec * 1000);
  if (Number.isNaN(d.getTime())) return '1970-01-01 00:00:00';
  const utc = zone === 'UTC';
  const y = utc ? d.getUTCFullYear() : d.getFullYear();
  const mo = (utc ? d.getUTCMonth() : d.getMonth()) + 1;
  const da = utc ? d.getUTCDate() : d.getDate();
  const h = utc ? d.getUTCHours() : d.getHours();
  const mi = utc ? d.getUTCMinutes() : d.getMinutes();
  const s = utc ? d.getUTCSeconds() : d.getSeconds();
  const ys = y >= 0 && y < 10000 ? String(y).padStart(4, '0') : String(y);
  return `${ys}-${pad2(mo)}-${pad2(da)} ${pad2(h)}:${pad2(mi)}:${pad2(s)}`;
}

function nodeText(captureNode: string, captureId: number | null): string {
  const node = captureId === null ? captureNode : `${captureNode}:${captureId}`;
  if (node.length <= NODE_MAX_BYTES / 3) return node;
  const bytes = Buffer.from(node, 'utf8');
  return bytes.length <= NODE_MAX_BYTES ? node : bytes.subarray(0, NODE_MAX_BYTES).toString('utf8');
}

function reject(reason: SipRowRejectReason, message: string): SipRowResult {
  return { ok: false, reason, message };
}

function bodyOf(msg: SipMessage, type: (typeof HdrType)[keyof typeof HdrType]): string {
  return msg.firstBody(type) ?? '';
}

/** Fills all 44 columns. Never throws; never modifies `msg.payload` (the row gets a copy). */
export function buildSipRow(msg: CapturedMessage, parsed: SipMessage, opts: SipRowOptions): SipRowResult {
  const buf = parsed.buf;
  const bad = opts.captureBadMsgs;

  // 1. all headers (sip_capture_prepare)
  if (parsed.headerError !== null && !bad) return reject('bad_headers', `cannot parse headers: ${parsed.headerError}`);

  // 2. R-URI. Difference: Kamailio drops a bad one even with capture_bad_msgs; we keep the
  // message with the URI's user and domain empty, as for every other unparseable column.
  let ruri = '';
  let ruriUser = '';
  let ruriDomain = '';
  if (parsed.type === 1) {
    const u = parseUri(buf, parsed.uriStart, parsed.uriEnd);
    if (u === null && !bad) return reject('bad_ruri', `bad Request-URI: ${JSON.stringify(parsed.ruri())}`);
    ruri = parsed.ruri();
    if (u !== null) {
      ruriUser = text(buf, u.userStart, u.userEnd);
      ruriDomain = text(buf, u.hostStart, u.hostEnd);
    }
  }

  // 3. From: body (parse_from_header reads one byte past the trimmed body), then the URI
  let fromUser = '';
  let fromDomain = '';
  let fromTag = '';
  const fi = parsed.first(HdrType.FROM);
  if (fi >= 0) {
    const fe = Math.min(buf.length, parsed.headerBodyEnd(fi) + 1);
    const f = parseNameAddr(buf, parsed.headerBodyStart(fi), fe, false);
    if (!f.ok) {
      if (!bad) return reject('bad_from', `bad or missing From header: ${JSON.stringify(parsed.headerBody(fi))}`);
    } else {
      const u = parseUri(buf, f.uriStart, f.uriEnd);
      if (u === null) {
        if (!bad) return reject('bad_from', `bad From URI: ${JSON.stringify(text(buf, f.uriStart, f.uriEnd))}`);
      } else {
        fromUser = text(buf, u.userStart, u.userEnd);
        fromDomain = text(buf, u.hostStart, u.hostEnd);
      }
      fromTag = text(buf, f.tagStart, f.tagEnd);
    }
  }

  // 4. To (its body was parsed while indexing the headers)
  let toUser = '';
  let toDomain = '';
  const to = parsed.to;
  const tu = parseUri(buf, to.uriStart, to.uriEnd);
  if (tu === null) {
    if (!bad) return reject('bad_to', `bad To URI: ${JSON.stringify(text(buf, to.uriStart, to.uriEnd))}`);
  } else {
    toUser = text(buf, tu.userStart, tu.userEnd);
    toDomain = text(buf, tu.hostStart, tu.hostEnd);
  }
  const toTag = text(buf, to.tagStart, to.tagEnd);

  // 5. Call-ID (required, so always present)
  let callid = bodyOf(parsed, HdrType.CALLID);

  // 6. identities, 7. credentials
  const pid = pidUser(parsed);
  const auth = authUser(parsed);

  // 8. Contact: the last contact of the first Contact header
  let contactUser = '';
  let contactIp = '';
  let contactPort = 0;
  const ci = parsed.first(HdrType.CONTACT);
  if (ci >= 0) {
    const c = parseContactBody(buf, parsed.headerBodyStart(ci), parsed.headerBodyEnd(ci));
    if (!c.ok) {
      if (!bad) return reject('bad_contact', `error while parsing Contact header: ${JSON.stringify(parsed.headerBody(ci))}`);
    } else if (c.star) {
      contactUser = '*';
    } else {
      const u = parseUri(buf, c.uriStart, c.uriEnd);
      if (u === null) {
        if (!bad) return reject('bad_contact', `bad Contact URI: ${JSON.stringify(text(buf, c.uriStart, c.uriEnd))}`);
      } else {
        contactUser = text(buf, u.userStart, u.userEnd);
        contactIp = text(buf, u.hostStart, u.hostEnd);
        contactPort = u.port;
      }
    }
  }

  const oip = originator(parsed);
  const [cf1, cf2, cf3] = opts.customFieldHeaders;

  // topoh: the unmasked Call-ID replaces callid before correlation_id defaults to it.
  // Difference: 5.6.3 stores an empty Call-ID when topoh's mask_callid is 0; we decode anyway.
  // An empty key cannot build an alphabet (Kamailio divides by the key length): no unmasking.
  if (opts.topoh !== null && opts.topoh.key !== '') {
    const cid = parsed.first(HdrType.CALLID);
    const decoded = topohCodec(opts.topoh.key, opts.topoh.prefix).unmask(
      buf.subarray(parsed.headerBodyStart(cid), parsed.headerBodyEnd(cid)),
    );
    if (decoded !== null) callid = decoded.toString('utf8');
  }

  const t = msg.hepTime;
  const microTs = t !== null ? t.sec * 1e6 + t.usec : msg.receivedAtUs;

  const row: SipCaptureRow = {
    date: formatRowDate(microTs, opts.dateTimeZone),
    micro_ts: microTs,
    method: parsed.method(),
    reply_reason: parsed.type === 2 ? parsed.reason() : '',
    ruri,
    ruri_user: ruriUser,
    ruri_domain: ruriDomain,
    from_user: fromUser,
    from_domain: fromDomain,
    from_tag: fromTag,
    to_user: toUser,
    to_domain: toDomain,
    to_tag: toTag,
    pid_user: pid,
    contact_user: contactUser,
    auth_user: auth,
    callid,
    callid_aleg: callidAleg(parsed, opts.callidAlegHeaders),
    via_1: bodyOf(parsed, HdrType.VIA),
    via_1_branch: parsed.via1BranchStart >= 0 ? text(buf, parsed.via1BranchStart, parsed.via1BranchEnd) : '',
    cseq: bodyOf(parsed, HdrType.CSEQ),
    diversion: bodyOf(parsed, HdrType.DIVERSION),
    reason: reasonHeader(parsed),
    content_type: bodyOf(parsed, HdrType.CONTENT_TYPE),
    // Kamailio never fills it
    auth: '',
    user_agent: bodyOf(parsed, HdrType.USER_AGENT),
    source_ip: msg.srcIp,
    source_port: msg.srcPort,
    destination_ip: msg.dstIp,
    destination_port: msg.dstPort,
    contact_ip: contactIp,
    contact_port: contactPort,
    originator_ip: oip.ip,
    originator_port: oip.port,
    correlation_id: msg.correlationId ?? callid,
    custom_field1: customField(parsed, cf1),
    custom_field2: customField(parsed, cf2),
    custom_field3: customField(parsed, cf3),
    proto: msg.proto,
    family: msg.family,
    rtp_stat: rtpStat(parsed),
    type: parsed.type,
    node: nodeText(opts.captureNode, t !== null ? t.captureId : null),
    // the payload unchanged (Difference: Kamailio's X-OIP code may have written a NUL into it),
    // copied because the input may be a view into a reused receive buffer
    msg: Buffer.from(msg.payload),
  };
  return { ok: true, row };
}

export type HashSourceName = 'call_id' | 'from_user' | 'to_user';

function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * The string hash_source hashes: for `call_id` the stored Call-ID with leading
 * whitespace skipped and cut at the first whitespace (C isspace), else the user part as stored.
 * An empty result means Kamailio would log "hashing failed" and store nothing.
 */
export function hashSourceString(row: Pick<SipCaptureRow, 'callid' | 'from_user' | 'to_user'>, source: HashSourceName): string {
  if (source === 'from_user') return row.from_user;
  if (source === 'to_user') return row.to_user;
  const v = row.callid;
  let s = 0;
  while (s < v.length && isCSpace(v.charCodeAt(s))) s++;
  let e = s;
  while (e < v.length && !isCSpace(v.charCodeAt(e))) e++;
  return s === 0 && e === v.length ? v : v.slice(s, e);
}

/** Hash sources of a row for the table selector (computed only for the source asked for). */
export function hashSourcesOf(row: Pick<SipCaptureRow, 'callid' | 'from_user' | 'to_user'>): (source: HashSourceName) => string {
  return (source) => hashSourceString(row, source);
}
