/**
 * The `auth_user` column (clean-room implementation, see parser.ts).
 *
 * The credentials come from the first Proxy-Authorization header, else the first Authorization
 * header. They are read as Digest credentials (RFC 3261 §25.1, RFC 2617 §3.2.2):
 *   "Digest" LWS digest-response *(COMMA digest-response)
 *   digest-response = token EQUAL ( quoted-string / token )
 * Any other scheme, a malformed list (missing '=', empty value, trailing comma, unterminated
 * quote) or a missing username gives ''. The username is then shortened:
 * - longer than 2 characters and containing '@': the part before the first '@';
 * - then, when what remains contains ':', the part after the first ':'.
 */
import { AT, COLON, COMMA, CR, DQUOTE, EQUAL, HT, LF, SP, TOKEN_CHAR, eatLwsEnd, equalsIgnoreCase, quotedStringEnd, text } from './bytes.js';
import { HdrType } from './header-types.js';
import type { SipMessage } from './parser.js';

function tokenEnd(buf: Buffer, p: number, end: number): number {
  while (p < end && TOKEN_CHAR[buf[p] as number] === 1) p++;
  return p;
}

/** True when buf[s, e) is `word` (lower-case ASCII) ignoring case. */
function isWord(buf: Buffer, s: number, e: number, word: string): boolean {
  return e - s === word.length && equalsIgnoreCase(buf, s, word);
}

/** Range of the Digest username in buf[start, end), or null. */
function digestUsername(buf: Buffer, start: number, end: number): [number, number] | null {
  let p = eatLwsEnd(buf, start, end);
  const schemeEnd = tokenEnd(buf, p, end);
  if (!isWord(buf, p, schemeEnd, 'digest')) return null;
  p = eatLwsEnd(buf, schemeEnd, end);
  if (p === schemeEnd) return null;
  let user: [number, number] | null = null;
  for (;;) {
    const ns = p;
    const ne = tokenEnd(buf, p, end);
    if (ne === ns) return null;
    p = eatLwsEnd(buf, ne, end);
    if (p >= end || buf[p] !== EQUAL) return null;
    p = eatLwsEnd(buf, p + 1, end);
    let vs: number;
    let ve: number;
    if (p < end && buf[p] === DQUOTE) {
      const q = quotedStringEnd(buf, p, end, true);
      if (q < 0) return null;
      vs = p + 1;
      ve = q - 1;
      p = q;
    } else {
      vs = p;
      while (p < end) {
        const c = buf[p] as number;
        if (c === SP || c === HT || c === CR || c === LF || c === COMMA || c === DQUOTE) break;
        p++;
      }
      ve = p;
      if (ve === vs) return null;
    }
    if (user === null && isWord(buf, ns, ne, 'username')) user = [vs, ve];
    p = eatLwsEnd(buf, p, end);
    if (p >= end) return user;
    if (buf[p] !== COMMA) return null;
    p = eatLwsEnd(buf, p + 1, end);
  }
}

/** The `auth_user` column. */
export function authUser(msg: SipMessage): string {
  let i = msg.first(HdrType.PROXY_AUTHORIZATION);
  if (i < 0) i = msg.first(HdrType.AUTHORIZATION);
  if (i < 0) return '';
  const buf = msg.buf;
  const u = digestUsername(buf, msg.headerBodyStart(i), msg.headerBodyEnd(i));
  if (u === null) return '';
  let [s, e] = u;
  if (e - s > 2) {
    for (let k = s; k < e; k++) {
      if (buf[k] === AT) {
        e = k;
        break;
      }
    }
  }
  for (let k = s; k < e; k++) {
    if (buf[k] === COLON) {
      s = k + 1;
      break;
    }
  }
  return text(buf, s, e);
}
