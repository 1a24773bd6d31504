/** Turns a decoded HEP packet into the source-neutral CapturedMessage. */
import { kamailioProtoFromIpProto } from '../capture/message.js';
import type { CapturedMessage } from '../capture/message.js';
import type { HepPacket } from './types.js';

/**
 * `hepTime` is null when the packet has no timestamp (tsSec = 0: HEPv1, or v2/v3 without one):
 * Kamailio then uses the receive time and a `node` without `:captid`, even if a capture id
 * was sent. The payload stays a view into the packet buffer; `bytes`, the packet itself, is kept
 * for forwarding.
 */
export function hepToCapturedMessage(p: HepPacket, listener: string, receivedAtUs: number, bytes?: Buffer): CapturedMessage {
  const msg: CapturedMessage = {
    payload: p.payload,
    family: p.family,
    // Same mapping for every version (docs/kamailio-differences.md H8): 17 → UDP, 6 → TCP, 22 → TLS, 132 → SCTP, else 0.
    proto: kamailioProtoFromIpProto(p.ipProto),
    srcIp: p.srcIp,
    srcPort: p.srcPort,
    dstIp: p.dstIp,
    dstPort: p.dstPort,
    hepTime: p.tsSec === 0 ? null : { sec: p.tsSec, usec: p.tsUsec, captureId: p.captureId },
    correlationId: p.correlationId,
    protoType: p.protoType,
    receivedAtUs,
    source: 'hep',
    listener,
  };
  if (bytes !== undefined) msg.hep = bytes;
  return msg;
}
