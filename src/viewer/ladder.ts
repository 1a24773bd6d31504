/**
 * A call flow as a ladder: one lane per IP:port (in order of first appearance), one arrow per
 * message in time order with its label (method, or status and reason), the time since the
 * previous message, and whether it repeats an earlier message byte for byte (a retransmission).
 * The browser draws it as SVG and ladder-text.ts as text, so both show the same thing.
 */
import type { CallMessage } from './types.js';

export interface LadderArrow {
  /** Index of the message in the flow's `messages`. */
  message: number;
  from: number;
  to: number;
  label: string;
  microTs: number;
  /** Time since the previous message, µs (0 for the first). */
  deltaUs: number;
  retransmission: boolean;
  /** The message's Call-ID is not the one asked for (another leg). */
  otherLeg: boolean;
}

export interface Ladder {
  lanes: string[];
  arrows: LadderArrow[];
}

export function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** `INVITE`, or `180 Ringing` for a reply (Homer 5 keeps the status code in `method`). */
export function arrowLabel(m: Pick<CallMessage, 'method' | 'replyReason'>): string {
  return /^\d{3}$/.test(m.method) ? `${m.method} ${m.replyReason}`.trim() : m.method;
}

export function buildLadder(callId: string, messages: readonly CallMessage[]): Ladder {
  const lanes: string[] = [];
  const laneOf = (name: string): number => {
    let i = lanes.indexOf(name);
    if (i < 0) i = lanes.push(name) - 1;
    return i;
  };
  const seen = new Set<string>();
  const arrows = messages.map((m, i): LadderArrow => {
    const from = laneOf(endpoint(m.sourceIp, m.sourcePort));
    const to = laneOf(endpoint(m.destinationIp, m.destinationPort));
    const key = `${from}>${to}\0${m.msg}`;
    const retransmission = seen.has(key);
    seen.add(key);
    return {
      message: i,
      from,
      to,
      label: arrowLabel(m),
      microTs: m.microTs,
      deltaUs: i === 0 ? 0 : m.microTs - messages[i - 1]!.microTs,
      retransmission,
      otherLeg: m.callid !== callId,
    };
  });
  return { lanes, arrows };
}
