/**
 * `listen` entries: `udp:IP:PORT`, `tcp:IP:PORT` or `tls:IP:PORT`, IPv6 in brackets (`udp:[::1]:9060`).
 *
 * Hosts must be IP literals. Hostnames are refused (unlike Kamailio's core `listen=`): a bind
 * address that depends on DNS at start-up makes the daemon's behaviour depend on the resolver,
 * and a name with several addresses would bind only one of them. `localhost` gets a hint.
 */
import net from 'node:net';
import type { ListenAddress, ListenProtocol } from './types.js';

const PROTOCOLS: readonly ListenProtocol[] = ['udp', 'tcp', 'tls'];
export const LISTEN_FORMS = 'udp:IP:PORT, tcp:IP:PORT or tls:IP:PORT, IPv6 as udp:[::1]:9060';

/** Parses a port written as decimal digits, 1..65535; undefined otherwise. */
export function parsePort(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** Canonical text of an IP literal (IPv6 compressed, lower case), for duplicate detection. */
function canonicalHost(host: string): string {
  if (net.isIPv6(host) && !host.includes('%')) return new URL(`http://[${host}]`).hostname.slice(1, -1);
  return host.toLowerCase();
}

/** Parses one entry; a string result is the reason it is invalid. */
export function parseListen(spec: string): ListenAddress | string {
  const m = /^([A-Za-z]+):(.*)$/.exec(spec);
  if (!m) return `has no protocol (expected ${LISTEN_FORMS})`;
  const proto = (m[1] ?? '').toLowerCase();
  const rest = m[2] ?? '';
  if (!(PROTOCOLS as readonly string[]).includes(proto)) {
    const why = proto === 'sctp' ? ' (not supported yet)' : '';
    return `protocol "${m[1]}" is not allowed${why} (allowed: udp, tcp, tls)`;
  }
  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return `has "[" without "]" (expected ${LISTEN_FORMS})`;
    host = rest.slice(1, close);
    if (rest[close + 1] !== ':') return `has no ":PORT" after "]" (expected ${LISTEN_FORMS})`;
    portText = rest.slice(close + 2);
    if (!net.isIPv6(host)) return `"${host}" in brackets is not an IPv6 address`;
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) return `has no port (expected ${LISTEN_FORMS})`;
    host = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
    if (net.isIPv6(host) || host.includes(':')) {
      return `an IPv6 address must be written in brackets, e.g. ${proto}:[${host}]:${portText}`;
    }
    if (!net.isIPv4(host)) {
      const hint = host.toLowerCase() === 'localhost' ? ' — use 127.0.0.1 or [::1]' : '';
      return `host "${host}" is not an IP address (hostnames are not resolved; use an IPv4 or [IPv6] literal, 0.0.0.0 or [::] for all)${hint}`;
    }
  }
  const port = parsePort(portText);
  if (port === undefined) return `port "${portText}" is not allowed (allowed 1..65535)`;
  return { spec, protocol: proto as ListenProtocol, host, port, access: { authKeys: [], allowSources: [], tls: null } };
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || canonicalHost(host) === '::';
}

/**
 * Parses all entries and reports duplicates and overlaps: the same protocol, address and port
 * twice, or a specific address next to the wildcard of its family on the same port (the second
 * bind would fail with EADDRINUSE). `[::]` also covers IPv4, as Node binds it dual-stack.
 */
export function parseListenList(specs: readonly string[]): { addresses: ListenAddress[]; indexes: number[]; problems: { index: number; message: string }[] } {
  const addresses: ListenAddress[] = [];
  /** The index in `specs` of each address. */
  const indexes: number[] = [];
  const problems: { index: number; message: string }[] = [];
  const seen: { index: number; a: ListenAddress }[] = [];
  specs.forEach((spec, index) => {
    const a = parseListen(spec);
    if (typeof a === 'string') {
      problems.push({ index, message: a });
      return;
    }
    // tcp: and tls: are both TCP sockets, so they cannot share an address and port.
    const stream = (x: ListenAddress): boolean => x.protocol !== 'udp';
    for (const prev of seen) {
      if (stream(prev.a) !== stream(a) || prev.a.port !== a.port) continue;
      const h1 = canonicalHost(prev.a.host);
      const h2 = canonicalHost(a.host);
      if (h1 === h2) {
        problems.push({ index, message: `duplicates listen[${prev.index}] "${prev.a.spec}"` });
        return;
      }
      const v6 = (h: string): boolean => h.includes(':');
      const overlaps =
        (isWildcard(h1) && (v6(h1) || !v6(h2))) || (isWildcard(h2) && (v6(h2) || !v6(h1)));
      if (overlaps) {
        problems.push({ index, message: `overlaps listen[${prev.index}] "${prev.a.spec}" (a wildcard address already covers it on this port)` });
        return;
      }
    }
    seen.push({ index, a });
    addresses.push(a);
    indexes.push(index);
  });
  return { addresses, indexes, problems };
}

/** `raw_socket_listen`, parsed. `ports` is null when no port was given (match any port). */
export interface RawSocketListen {
  host: string;
  ports: { min: number; max: number } | null;
}

export const RAW_SOCKET_LISTEN_FORMS = 'IP, IP:PORT or IP:PORT1-PORT2 (IPv6 as [::1]:5060)';

/** Why mirror mode refuses a `raw_socket_listen` without ports (Kamailio refuses to start too). */
export const RAW_MIRROR_NEEDS_PORT = 'port mirroring needs a port or port range here, e.g. "10.0.0.0:5060-5090" (the IP is not used in mirroring mode but must be valid)';

/**
 * Parses `raw_socket_listen`: `ip`, `ip:port` or `ip:port1-port2`, IPv6 in brackets (a bare
 * IPv6 address without a port is accepted too). Kamailio splits at the last `:`, which
 * mis-splits a bare IPv6 address, and reads ports with atoi; we check both. A single port
 * gives min = max. A string result is the reason the value is invalid.
 */
export function parseRawSocketListen(text: string): RawSocketListen | string {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return `has "[" without "]" (expected ${RAW_SOCKET_LISTEN_FORMS})`;
    host = text.slice(1, close);
    const after = text.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return `expected ":PORT" after "]" (expected ${RAW_SOCKET_LISTEN_FORMS})`;
    portText = after === '' ? undefined : after.slice(1);
    if (!net.isIPv6(host)) return `"${host}" in brackets is not an IPv6 address`;
  } else if ((text.match(/:/g) ?? []).length >= 2) {
    host = text;
    if (!net.isIPv6(host)) return `"${text}" is not an IPv6 address (with a port, write it as [IPv6]:PORT)`;
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    if (!net.isIPv4(host)) {
      return `"${host}" is not an IP address (Kamailio: "bad RAW IP"; in mirroring mode the IP is not used, but it must still be valid, e.g. 10.0.0.0)`;
    }
  }
  if (portText === undefined) return { host, ports: null };
  const dash = portText.indexOf('-');
  const minText = dash < 0 ? portText : portText.slice(0, dash);
  const maxText = dash < 0 ? portText : portText.slice(dash + 1);
  const min = parsePort(minText);
  const max = parsePort(maxText);
  if (min === undefined) return `port "${minText}" is not allowed (allowed 1..65535)`;
  if (max === undefined) return `port "${maxText}" is not allowed (allowed 1..65535)`;
  if (min > max) return `port range ${min}-${max} is reversed (PORT1 must be ≤ PORT2)`;
  return { host, ports: { min, max } };
}
