/**
 * `raw_socket_listen` (spec §7.1): `IP`, `IP:PORT` or `IP:PORT1-PORT2`.
 *
 * Kamailio splits at the last `:` and then at the last `-`, reads ports with atoi and requires a
 * valid IP even where it is unused. We accept the same strings, plus `[IPv6]:PORT…` and a bare
 * IPv6 literal (which Kamailio mis-splits), and reject what atoi would silently turn into 0
 * (non-numeric ports, ports > 65535, PORT1 > PORT2) with a clear error.
 *
 * What the IP part means:
 * - IPIP mode: the outer destination address must equal it (Kamailio binds the raw socket to
 *   it); `0.0.0.0`, `::` or an empty value accept any destination.
 * - Mirror mode and pcap import: ignored, as in Kamailio (the port range is the filter).
 */
import { ipToBytes } from '../net/address.js';

export interface RawListen {
  /** The IP text as written ('' when the value was empty). */
  ipText: string;
  /** The address bytes (4 or 16), or null when empty or unspecified (0.0.0.0 / ::). */
  ip: Buffer | null;
  /** 4, 6, or 0 when no IP was given. */
  ipVersion: 0 | 4 | 6;
  /** First port of the range, 0 when no port was given (no port filter). */
  port1: number;
  /** Last port of the range (= port1 for a single port). */
  port2: number;
}

export class RawListenError extends Error {
  constructor(value: string, why: string) {
    super(`raw_socket_listen "${value}": ${why}`);
    this.name = 'RawListenError';
  }
}

function parsePort(value: string, text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new RawListenError(value, `bad ${what} "${text}" (expected 1-65535)`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new RawListenError(value, `bad ${what} ${port} (expected 1-65535)`);
  return port;
}

/**
 * Parses `raw_socket_listen`. `requirePort` is true in mirror mode (Kamailio refuses to start
 * without a port there).
 */
export function parseRawSocketListen(value: string, requirePort: boolean): RawListen {
  const text = value.trim();
  if (text === '') {
    if (requirePort) throw new RawListenError(value, 'port mirroring needs a port or port range (e.g. "10.0.0.0:5060-5090")');
    return { ipText: '', ip: null, ipVersion: 0, port1: 0, port2: 0 };
  }
  let ipText: string;
  let portText = '';
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new RawListenError(value, 'missing "]"');
    ipText = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new RawListenError(value, 'expected ":" after "]"');
      portText = rest.slice(1);
    }
  } else if (ipToBytes(text)?.length === 16) {
    ipText = text; // a bare IPv6 literal: no port
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) {
      ipText = text;
    } else {
      ipText = text.slice(0, colon);
      portText = text.slice(colon + 1);
    }
  }
  const bytes = ipToBytes(ipText);
  if (bytes === null) throw new RawListenError(value, `bad RAW IP "${ipText}"`);
  let port1 = 0;
  let port2 = 0;
  if (portText !== '') {
    const dash = portText.lastIndexOf('-');
    if (dash < 0) {
      port1 = parsePort(value, portText, 'port');
      port2 = port1;
    } else {
      port1 = parsePort(value, portText.slice(0, dash), 'first port');
      port2 = parsePort(value, portText.slice(dash + 1), 'last port');
      if (port1 > port2) throw new RawListenError(value, `bad port range ${port1}-${port2} (first > last)`);
    }
  } else if (requirePort) {
    throw new RawListenError(value, 'port mirroring needs a port or port range (e.g. "10.0.0.0:5060-5090")');
  }
  const unspecified = bytes.every((b) => b === 0);
  return {
    ipText,
    ip: unspecified ? null : bytes,
    ipVersion: bytes.length === 4 ? 4 : 6,
    port1,
    port2,
  };
}

/** Kamailio §7.4 step 6: no ports configured, or the source or destination port in range. */
export function portsMatch(listen: RawListen, srcPort: number, dstPort: number): boolean {
  if (listen.port1 === 0) return true;
  return (srcPort >= listen.port1 && srcPort <= listen.port2) || (dstPort >= listen.port1 && dstPort <= listen.port2);
}

/** The port part as text for logs and filters: `5060`, `5060-5090` or `any`. */
export function portRangeText(listen: RawListen): string {
  if (listen.port1 === 0) return 'any';
  return listen.port1 === listen.port2 ? String(listen.port1) : `${listen.port1}-${listen.port2}`;
}
