/**
 * `listen` entries with their access settings: who may send (hep_auth_keys, allow_sources) and
 * the certificates of `tls:` listeners. An entry is an address string (the global keys apply)
 * or an object `{ address, hep_auth_keys, allow_sources, tls_cert_file, tls_key_file,
 * tls_ca_file, tls_verify_client }` whose keys replace the global ones for that listener.
 * Certificate files are read and checked here, so a bad file stops the start (and
 * check-config) with the key, the file and the reason.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { parseCidr } from '../net/cidr.js';
import type { ConfigProblem } from './errors.js';
import { fsErrorText, show, typeName } from './errors.js';
import { parseListenList } from './listen.js';
import { LISTENER_KEYS } from './params.js';
import { didYouMean } from './suggest.js';
import type { ListenAddress, ListenEntry, ListenEntryObject, SipcaptureConfig, TlsSettings } from './types.js';

/** The largest auth key accepted (a HEP chunk could hold more; no agent sends that much). */
export const AUTH_KEY_MAX_BYTES = 1024;

/** The global values the entries inherit (tls_* paths not yet resolved). */
export type AccessDefaults = Pick<SipcaptureConfig, 'hep_auth_keys' | 'allow_sources' | 'tls_cert_file' | 'tls_key_file' | 'tls_ca_file' | 'tls_verify_client'>;

/** Problems of an auth-key list (`key` names it in messages). */
export function checkAuthKeys(keys: readonly string[], key: string, problems: ConfigProblem[]): void {
  keys.forEach((k, i) => {
    const where = keys.length > 1 ? `${key}[${i}]` : key;
    if (k === '') problems.push({ key: where, message: '"" is not allowed (an empty key would be no key; leave the list empty to not enforce keys)' });
    else if (Buffer.byteLength(k) > AUTH_KEY_MAX_BYTES) problems.push({ key: where, message: `is ${Buffer.byteLength(k)} bytes long (allowed at most ${AUTH_KEY_MAX_BYTES})` });
  });
}

