/**
 * What routing reads from a SIP message: the `$rm`, type, Event and `has_totag()` of Kamailio's script. Taken
 * from the parsed message here, so the SIP parser knows nothing about routing.
 */
import { HdrType } from '../sip/header-types.js';
import type { SipMessage } from '../sip/parser.js';

export interface RouteFacts {
  /** 1 request, 2 reply. */
  type: 1 | 2;
  /** Request method; for replies the CSeq method (Kamailio's `$rm`). */
  method: string;
  /** Body of the Event header (compact `o` included), or '' when absent. */
  event: string;
  /** The first To header has a non-empty tag (Kamailio's `has_totag()`): an in-dialog message. */
  hasToTag: boolean;
}

/** What routing needs (`$rm`, request/reply, Event body, To tag). */
export function routeFactsOf(msg: SipMessage): RouteFacts {
  return {
    type: msg.type,
    method: msg.type === 1 ? msg.method() : msg.cseqMethod(),
    event: msg.firstBody(HdrType.EVENT) ?? '',
    hasToTag: msg.to.tagEnd > msg.to.tagStart,
  };
}
