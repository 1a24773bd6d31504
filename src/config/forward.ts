/**
 * `forward`: where received HEP is relayed. Each entry is `udp:HOST:PORT`, `tcp:HOST:PORT`,
 * `tls:HOST:PORT`, or an object `{ name, address, … }` with that destination's own filters,
 * auth key and TLS files. Unlike `listen`, HOST may be a name: a destination is connected to,
 * not bound, and is resolved again on every reconnect.
 */
import net from 'node:net';
import path from 'node:path';
import { parseCidr, type Cidr } from '../net/cidr.js';
import { FORWARD_FORMS, FORWARD_KEYS } from './params.js';
import type { ForwardDestination, ForwardProtocol } from './types.js';
import { AUTH_KEY_MAX_BYTES } from './access.js';
import type { ConfigProblem } from './errors.js';
import { show, typeName } from './errors.js';
import { parsePort } from './listen.js';
import { didYouMean } from './suggest.js';

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses `proto:host:port`; a string result is the reason it is invalid. */
export function parseForwardAddress(spec: string): { protocol: ForwardProtocol; host: string; port: number } | string {
  const m = /^([A-Za-z]+):(.*)$/.exec(spec);
  if (!m) return `has no protocol (expected ${FORWARD_FORMS})`;
  const proto = (m[1] ?? '').toLowerCase();
  if (proto !== 'udp' && proto !== 'tcp' && proto !== 'tls') return `protocol "${m[1]}" is not allowed (allowed: udp, tcp, tls)`;
  const rest = m[2] ?? '';
  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') return `expected [IPv6]:PORT after "${proto}:" (expected ${FORWARD_FORMS})`;
    host = rest.slice(1, close);
    portText = rest.slice(close + 2);
    if (!net.isIPv6(host)) return `"${host}" in brackets is not an IPv6 address`;
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon <= 0) return `has no host or port (expected ${FORWARD_FORMS})`;
    host = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
    if (host.includes(':')) return `an IPv6 address must be written in brackets, e.g. ${proto}:[${host}]:${portText}`;
    if (!net.isIPv4(host) && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)) {
      return `host "${host}" is neither an IP address nor a host name`;
    }
  }
  const port = parsePort(portText);
  if (port === undefined) return `port "${portText}" is not allowed (allowed 1..65535)`;
  return { protocol: proto, host, port };
}

function stringList(v: unknown): string[] | null {
  const list = typeof v === 'string' ? [v] : v;
  return Array.isArray(list) && list.length > 0 && list.every((x): x is string => typeof x === 'string') ? list : null;
}

