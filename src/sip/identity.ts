/**
 * `pid_user`: P-Asserted-Identity, else P-Preferred-Identity, else
 * Remote-Party-ID, as sipcapture evaluates them:
 * 1. if there is a PAI header and ALL PAI headers parse, the user of the first identity of the
 *    first PAI header (a URI that fails to parse gives '' — no fall-through to PPI);
 * 2. otherwise the same with P-Preferred-Identity (Kamailio parses only its first two headers);
 * 3. otherwise the single Remote-Party-ID header, parsed as a name-addr;
 * 4. otherwise ''.
 */
import { COMMA, text } from './bytes.js';
import { HdrType } from './header-types.js';
import { parseNameAddr } from './name-addr.js';
import type { SipMessage } from './parser.js';
import { parseUri } from './uri.js';

const MAX_IDENTITIES = 10;

/**
 * parse_pai_ppi_body: a comma-separated list of name-addr/addr-spec. Returns the first
 * identity's URI range, or null when any identity fails.
 */
export function firstIdentityUri(buf: Buffer, start: number, end: number): [number, number] | null {
  let r = parseNameAddr(buf, start, end, true);
  if (!r.ok) return null;
  const first: [number, number] = [r.uriStart, r.uriEnd];
  let n = 1;
  let p = r.end;
  while (p < end && buf[p] === COMMA && n < MAX_IDENTITIES) {
    r = parseNameAddr(buf, p + 1, end, true);
    if (!r.ok) return null;
    n++;
    p = r.end;
  }
  return first;
}

function userOf(buf: Buffer, uri: [number, number]): string {
  const u = parseUri(buf, uri[0], uri[1]);
  return u === null ? '' : text(buf, u.userStart, u.userEnd);
}

function identityBody(msg: SipMessage, i: number): [number, number] | null {
  return firstIdentityUri(msg.buf, msg.headerBodyStart(i), msg.headerBodyEnd(i));
}

/** The `pid_user` column. */
export function pidUser(msg: SipMessage): string {
  const buf = msg.buf;
  const pai = msg.first(HdrType.PAI);
  if (pai >= 0) {
    let firstUri: [number, number] | null = null;
    let allOk = true;
    for (let j = pai; j >= 0; j = msg.nextOfType(j)) {
      const u = identityBody(msg, j);
      if (u === null) {
        allOk = false;
        break;
      }
      if (j === pai) firstUri = u;
    }
    if (allOk && firstUri !== null) return userOf(buf, firstUri);
  }
  const ppi = msg.first(HdrType.PPI);
  if (ppi >= 0) {
    const u = identityBody(msg, ppi);
    if (u !== null) {
      const second = msg.nextOfType(ppi);
      if (second < 0 || identityBody(msg, second) !== null) return userOf(buf, u);
    }
  }
  const rpid = msg.first(HdrType.RPID);
  if (rpid >= 0) {
    // parse_rpid_header parses body .. body+len+1 (the byte after the trimmed body, normally CR)
    const end = Math.min(buf.length, msg.headerBodyEnd(rpid) + 1);
    const r = parseNameAddr(buf, msg.headerBodyStart(rpid), end, false);
    if (r.ok) return userOf(buf, [r.uriStart, r.uriEnd]);
  }
  return '';
}
