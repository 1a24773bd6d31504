/**
 * The one shape every input produces: a SIP (or other) payload plus where and when it was seen.
 * HEP decoding, raw IPIP/mirror capture and pcap import all end in a CapturedMessage, so the
 * row builder never needs to know where a message came from.
 */

/** Kamailio's transport enum, stored in the `proto` column (not the IP protocol number). */
export const KamailioProto = {
  NONE: 0,
  UDP: 1,
  TCP: 2,
  TLS: 3,
  SCTP: 4,
  WS: 5,
  WSS: 6,
  OTHER: 7,
} as const;
export type KamailioProtoValue = (typeof KamailioProto)[keyof typeof KamailioProto];

/** Maps an IP protocol number (HEP chunk 0x0002, v1/v2 header byte 3) to the Kamailio enum. */
export function kamailioProtoFromIpProto(ipProto: number): KamailioProtoValue {
  switch (ipProto) {
    case 17:
      return KamailioProto.UDP;
    case 6:
      return KamailioProto.TCP;
    case 22: // IPPROTO_IDP, used by HEP senders as a "TLS" marker
      return KamailioProto.TLS;
    case 132:
      return KamailioProto.SCTP;
    default:
      return KamailioProto.NONE;
  }
}

/** Capture time and agent carried by the encapsulation (HEP v2/v3 with tv_sec ≠ 0). */
export interface CaptureTime {
  /** Seconds since the epoch (never 0 here: 0 means "no timestamp", see CapturedMessage.hepTime). */
  sec: number;
  /** Microseconds; not range-checked (Kamailio lets ≥ 1e6 spill into the next second). */
  usec: number;
  /** Capture agent id (HEP3 chunk 0x000c, HEP2 capture id); 0 when absent. */
  captureId: number;
}

export type CaptureSource = 'hep' | 'ipip' | 'mirror' | 'pcap';

export interface CapturedMessage {
  /** The message exactly as captured. May be a view into a receive buffer: copy before keeping. */
  payload: Buffer;
  /** Address family of the source address: 2 (IPv4) or 10 (IPv6). */
  family: 2 | 10;
  /** Kamailio transport enum (see KamailioProto). */
  proto: KamailioProtoValue;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  /**
   * The encapsulation's timestamp, or null when there is none (HEPv1, HEP tv_sec = 0, raw capture
   * without a kernel timestamp). null makes the row use receivedAtUs and `node` = capture_node alone.
   */
  hepTime: CaptureTime | null;
  /** HEP3 chunk 0x0011 (by chunk length, not C-string), or null. */
  correlationId: string | null;
  /** HEP protocol type (chunk 0x000b); 1 (SIP) for v1/v2 and raw capture. */
  protoType: number;
  /** Wall-clock receive time in microseconds since the epoch. */
  receivedAtUs: number;
  source: CaptureSource;
  /** The HEP packet as received (a view, like payload), for forwarding byte for byte; absent for raw capture. */
  hep?: Buffer;
  /** Listener name (e.g. `udp:127.0.0.1:9060`) for metrics and logs. */
  listener: string;
}

/** Where every input (HEP listener, raw capture, pcap import) hands its messages. */
export interface MessageSink {
  /** Takes ownership of the message for this call only: copy `payload` before keeping it. */
  accept(msg: CapturedMessage): void;
}
