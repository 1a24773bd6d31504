/**
 * SIP message indexer.
 *
 * Clean-room implementation: this module and bytes.ts, uri.ts, name-addr.ts, contact.ts,
 * auth-user.ts and via.ts were written from the behavioural specification of Kamailio's
 * sipcapture (how it fills each column, observed on 5.6.3), RFC 3261's grammar, the golden
 * corpus (test/fixtures/golden) and the tests — not from the source code of Kamailio or any other SIP server.
 *
 * One pass over the bytes finds the first line and every header line (name, type, body range)
 * and keeps them as offsets in one flat array of small integers; text is decoded only when a
 * caller asks for a value. Behaviour:
 * - CR, LF, NUL, space and tab before the first line are skipped; at least 17 bytes must remain;
 * - the first line is `METHOD SP Request-URI SP SIP/2.0` or `SIP/2.0 SP 3DIGIT SP reason`;
 *   a request with another version is not SIP;
 * - a header name is made of `0-9 A-Z a-z - . _ + ~`, may be followed by blanks, then ':';
 *   well-known names and compact forms are typed case-insensitively (header-types.ts);
 * - a body starts after the colon and any LWS (folding included), runs to the line end that is
 *   not followed by a space or tab, and loses only trailing CR, LF and NUL;
 * - Via, To, CSeq, Content-Length and Retry-After bodies are checked while indexing;
 * - a bad header before Via, From, To, Call-ID and CSeq have all been seen rejects the message;
 *   a later one is recorded in `headerError` and ends the index; with `lenient`
 *   (capture_bad_msgs) bad headers are noted and indexing goes on;
 * - bare LF line ends are accepted everywhere.
 * parseSip() never throws: every input gives a message or a coded error.
 */
import { COLON, CR, HT, LF, NUL, SP, TOKEN_CHAR, eatLwsEnd, isDigit, lower, text, trimCrLfNulEnd } from './bytes.js';
import { HdrType, HDR_TYPE_COUNT, NAME_CHAR, headerTypeOf, type HdrTypeValue } from './header-types.js';
import { parseNameAddr, type NameAddr } from './name-addr.js';
import { parseVia } from './via.js';

export { HdrType } from './header-types.js';
export type { HdrTypeValue } from './header-types.js';

/** Stable reasons why a message is not a SIP message the capture accepts. */
export type SipErrorCode =
  /** Fewer than 17 bytes after the leading white space. */
  | 'too_short'
  /** The first line is neither `METHOD SP URI SP VERSION` nor `SIP/2.0 SP DDD SP reason`. */
  | 'bad_first_line'
  /** A request whose version is not SIP/2.0. */
  | 'not_sip'
  /** A header line that does not parse, before all required headers were seen. */
  | 'bad_header'
  /** Via, From, To, Call-ID or CSeq is missing. */
  | 'missing_required_header';

export interface SipParseError {
  code: SipErrorCode;
  message: string;
}

export type SipParseResult = { ok: true; message: SipMessage } | { ok: false; error: SipParseError };

/** 1 request, 2 reply (the `type` column). */
export type SipMessageType = 1 | 2;

/** Fields of one header record in SipMessage.hdrs. */
const H_TYPE = 0;
const H_NAME_START = 1;
const H_NAME_END = 2;
const H_BODY_START = 3;
const H_BODY_END = 4;
const H_NEXT = 5;
const STRIDE = 6;

const MIN_MESSAGE = 17;
const SIP_VERSION = 'sip/2.0';

/** A parsed SIP message: offsets into `buf`, text on demand. */
export class SipMessage {
  constructor(
    readonly buf: Buffer,
    readonly type: SipMessageType,
    /** Request method, or the reply status code. */
    readonly methodStart: number,
    readonly methodEnd: number,
    /** Request-URI (requests); empty range for replies. */
    readonly uriStart: number,
    readonly uriEnd: number,
    /** Reply reason phrase (replies); empty range for requests. */
    readonly reasonStart: number,
    readonly reasonEnd: number,
    /** @internal header records, STRIDE small ints each */
    readonly hdrs: number[],
    readonly headerCount: number,
    /** @internal index of the first header of each type, -1 if none */
    readonly firstIdx: number[],
    /**
     * Set when a header after the required ones does not parse: the message is accepted, but a
     * row needs every header to parse. Headers from the bad one on are not
     * indexed.
     */
    readonly headerError: string | null,
    /** The first To header, parsed while indexing. */
    readonly to: NameAddr,
    readonly cseqNumberStart: number,
    readonly cseqNumberEnd: number,
    readonly cseqMethodStart: number,
    readonly cseqMethodEnd: number,
    /** `branch` of the first via-parm of the first Via header, -1 if none. */
    readonly via1BranchStart: number,
    readonly via1BranchEnd: number,
  ) {}

