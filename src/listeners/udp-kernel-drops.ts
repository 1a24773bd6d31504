/**
 * Datagrams the kernel dropped on a UDP socket because its receive buffer was full — the one loss
 * that happens before sipcapture sees a packet. Node's dgram has no SO_RXQ_OVFL, so we read the
 * `drops` column of /proc/net/udp (udp6) for the socket's local address and port. Linux only;
 * elsewhere (or when /proc is not mounted) the count is unknown (null), never a guess.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { ipToBytes } from '../net/address.js';

/**
 * The local-address column of /proc/net/udp{,6} for `host`:`port`: the address as 32-bit words
 * printed in the host's byte order (so 127.0.0.1 is `0100007F` on x86), then the port in hex.
 */
export function procNetAddress(host: string, port: number, littleEndian = os.endianness() === 'LE'): string | null {
  const bytes = ipToBytes(host);
  if (bytes === null) return null;
  let hex = '';
  for (let w = 0; w < bytes.length; w += 4) {
    const word = littleEndian ? [bytes[w + 3], bytes[w + 2], bytes[w + 1], bytes[w]] : [bytes[w], bytes[w + 1], bytes[w + 2], bytes[w + 3]];
    for (const b of word) hex += (b ?? 0).toString(16).padStart(2, '0');
  }
  return `${hex.toUpperCase()}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The `drops` of the socket bound to `local` (a procNetAddress) in one /proc/net/udp text; null when absent. */
export function dropsInProcNetUdp(text: string, local: string): number | null {
  let found: number | null = null;
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (cols.length < 13 || cols[1] !== local) continue;
    const drops = Number(cols[12]);
    if (Number.isSafeInteger(drops)) found = (found ?? 0) + drops;
  }
  return found;
}

/** Kernel drops of the UDP socket bound to host:port, or null when they cannot be read. */
export function readUdpKernelDrops(host: string, port: number): number | null {
  const local = procNetAddress(host, port);
  if (local === null) return null;
  const file = net.isIPv6(host) ? '/proc/net/udp6' : '/proc/net/udp';
  try {
    return dropsInProcNetUdp(readFileSync(file, 'latin1'), local);
  } catch {
    return null;
  }
}
