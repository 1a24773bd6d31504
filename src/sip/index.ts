/** SIP parsing for the capture row (spec §3.3). See parser.ts for the message index. */
export { parseSip, routeFactsOf, SipMessage } from './parser.js';
export type { SipErrorCode, SipMessageType, SipParseError, SipParseResult } from './parser.js';
export { HdrType, HDR_TYPE_COUNT, headerTypeOf } from './header-types.js';
export type { HdrTypeValue } from './header-types.js';
export { parseUri, UriType } from './uri.js';
export type { ParsedUri, UriTypeValue } from './uri.js';
export { parseNameAddr } from './name-addr.js';
export type { NameAddr } from './name-addr.js';
export { parseContactBody } from './contact.js';
export type { ContactResult } from './contact.js';
export { parseVia } from './via.js';
export type { ViaResult } from './via.js';
export { pidUser, firstIdentityUri } from './identity.js';
export { authUser } from './auth-user.js';
export {
  callidAleg,
  customField,
  originator,
  reasonHeader,
  rtpStat,
  splitCallidAlegHeaders,
  RTP_STAT_HEADERS,
  MAX_CALLID_ALEG_HEADERS,
} from './named-headers.js';
export type { Originator } from './named-headers.js';
export { crc16x25, topohAlphabet, topohCodec } from './topoh.js';
export type { TopohCodec } from './topoh.js';
