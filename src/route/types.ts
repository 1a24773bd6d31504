/** What routing needs to know about a SIP message (the `$rm`, type and Event of Kamailio's script). */
export interface RouteFacts {
  /** 1 request, 2 reply. */
  type: 1 | 2;
  /** Request method; for replies the CSeq method (Kamailio's `$rm`). */
  method: string;
  /** Body of the Event header (compact `o` included), or '' when absent. */
  event: string;
}