  /**
   * A two-word Bloom filter of the indexed header names (length; first byte and length), built
   * on the first lookup by name: a row looks up ~13 names (rtp_stat list, custom fields, Reason,
   * X-OIP, callid_aleg) that are mostly absent, and each would otherwise scan every header.
   */
  private nameLenBits = 0;
  private nameKeyBits = 0;
  private nameBitsReady = false;

  private buildNameBits(): void {
    const hdrs = this.hdrs;
    let lenBits = 0;
    let keyBits = 0;
    for (let i = 0, r = 0; i < this.headerCount; i++, r += STRIDE) {
      const s = hdrs[r + H_NAME_START] as number;
      const len = (hdrs[r + H_NAME_END] as number) - s;
      lenBits |= 1 << (len & 31);
      keyBits |= 1 << (((this.buf[s] as number) + len) & 31);
    }
    this.nameLenBits = lenBits;
    this.nameKeyBits = keyBits;
    this.nameBitsReady = true;
  }

  get isRequest(): boolean {
    return this.type === 1;
  }

  /** Request method as written, or the reply status code text (the `method` column). */
  method(): string {
    return text(this.buf, this.methodStart, this.methodEnd);
  }

  /** Reply status code as a number (0 for requests). */
  statusCode(): number {
    if (this.type !== 2) return 0;
    let v = 0;
    for (let i = this.methodStart; i < this.methodEnd; i++) v = v * 10 + (this.buf[i] as number) - 0x30;
    return v;
  }

  /** Request-URI text ('' for replies). */
  ruri(): string {
    return text(this.buf, this.uriStart, this.uriEnd);
  }

  /** Reason phrase ('' for requests). */
  reason(): string {
    return text(this.buf, this.reasonStart, this.reasonEnd);
  }

  /** CSeq method (the routing method of replies). */
  cseqMethod(): string {
    return text(this.buf, this.cseqMethodStart, this.cseqMethodEnd);
  }

  headerType(i: number): HdrTypeValue {
    return (this.hdrs[i * STRIDE + H_TYPE] ?? HdrType.OTHER) as HdrTypeValue;
  }

  headerNameStart(i: number): number {
    return this.hdrs[i * STRIDE + H_NAME_START] ?? 0;
  }

  headerNameEnd(i: number): number {
    return this.hdrs[i * STRIDE + H_NAME_END] ?? 0;
  }

  headerBodyStart(i: number): number {
    return this.hdrs[i * STRIDE + H_BODY_START] ?? 0;
  }

  headerBodyEnd(i: number): number {
    return this.hdrs[i * STRIDE + H_BODY_END] ?? 0;
  }

  headerName(i: number): string {
    return text(this.buf, this.headerNameStart(i), this.headerNameEnd(i));
  }

  headerBody(i: number): string {
    return text(this.buf, this.headerBodyStart(i), this.headerBodyEnd(i));
  }

  /** Index of the first header of a well-known type, or -1. */
  first(type: HdrTypeValue): number {
    return this.firstIdx[type] ?? -1;
  }

  /** Index of the next header of the same type after `i`, or -1. */
  nextOfType(i: number): number {
    return this.hdrs[i * STRIDE + H_NEXT] ?? -1;
  }

  /** Body of the first header of a well-known type, or null. */
  firstBody(type: HdrTypeValue): string | null {
    const i = this.first(type);
    return i < 0 ? null : this.headerBody(i);
  }

  /**
   * Header lookup by name as sipcapture does it: the first header whose name has
   * the same length, the same FIRST byte (case-sensitive) and matches the rest ignoring ASCII
   * case. Returns the header index or -1.
   */
  lookupByName(name: string): number {
    const n = name.length;
    if (n === 0) return -1;
    for (let k = 0; k < n; k++) if (name.charCodeAt(k) >= 0x80) return this.lookupBytes(Buffer.from(name, 'utf8'));
    const buf = this.buf;
    const hdrs = this.hdrs;
    const c0 = name.charCodeAt(0);
    if (!this.nameBitsReady) this.buildNameBits();
    // No indexed header has this length, or this first byte with this length: absent.
    if ((this.nameLenBits & (1 << (n & 31))) === 0 || (this.nameKeyBits & (1 << ((c0 + n) & 31))) === 0) return -1;
    for (let i = 0, r = 0; i < this.headerCount; i++, r += STRIDE) {
      const s = hdrs[r + H_NAME_START] as number;
      if ((hdrs[r + H_NAME_END] as number) - s !== n || buf[s] !== c0) continue;
      let k = 1;
      while (k < n && lower(buf[s + k] as number) === lower(name.charCodeAt(k))) k++;
      if (k === n) return i;
    }
    return -1;
  }

