/**
 * SIP over WebSocket (RFC 7118) inside a captured TCP stream: the HTTP Upgrade handshake, then
 * RFC 6455 frames, each SIP message in one WebSocket message (text or binary, possibly split
 * over continuation frames). Client frames are masked; the payload is unmasked into a copy.
 */
import { findHeaderEnd } from './sip-check.js';

export const WsOpcode = { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

/** Largest frame header: 2 bytes, 8 of extended length, 4 of mask key. */
const MAX_FRAME_HEADER = 14;

/**
 * True when buf[start, end) begins an HTTP request or response that upgrades to WebSocket (the
 * header block must be complete). `null`: not enough bytes to tell yet.
 */
export function isWebSocketHandshake(buf: Uint8Array, start: number, end: number): boolean | null {
  const head = Buffer.from(buf.buffer, buf.byteOffset + start, Math.min(end - start, 5)).toString('latin1');
  const http = 'HTTP/';
  const get = 'GET /';
  if (!http.startsWith(head.slice(0, 5)) && !get.startsWith(head.slice(0, 5))) return false;
  const headerEnd = findHeaderEnd(buf, start, end);
  if (headerEnd < 0) return end - start > 16 * 1024 ? false : null;
  return /\r?\nupgrade:\s*websocket/i.test(Buffer.from(buf.buffer, buf.byteOffset + start, headerEnd - start).toString('latin1'));
}

export interface WsFrame {
  fin: boolean;
  opcode: number;
  /** The unmasked payload (a copy when masked, else a view valid only during the call). */
  payload: Buffer;
  /** Offset after the frame. */
  end: number;
}

/** The frame at buf[pos, to), or null when it is not complete yet; 'bad' for an impossible length. */
export function readWsFrame(buf: Buffer, pos: number, to: number, maxPayload: number): WsFrame | null | 'bad' {
  if (to - pos < 2) return null;
  const b0 = buf[pos] as number;
  const b1 = buf[pos + 1] as number;
  let len = b1 & 0x7f;
  let p = pos + 2;
  if (len === 126) {
    if (to - p < 2) return null;
    len = buf.readUInt16BE(p);
    p += 2;
  } else if (len === 127) {
    if (to - p < 8) return null;
    const high = buf.readUInt32BE(p);
    if (high !== 0) return 'bad';
    len = buf.readUInt32BE(p + 4);
    p += 8;
  }
  if (len > maxPayload || p - pos > MAX_FRAME_HEADER) return 'bad';
  const masked = (b1 & 0x80) !== 0;
  const keyAt = p;
  if (masked) p += 4;
  if (to - p < len) return null;
  let payload = buf.subarray(p, p + len);
  if (masked) {
    payload = Buffer.from(payload);
    for (let i = 0; i < len; i++) payload[i] = (payload[i] as number) ^ (buf[keyAt + (i & 3)] as number);
  }
  return { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload, end: p + len };
}