/** Problems of an allow-list. */
export function checkAllowSources(list: readonly string[], key: string, problems: ConfigProblem[]): void {
  list.forEach((s, i) => {
    const r = parseCidr(s.trim());
    if (typeof r === 'string') {
      problems.push({ key: list.length > 1 ? `${key}[${i}]` : key, message: `${show(s)}: ${r} (allowed an IP or CIDR, e.g. 10.0.0.0/8, 192.0.2.7, 2001:db8::/32)` });
    }
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown): string[] | null {
  const list = typeof v === 'string' ? [v] : v;
  return Array.isArray(list) && list.every((x): x is string => typeof x === 'string') ? list : null;
}

/** Checks a `listen` object; returns it normalised (lists as arrays, flag as 0/1), or null after problems. */
function checkEntryObject(o: Record<string, unknown>, key: string, problems: ConfigProblem[]): ListenEntryObject | null {
  const before = problems.length;
  const allowedKeys = ['address', ...LISTENER_KEYS];
  for (const k of Object.keys(o)) {
    if (!allowedKeys.includes(k)) {
      problems.push({ key: `${key}.${k}`, message: `is not a listener setting (allowed: ${allowedKeys.join(', ')})${didYouMean(k, allowedKeys)}` });
    }
  }
  const out: ListenEntryObject = { address: '' };
  if (typeof o.address !== 'string') {
    problems.push({ key: `${key}.address`, message: `${show(o.address)} is ${typeName(o.address)}; expected the listener address, e.g. "tls:0.0.0.0:9061"` });
  } else {
    out.address = o.address;
  }
  for (const k of ['hep_auth_keys', 'allow_sources'] as const) {
    if (!Object.hasOwn(o, k)) continue;
    const list = stringList(o[k]);
    if (list === null) problems.push({ key: `${key}.${k}`, message: `${show(o[k])} is ${typeName(o[k])}; expected a string or an array of strings` });
    else {
      out[k] = list;
      if (k === 'hep_auth_keys') checkAuthKeys(list, `${key}.${k}`, problems);
      else checkAllowSources(list, `${key}.${k}`, problems);
    }
  }
  for (const k of ['tls_cert_file', 'tls_key_file', 'tls_ca_file'] as const) {
    if (!Object.hasOwn(o, k)) continue;
    const v = o[k];
    if (typeof v !== 'string') problems.push({ key: `${key}.${k}`, message: `${show(v)} is ${typeName(v)}; expected a file path (relative to the config folder)` });
    else out[k] = v;
  }
  if (Object.hasOwn(o, 'tls_verify_client')) {
    const v = o.tls_verify_client;
    if (v === true || v === 1) out.tls_verify_client = 1;
    else if (v === false || v === 0) out.tls_verify_client = 0;
    else problems.push({ key: `${key}.tls_verify_client`, message: `${show(v)} is not allowed (allowed 0/1 or false/true)` });
  }
  return problems.length === before ? out : null;
}

/** Reads a PEM file; a string result is the reason it cannot be used. */
function readPem(file: string): Buffer | string {
  try {
    return readFileSync(file);
  } catch (e) {
    return `cannot be read (${fsErrorText(e)})`;
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Checks the certificate, key and CA files of one tls: listener (already resolved to absolute
 * paths). `keyOf(k)` names the setting the file came from in messages.
 */
function checkTlsFiles(t: TlsSettings, keyOf: (k: string) => string, problems: ConfigProblem[]): void {
  const before = problems.length;
  const cert = readPem(t.certFile);
  const key = readPem(t.keyFile);
  if (typeof cert === 'string') problems.push({ key: keyOf('tls_cert_file'), message: `${t.certFile} ${cert}` });
  else {
    const blocks = cert.toString('latin1').match(PEM_CERT) ?? [];
    if (blocks.length === 0) problems.push({ key: keyOf('tls_cert_file'), message: `${t.certFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` });
    else {
      try {
        new X509Certificate(blocks[0] ?? '');
      } catch (e) {
        problems.push({ key: keyOf('tls_cert_file'), message: `${t.certFile}: not a valid certificate (${(e as Error).message})` });
      }
    }
  }
  if (typeof key === 'string') problems.push({ key: keyOf('tls_key_file'), message: `${t.keyFile} ${key}` });
  else {
    try {
      createPrivateKey(key);
    } catch (e) {
      problems.push({ key: keyOf('tls_key_file'), message: `${t.keyFile}: not a valid PEM private key (${(e as Error).message}; an encrypted key is not supported)` });
    }
  }
  if (t.caFile !== '') {
    const ca = readPem(t.caFile);
    if (typeof ca === 'string') problems.push({ key: keyOf('tls_ca_file'), message: `${t.caFile} ${ca}` });
    else {
      const blocks = ca.toString('latin1').match(PEM_CERT) ?? [];
      if (blocks.length === 0) problems.push({ key: keyOf('tls_ca_file'), message: `${t.caFile} holds no PEM certificate` });
      for (const b of blocks) {
        try {
          new X509Certificate(b);
        } catch (e) {
          problems.push({ key: keyOf('tls_ca_file'), message: `${t.caFile}: a certificate in it is not valid (${(e as Error).message})` });
          break;
        }
      }
    }
  }
  if (problems.length > before || typeof cert === 'string' || typeof key === 'string') return;
  // The pair as Node will use it: catches a key that does not belong to the certificate.
  try {
    tls.createSecureContext({ cert, key });
  } catch (e) {
    problems.push({ key: keyOf('tls_key_file'), message: `${t.keyFile} does not fit ${t.certFile} (${(e as Error).message})` });
  }
}

/**
 * Parses the `listen` value (a string, an array of strings and objects) into listen addresses
 * with their access settings, checking everything; problems are added to `problems`.
 */
export function resolveListen(raw: unknown, defaults: AccessDefaults, baseDir: string, problems: ConfigProblem[]): { entries: ListenEntry[]; addresses: ListenAddress[] } {
  const list: unknown[] = Array.isArray(raw) ? raw : [raw];
  const keyOf = (i: number): string => (Array.isArray(raw) ? `listen[${i}]` : 'listen');
  const entries: ListenEntry[] = [];
  const objects: (ListenEntryObject | null)[] = [];
  const specs: string[] = [];
  const specIndex: number[] = [];
  list.forEach((e, i) => {
    if (typeof e === 'string') {
      entries.push(e);
      objects.push(null);
      specs.push(e);
      specIndex.push(i);
    } else if (isRecord(e)) {
      const o = checkEntryObject(e, keyOf(i), problems);
      objects.push(o);
      if (o !== null) {
        entries.push(o);
        specs.push(o.address);
        specIndex.push(i);
      }
    } else {
      objects.push(null);
      problems.push({ key: keyOf(i), message: `${show(e)} is ${typeName(e)}; expected an address string or an object {address, …}` });
    }
  });
  const parsed = parseListenList(specs);
  for (const p of parsed.problems) {
    const i = specIndex[p.index] ?? 0;
    problems.push({ key: typeof list[i] === 'string' ? keyOf(i) : `${keyOf(i)}.address`, message: `${show(specs[p.index])}: ${p.message}` });
  }
  const resolve = (f: string): string => (f === '' ? '' : path.resolve(baseDir, f));
  const addresses: ListenAddress[] = [];
  parsed.addresses.forEach((a, j) => {
    const i = specIndex[parsed.indexes[j] ?? 0] ?? 0;
    const o = objects[i] ?? null;
    const own = (k: string): boolean => o !== null && Object.hasOwn(o, k);
    const keyFor = (k: string): string => (own(k) ? `${keyOf(i)}.${k}` : k);
    const access = {
      authKeys: o?.hep_auth_keys ?? defaults.hep_auth_keys,
      allowSources: (o?.allow_sources ?? defaults.allow_sources).map((s) => s.trim()),
      tls: null as TlsSettings | null,
    };
    if (a.protocol === 'tls') {
      const t: TlsSettings = {
        certFile: resolve(o?.tls_cert_file ?? defaults.tls_cert_file),
        keyFile: resolve(o?.tls_key_file ?? defaults.tls_key_file),
        caFile: resolve(o?.tls_ca_file ?? defaults.tls_ca_file),
        verifyClient: (o?.tls_verify_client ?? defaults.tls_verify_client) === 1,
      };
      const missing = [t.certFile === '' ? 'tls_cert_file' : '', t.keyFile === '' ? 'tls_key_file' : ''].filter((x) => x !== '');
      if (missing.length > 0) {
        problems.push({ key: keyOf(i), message: `${show(a.spec)} is a tls: listener and needs ${missing.join(' and ')} (set globally or in a listen object {address, tls_cert_file, tls_key_file})` });
      } else if (t.verifyClient && t.caFile === '') {
        problems.push({ key: keyFor('tls_verify_client'), message: `1 on ${show(a.spec)} needs tls_ca_file, the CA client certificates must chain to` });
      } else {
        checkTlsFiles(t, keyFor, problems);
      }
      access.tls = t;
    } else if (o !== null) {
      const tlsKeys = LISTENER_KEYS.filter((k) => k.startsWith('tls_') && own(k));
      if (tlsKeys.length > 0) {
        problems.push({ key: `${keyOf(i)}.${tlsKeys[0] ?? ''}`, message: `has no effect on ${show(a.spec)}: only tls: listeners use ${tlsKeys.join(', ')}` });
      }
    }
    addresses.push({ ...a, access });
  });
  return { entries, addresses };
}

/** A `listen` value for display: auth keys masked. */
export function maskListen(entries: readonly ListenEntry[]): ListenEntry[] {
  return entries.map((e) => (typeof e === 'string' || e.hep_auth_keys === undefined ? e : { ...e, hep_auth_keys: e.hep_auth_keys.map(() => '***') }));
}