  private lookupBytes(name: Buffer): number {
    const n = name.length;
    const buf = this.buf;
    for (let i = 0; i < this.headerCount; i++) {
      const s = this.headerNameStart(i);
      if (this.headerNameEnd(i) - s !== n || buf[s] !== name[0]) continue;
      let k = 1;
      while (k < n && lower(buf[s + k] as number) === lower(name[k] as number)) k++;
      if (k === n) return i;
    }
    return -1;
  }

  /** Body of the header found by lookupByName, or null. */
  bodyByName(name: string): string | null {
    const i = this.lookupByName(name);
    return i < 0 ? null : this.headerBody(i);
  }
}

function failure(code: SipErrorCode, message: string): SipParseResult {
  return { ok: false, error: { code, message } };
}

function startsWithIgnoreCase(buf: Buffer, p: number, end: number, word: string): boolean {
  if (end - p < word.length) return false;
  for (let i = 0; i < word.length; i++) if (lower(buf[p + i] as number) !== word.charCodeAt(i)) return false;
  return true;
}

/** Required headers: one bit each. */
const REQ_VIA = 1;
const REQ_FROM = 2;
const REQ_TO = 4;
const REQ_CALLID = 8;
const REQ_CSEQ = 16;
const REQ_ALL = 31;
const REQ_NAMES: readonly (readonly [number, string])[] = [
  [REQ_VIA, 'Via'],
  [REQ_FROM, 'From'],
  [REQ_TO, 'To'],
  [REQ_CALLID, 'Call-ID'],
  [REQ_CSEQ, 'CSeq'],
];

function requiredBit(type: HdrTypeValue): number {
  switch (type) {
    case HdrType.VIA:
      return REQ_VIA;
    case HdrType.FROM:
      return REQ_FROM;
    case HdrType.TO:
      return REQ_TO;
    case HdrType.CALLID:
      return REQ_CALLID;
    case HdrType.CSEQ:
      return REQ_CSEQ;
    default:
      return 0;
  }
}

const NO_NAME_ADDR: NameAddr = {
  ok: false,
  end: 0,
  uriStart: 0,
  uriEnd: 0,
  displayStart: 0,
  displayEnd: 0,
  tagStart: 0,
  tagEnd: 0,
};

/** CSeq body: 1*DIGIT LWS Method, then nothing but white space. Returns [ns, ne, ms, me] or null. */
function checkCSeq(buf: Buffer, s: number, e: number): [number, number, number, number] | null {
  const ns = eatLwsEnd(buf, s, e);
  let p = ns;
  while (p < e && isDigit(buf[p] as number)) p++;
  const ne = p;
  if (ne === ns) return null;
  p = eatLwsEnd(buf, p, e);
  if (p === ne) return null;
  const ms = p;
  while (p < e && TOKEN_CHAR[buf[p] as number] === 1) p++;
  const me = p;
  if (me === ms) return null;
  p = eatLwsEnd(buf, p, e);
  return p === e ? [ns, ne, ms, me] : null;
}

/** Content-Length body: 1*DIGIT with optional white space around it. */
function checkContentLength(buf: Buffer, s: number, e: number): boolean {
  let p = eatLwsEnd(buf, s, e);
  const ds = p;
  while (p < e && isDigit(buf[p] as number)) p++;
  if (p === ds) return false;
  return eatLwsEnd(buf, p, e) === e;
}

/** Retry-After body: delta-seconds [ comment ] *( SEMI param ) (RFC 3261 §20.33), loosely. */
function checkRetryAfter(buf: Buffer, s: number, e: number): boolean {
  let p = eatLwsEnd(buf, s, e);
  const ds = p;
  while (p < e && isDigit(buf[p] as number)) p++;
  if (p === ds) return false;
  p = eatLwsEnd(buf, p, e);
  if (p < e && buf[p] === 0x28) {
    let depth = 0;
    for (; p < e; p++) {
      const c = buf[p];
      if (c === 0x5c) p++;
      else if (c === 0x28) depth++;
      else if (c === 0x29 && --depth === 0) break;
    }
    if (p >= e) return false;
    p = eatLwsEnd(buf, p + 1, e);
  }
  while (p < e && buf[p] === 0x3b) {
    p = eatLwsEnd(buf, p + 1, e);
    const ns = p;
    while (p < e && TOKEN_CHAR[buf[p] as number] === 1) p++;
    if (p === ns) return false;
    p = eatLwsEnd(buf, p, e);
    if (p < e && buf[p] === 0x3d) {
      p = eatLwsEnd(buf, p + 1, e);
      const vs = p;
      while (p < e && TOKEN_CHAR[buf[p] as number] === 1) p++;
      if (p === vs) return false;
      p = eatLwsEnd(buf, p, e);
    }
  }
  return p === e;
}

