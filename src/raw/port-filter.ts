/**
 * `raw_socket_listen` on the capture path: `IP`, `IP:PORT` or `IP:PORT1-PORT2` (the forms and
 * their errors are config/listen.ts's), and the port filter it sets.
 *
 * What the IP part means:
 * - IPIP mode: the outer destination address must equal it (Kamailio binds the raw socket to
 *   it); `0.0.0.0`, `::` or an empty value accept any destination.
 * - Mirror mode and pcap import: ignored, as in Kamailio (the port range is the filter).
 */
import { ipToBytes } from '../net/address.js';
import { parseRawSocketListen, RAW_MIRROR_NEEDS_PORT } from '../config/listen.js';

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

/**
 * The capture path's view of `raw_socket_listen`, parsed by the one parser the configuration
 * is validated with (config/listen.ts), so both give the same answer and the same errors.
 * `requirePort` is true in mirror mode (Kamailio refuses to start without a port there).
 */
export function rawListenOf(value: string, requirePort: boolean): RawListen {
  const parsed = value === '' ? null : parseRawSocketListen(value);
  if (typeof parsed === 'string') throw new RawListenError(value, parsed);
  if (requirePort && (parsed === null || parsed.ports === null)) throw new RawListenError(value, RAW_MIRROR_NEEDS_PORT);
  if (parsed === null) return { ipText: '', ip: null, ipVersion: 0, port1: 0, port2: 0 };
  const bytes = ipToBytes(parsed.host);
  if (bytes === null) throw new RawListenError(value, `"${parsed.host}" is not an IP address`);
  return {
    ipText: parsed.host,
    ip: bytes.every((b) => b === 0) ? null : bytes,
    ipVersion: bytes.length === 4 ? 4 : 6,
    port1: parsed.ports?.min ?? 0,
    port2: parsed.ports?.max ?? 0,
  };
}

/** As Kamailio's raw loop: no ports configured, or the source or destination port in range. */
export function portsMatch(listen: RawListen, srcPort: number, dstPort: number): boolean {
  if (listen.port1 === 0) return true;
  return (srcPort >= listen.port1 && srcPort <= listen.port2) || (dstPort >= listen.port1 && dstPort <= listen.port2);
}

/** The port part as text for logs and filters: `5060`, `5060-5090` or `any`. */
export function portRangeText(listen: RawListen): string {
  if (listen.port1 === 0) return 'any';
  return listen.port1 === listen.port2 ? String(listen.port1) : `${listen.port1}-${listen.port2}`;
}