/** Validates `forward` (a string, an object, or an array of them); paths resolve against baseDir. */
export function resolveForward(raw: unknown, baseDir: string, problems: ConfigProblem[]): ForwardDestination[] {
  const entries = Array.isArray(raw) ? (raw as unknown[]) : [raw];
  const out: ForwardDestination[] = [];
  const names = new Set<string>();
  entries.forEach((entry, i) => {
    const key = Array.isArray(raw) ? `forward[${i}]` : 'forward';
    const before = problems.length;
    const o: Record<string, unknown> = typeof entry === 'string' ? { address: entry } : isRecord(entry) ? entry : {};
    if (typeof entry !== 'string' && !isRecord(entry)) {
      problems.push({ key, message: `expected "${'tcp:HOST:PORT'}" or an object {name, address, …}, got ${typeName(entry)} ${show(entry)}` });
      return;
    }
    for (const k of Object.keys(o)) {
      if (!(FORWARD_KEYS as readonly string[]).includes(k)) problems.push({ key: `${key}.${k}`, message: `unknown key${didYouMean(k, FORWARD_KEYS)} (allowed: ${FORWARD_KEYS.join(', ')})` });
    }
    const address = o['address'];
    if (typeof address !== 'string') {
      problems.push({ key: `${key}.address`, message: `expected ${FORWARD_FORMS}, got ${typeName(address)} ${show(address)}` });
      return;
    }
    const parsed = parseForwardAddress(address);
    if (typeof parsed === 'string') {
      problems.push({ key: typeof entry === 'string' ? key : `${key}.address`, message: `${show(address)} ${parsed}` });
      return;
    }
    const rawName = o['name'] === undefined ? address : o['name'];
    const name = typeof rawName === 'string' ? rawName : '';
    if (typeof rawName !== 'string' || (o['name'] !== undefined && !NAME_RE.test(name))) {
      problems.push({ key: `${key}.name`, message: `${show(rawName)}: expected 1..64 letters, digits, "_", "." or "-"` });
    } else if (names.has(name)) {
      problems.push({ key: `${key}.name`, message: `${show(name)} names two destinations (give each its own name)` });
    }
    names.add(name);
    let hepTypes: number[] | null = null;
    if (o['hep_types'] !== undefined) {
      const v = o['hep_types'];
      const list = typeof v === 'number' ? [v] : v;
      if (!Array.isArray(list) || list.length === 0 || !list.every((t): t is number => Number.isInteger(t) && (t as number) >= 0 && (t as number) <= 0xffffffff)) {
        problems.push({ key: `${key}.hep_types`, message: `${show(v)}: expected a non-empty array of HEP protocol types (integers, e.g. [1] for SIP, [1, 5] for SIP and RTCP)` });
      } else hepTypes = list;
    }
    let methods: string[] | null = null;
    if (o['methods'] !== undefined) {
      const list = stringList(o['methods']);
      if (list === null || !list.every((m) => TOKEN.test(m))) {
        problems.push({ key: `${key}.methods`, message: `${show(o['methods'])}: expected a non-empty array of SIP method names, e.g. ["INVITE", "BYE"]` });
      } else methods = list.map((m) => m.toUpperCase());
    }
    let sources: Cidr[] | null = null;
    if (o['sources'] !== undefined) {
      const list = stringList(o['sources']);
      if (list === null) problems.push({ key: `${key}.sources`, message: `${show(o['sources'])}: expected a non-empty array of IPs or CIDRs, e.g. ["10.0.0.0/8"]` });
      else {
        sources = [];
        for (const s of list) {
          const c = parseCidr(s.trim());
          if (typeof c === 'string') problems.push({ key: `${key}.sources`, message: `${show(s)}: ${c} (allowed an IP or CIDR, e.g. 10.0.0.0/8)` });
          else sources.push(c);
        }
      }
    }
    let authKey: string | null | undefined;
    if (Object.hasOwn(o, 'auth_key')) {
      const v = o['auth_key'];
      if (v === null || v === '') authKey = null;
      else if (typeof v === 'string' && Buffer.byteLength(v) <= AUTH_KEY_MAX_BYTES) authKey = v;
      else problems.push({ key: `${key}.auth_key`, message: `${show(v)}: expected a string of at most ${AUTH_KEY_MAX_BYTES} bytes, or null / "" to remove the agent's key` });
    }
    const file = (k: string): string | null => {
      const v = o[k];
      if (v === undefined) return null;
      if (typeof v !== 'string' || v === '') {
        problems.push({ key: `${key}.${k}`, message: `${show(v)}: expected a file path` });
        return null;
      }
      if (parsed.protocol !== 'tls') problems.push({ key: `${key}.${k}`, message: `only a tls: destination uses TLS files (this one is ${parsed.protocol}:)` });
      return path.resolve(baseDir, v);
    };
    const caFile = file('tls_ca_file');
    const certFile = file('tls_cert_file');
    const keyFile = file('tls_key_file');
    if ((certFile === null) !== (keyFile === null)) {
      problems.push({ key: `${key}.${certFile === null ? 'tls_cert_file' : 'tls_key_file'}`, message: 'a client certificate needs both tls_cert_file and tls_key_file' });
    }
    if (problems.length > before) return;
    out.push({
      name,
      ...parsed,
      spec: address,
      hepTypes,
      methods,
      sources,
      authKey,
      tls: parsed.protocol === 'tls' ? { caFile, certFile, keyFile } : null,
    });
  });
  return out;
}