/** Scratch for parseSip: index of the latest header of each type (parsing is synchronous). */
const LAST_OF_TYPE = new Int32Array(HDR_TYPE_COUNT);
/**
 * Scratch header records for parseSip, copied once at the end into an array of exactly the
 * right size: growing a fresh array by push() made ~1 KB of garbage per message.
 */
let HDRS_SCRATCH = new Array<number>(STRIDE * 64).fill(0);
const NO_FIRST: readonly number[] = new Array<number>(HDR_TYPE_COUNT).fill(-1);

export interface SipParseOptions {
  /**
   * capture_bad_msgs: a header whose body fails its check (Via, To, CSeq, Content-Length,
   * Retry-After) is indexed anyway and a line that is not a header is skipped; both are noted in
   * `headerError` and the message is kept, so the row can be stored with what did parse.
   */
  lenient?: boolean;
}

/** Parses (indexes) a SIP message. Never throws; the buffer is not modified or copied. */
export function parseSip(buf: Buffer, opts?: SipParseOptions): SipParseResult {
  const lenient = opts?.lenient === true;
  const n = buf.length;
  let p = 0;
  while (p < n) {
    const c = buf[p];
    if (c !== CR && c !== LF && c !== NUL && c !== SP && c !== HT) break;
    p++;
  }
  if (n - p < MIN_MESSAGE) return failure('too_short', `message too short (${n - p} bytes)`);

  // ---- first line
  const lf = buf.indexOf(LF, p);
  if (lf < 0) return failure('bad_first_line', 'first line has no line end');
  const lineEnd = lf > p && buf[lf - 1] === CR ? lf - 1 : lf;

  let type: SipMessageType;
  let methodStart: number;
  let methodEnd: number;
  let uriStart: number;
  let uriEnd: number;
  let reasonStart: number;
  let reasonEnd: number;
  if (startsWithIgnoreCase(buf, p, lineEnd, SIP_VERSION) && buf[p + 7] === SP) {
    // reply: SIP/2.0 SP 3DIGIT SP reason-phrase
    const code = p + 8;
    if (
      code + 4 > lineEnd ||
      !isDigit(buf[code] as number) ||
      !isDigit(buf[code + 1] as number) ||
      !isDigit(buf[code + 2] as number) ||
      buf[code + 3] !== SP
    ) {
      return failure('bad_first_line', 'bad status line');
    }
    type = 2;
    methodStart = code;
    methodEnd = code + 3;
    uriStart = uriEnd = methodEnd;
    reasonStart = code + 4;
    reasonEnd = lineEnd;
  } else {
    // request: Method SP Request-URI SP SIP-Version
    let q = p;
    while (q < lineEnd && TOKEN_CHAR[buf[q] as number] === 1) q++;
    if (q === p || q >= lineEnd || buf[q] !== SP) return failure('bad_first_line', 'bad request method');
    methodStart = p;
    methodEnd = q;
    uriStart = ++q;
    while (q < lineEnd && buf[q] !== SP) q++;
    if (q >= lineEnd) return failure('bad_first_line', 'request line without a version');
    uriEnd = q;
    const vs = q + 1;
    for (let k = vs; k < lineEnd; k++) {
      if (buf[k] === SP || buf[k] === HT) return failure('bad_first_line', 'extra text after the version');
    }
    if (vs === lineEnd) return failure('bad_first_line', 'empty version');
    if (lineEnd - vs !== SIP_VERSION.length || !startsWithIgnoreCase(buf, vs, lineEnd, SIP_VERSION)) {
      return failure('not_sip', `not a SIP request (version ${JSON.stringify(buf.toString('latin1', vs, Math.min(lineEnd, vs + 32)))})`);
    }
    type = 1;
    reasonStart = reasonEnd = lineEnd;
  }

  // ---- header lines
  let hdrs = HDRS_SCRATCH;
  const firstIdx: number[] = NO_FIRST.slice();
  const lastIdx = LAST_OF_TYPE.fill(-1);
  let count = 0;
  let seen = 0;
  let headerError: string | null = null;
  let to = NO_NAME_ADDR;
  let cseq: [number, number, number, number] | null = null;
  let branchStart = -1;
  let branchEnd = -1;
  p = lf + 1;

  while (p < n) {
    const c0 = buf[p];
    if (c0 === LF) break;
    if (c0 === CR && (p + 1 >= n || buf[p + 1] === LF)) break;

    let problem: string | null = null;
    /** The line is not a header at all (no name, no colon), as opposed to a header with a bad body. */
    let notHeader = false;
    const nameStart = p;
    let q = p;
    while (q < n && NAME_CHAR[buf[q] as number] === 1) q++;
    const nameEnd = q;
    while (q < n && (buf[q] === SP || buf[q] === HT)) q++;
    let bodyStart = 0;
    let bodyEnd = 0;
    let next = 0;
    let htype: HdrTypeValue = HdrType.OTHER;
    if (nameEnd === nameStart || q >= n || buf[q] !== COLON) {
      problem = 'invalid header name';
      notHeader = true;
    } else {
      bodyStart = eatLwsEnd(buf, q + 1, n);
      // the header ends at the first LF that is not followed by a space or tab
      let e = bodyStart;
      for (;;) {
        e = buf.indexOf(LF, e);
        if (e < 0) break;
        const after = e + 1 < n ? buf[e + 1] : -1;
        if (after !== SP && after !== HT) break;
        e++;
      }
      if (e < 0) {
        problem = 'header without line end';
        notHeader = true;
      } else {
        next = e + 1;
        bodyEnd = trimCrLfNulEnd(buf, bodyStart, e);
        htype = headerTypeOf(buf, nameStart, nameEnd);
        switch (htype) {
          case HdrType.VIA: {
            const v = parseVia(buf, bodyStart, next);
            if (!v.ok || v.end !== next) problem = 'bad Via header';
            else if (firstIdx[HdrType.VIA] === -1) {
              branchStart = v.branchStart;
              branchEnd = v.branchEnd;
            }
            break;
          }
          case HdrType.TO: {
            const t = parseNameAddr(buf, bodyStart, next, false);
            if (!t.ok || t.end !== next) problem = 'bad To header';
            else if (firstIdx[HdrType.TO] === -1) to = t;
            break;
          }
          case HdrType.CSEQ: {
            const r = checkCSeq(buf, bodyStart, bodyEnd);
            if (r === null) problem = 'bad CSeq header';
            else if (cseq === null) cseq = r;
            break;
          }
          case HdrType.CONTENT_LENGTH:
            if (!checkContentLength(buf, bodyStart, bodyEnd)) problem = 'bad Content-Length header';
            break;
          case HdrType.RETRY_AFTER:
            if (!checkRetryAfter(buf, bodyStart, bodyEnd)) problem = 'bad Retry-After header';
            break;
          default:
            break;
        }
      }
    }

    if (problem !== null) {
      const where = `${problem} at byte ${nameStart}`;
      if (lenient) {
        headerError ??= where;
        if (notHeader) {
          const skip = buf.indexOf(LF, p);
          if (skip < 0) break;
          p = skip + 1;
          continue;
        }
      } else {
        if ((seen & REQ_ALL) !== REQ_ALL) return failure('bad_header', where);
        headerError = where;
        break;
      }
    }

    const r = count * STRIDE;
    if (r + STRIDE > hdrs.length) HDRS_SCRATCH = hdrs = hdrs.concat(new Array<number>(hdrs.length).fill(0));
    hdrs[r + H_TYPE] = htype;
    hdrs[r + H_NAME_START] = nameStart;
    hdrs[r + H_NAME_END] = nameEnd;
    hdrs[r + H_BODY_START] = bodyStart;
    hdrs[r + H_BODY_END] = bodyEnd;
    hdrs[r + H_NEXT] = -1;
    const last = lastIdx[htype] as number;
    if (last < 0) firstIdx[htype] = count;
    else hdrs[last * STRIDE + H_NEXT] = count;
    lastIdx[htype] = count;
    seen |= requiredBit(htype);
    count++;
    p = next;
  }

  if ((seen & REQ_ALL) !== REQ_ALL) {
    const missing = REQ_NAMES.filter(([bit]) => (seen & bit) === 0).map(([, name]) => name);
    return failure('missing_required_header', `required headers not found: ${missing.join(', ')}`);
  }
  const cs = cseq ?? [0, 0, 0, 0];
  return {
    ok: true,
    message: new SipMessage(
      buf,
      type,
      methodStart,
      methodEnd,
      uriStart,
      uriEnd,
      reasonStart,
      reasonEnd,
      hdrs.slice(0, count * STRIDE),
      count,
      firstIdx,
      headerError,
      to,
      cs[0],
      cs[1],
      cs[2],
      cs[3],
      branchStart,
      branchEnd,
    ),
  };
}
