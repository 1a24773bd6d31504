/**
 * Loading and validating the configuration file: one JSON5 object whose keys are the parameter
 * names of params.ts. Every problem is collected and reported at once (ConfigError), each naming
 * the key, the value given and what is allowed.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import JSON5 from 'json5';
import type { CaptureMode, ListenAddress, ListenEntry, RouteRule, SipcaptureConfig } from './types.js';
import type { ConfigProblem } from './errors.js';
import { ConfigError, fsErrorText, show, typeName } from './errors.js';
import type { NamedParamSpec, ParamName } from './params.js';
import { allowedText, KAMAILIO_UNSUPPORTED, PARAM_NAMES, PARAMS } from './params.js';
import { parseCaptureMode } from './capture-mode.js';
import { checkDataHeaderNames } from './homer7-fields.js';
import { dbUrlKind, maskPasswords, resolveDbUrl } from './db-url.js';
import { localTimeZoneProblem } from './time-zone.js';
import { parseListenList, parseRawSocketListen, RAW_MIRROR_NEEDS_PORT } from './listen.js';
import { checkAllowSources, checkAuthKeys, maskListen, resolveListen } from './access.js';
import type { RoutesSetting } from './routes.js';
import { expandRoutes, modesUsedByRules, validateRoutes } from './routes.js';
import { splitTableList } from './table-template.js';
import { resolveForward } from './forward.js';
import { closest, didYouMean } from './suggest.js';

export { ConfigError } from './errors.js';

export interface ValidateOptions {
  /** Folder that relative paths (sqlite files, hook_module) are resolved against. Default: the folder of `source`. */
  baseDir?: string;
}

/** Reads, parses (JSON5) and validates a configuration file. Throws ConfigError. */
export function loadConfig(file: string): SipcaptureConfig {
  return validateConfig(readConfigFile(file), file);
}

/** Reads and parses (JSON5) a configuration file without validating it. Throws ConfigError. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [{ key: '(file)', message: `cannot be read (${fsErrorText(e)})` }]);
  }
  try {
    return JSON5.parse<unknown>(text);
  } catch (e) {
    const err = e as Error & { lineNumber?: number; columnNumber?: number };
    const where = err.lineNumber === undefined ? '' : ` at line ${err.lineNumber}, column ${err.columnNumber ?? '?'}`;
    throw new ConfigError(file, [{ key: '(syntax)', message: `not valid JSON5${where}: ${err.message.replace(/^JSON5: /, '').replace(/ at \d+:\d+$/, '')}` }]);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A checked value; `routes` presets are strings, rule lists RouteRule[]. */
type Value = number | string | string[] | RouteRule[] | unknown[];

/** Checks one value against its spec; returns the normalised value, or undefined after adding a problem. */
function checkValue(p: NamedParamSpec, v: unknown, problems: ConfigProblem[]): Value | undefined {
  const bad = (message: string): undefined => {
    problems.push({ key: p.name, message });
    return undefined;
  };
  if (v === null) return bad(`null is not allowed (allowed ${allowedText(p)}; leave the key out for the default ${show(p.default)})`);
  switch (p.type) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        return bad(`${show(v)} is ${typeName(v)}; expected an integer (allowed ${allowedText(p)})`);
      }
      if (v === 0 && p.zero !== undefined) return v;
      if (v >= 0 && v < p.min && p.belowMin !== undefined) return bad(`${v} ${p.belowMin} (allowed ${allowedText(p)})`);
      if (v < p.min || v > p.max) return bad(`${v} is out of range (allowed ${allowedText(p)})`);
      if (p.divides !== undefined && p.divides % v !== 0) return bad(`${v} does not divide ${p.divides} (allowed ${allowedText(p)})`);
      return v;
    case 'flag':
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        return bad(`${show(v)} is ${typeName(v)}; expected a flag (allowed ${allowedText(p)})`);
      }
      if (p.strict && v !== 0 && v !== 1) return bad(`${v} is not allowed (allowed ${allowedText(p)}; Kamailio treats only exactly 1 as on)`);
      return v === 0 ? 0 : 1;
    case 'string':
      if (typeof v !== 'string') return bad(`${show(v)} is ${typeName(v)}; expected a string (allowed ${allowedText(p)})`);
      if (p.maxLength !== undefined && v.length > p.maxLength) {
        return bad(`${show(v)} is ${v.length} characters long (allowed ${allowedText(p)})`);
      }
      {
        const why = p.check?.(v);
        if (why !== undefined) return bad(`${show(v)}: ${why}${why.includes('allowed') ? '' : ` (allowed ${allowedText(p)})`}`);
      }
      return v;
    case 'enum': {
      if (typeof v !== 'string') return bad(`${show(v)} is ${typeName(v)}; expected one of ${allowedText(p)}`);
      const found = p.caseInsensitive ? p.values.find((x) => x.toLowerCase() === v.toLowerCase()) : p.values.find((x) => x === v);
      if (found !== undefined) return found;
      const caseHint = p.values.find((x) => x.toLowerCase() === v.toLowerCase());
      const hint = caseHint !== undefined ? ` — values are case-sensitive (as in Kamailio): use ${JSON.stringify(caseHint)}` : didYouMean(v, p.values);
      return bad(`${show(v)} is not allowed (allowed ${allowedText(p)})${hint}`);
    }
    case 'string-list': {
      const list = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(list) || !list.every((x): x is string => typeof x === 'string')) {
        return bad(`${show(v)} is ${typeName(v)}; expected a string or an array of strings (allowed ${allowedText(p)})`);
      }
      return list;
    }
    case 'listen': {
      // Entries are checked with their access settings in resolveListen (access.ts).
      const entries = Array.isArray(v) ? (v as unknown[]) : [v];
      return entries;
    }
    case 'forward':
      // Entries are checked with the config's folder in resolveForward (forward.ts).
      return Array.isArray(v) ? (v as unknown[]) : [v];
    case 'routes': {
      const r = validateRoutes(v);
      problems.push(...r.problems);
      return r.routes;
    }
  }
}

/**
 * Validates a parsed configuration object (the content of the JSON5 file) and builds the
 * effective configuration. `source` names the file in messages; relative paths are resolved
 * against its folder unless `options.baseDir` is given. Throws ConfigError listing every problem.
 */
export function validateConfig(raw: unknown, source: string, options: ValidateOptions = {}): SipcaptureConfig {
  const baseDir = options.baseDir ?? path.dirname(path.resolve(source));
  if (!isRecord(raw)) {
    throw new ConfigError(source, [{ key: '(top level)', message: `expected an object of parameters, got ${typeName(raw)}` }]);
  }
  const problems: ConfigProblem[] = [];

  for (const key of Object.keys(raw)) {
    if (PARAM_NAMES.has(key)) continue;
    const unsupported = KAMAILIO_UNSUPPORTED[key];
    if (unsupported !== undefined) {
      problems.push({ key, message: `a Kamailio parameter that sipcapture does not have: ${unsupported}` });
    } else {
      const hint = didYouMean(key, PARAM_NAMES);
      problems.push({ key, message: `unknown parameter${hint || ' (the parameters are listed in docs/configuration.md)'}` });
    }
  }

  const values = new Map<ParamName, Value>();
  const invalid = new Set<ParamName>();
  for (const p of PARAMS) {
    const given = Object.hasOwn(raw, p.name);
    const v = given ? checkValue(p, raw[p.name], problems) : (structuredClone(p.default) as Value);
    if (v === undefined) {
      invalid.add(p.name);
      values.set(p.name, structuredClone(p.default) as Value);
    } else {
      values.set(p.name, v);
    }
  }
  const num = (k: ParamName): number => values.get(k) as number;
  const str = (k: ParamName): string => values.get(k) as string;
  const list = (k: ParamName): string[] => values.get(k) as string[];
  const ok = (...keys: ParamName[]): boolean => keys.every((k) => !invalid.has(k));

  // ---- capture modes ----
  const captureModes = new Map<string, CaptureMode>();
  const modeNames = new Set<string>(['default']);
  const rawModes = list('capture_mode');
  const modeKey = (i: number): string => (Array.isArray(raw.capture_mode) ? `capture_mode[${i}]` : 'capture_mode');
  const named = new Map<string, number>();
  rawModes.forEach((text, i) => {
    const r = parseCaptureMode(text);
    const name = r.ok ? r.mode.name : r.name;
    if (name !== undefined) {
      const prev = named.get(name);
      if (prev !== undefined && name !== 'default') {
        problems.push({ key: modeKey(i), message: `${show(text)}: the mode name "${name}" is already defined by ${modeKey(prev)} (Kamailio keeps the last one silently; give each mode its own name)` });
      }
      named.set(name, i);
      if (name !== 'default') modeNames.add(name);
    }
    if (!r.ok) {
      for (const m of r.problems) problems.push({ key: modeKey(i), message: `${show(text, Infinity)}: ${m}` });
    } else if (!captureModes.has(r.mode.name)) {
      captureModes.set(r.mode.name, { ...r.mode, db_url: resolveDbUrl(r.mode.db_url, baseDir) });
    }
  });

  // ---- who may send, and listen ----
  if (ok('hep_auth_keys')) checkAuthKeys(list('hep_auth_keys'), 'hep_auth_keys', problems);
  if (ok('allow_sources')) checkAllowSources(list('allow_sources'), 'allow_sources', problems);
  let listenList: ListenEntry[] = [];
  let listenAddresses: ListenAddress[] = [];
  if (ok('listen', 'hep_auth_keys', 'allow_sources', 'tls_cert_file', 'tls_key_file', 'tls_ca_file', 'tls_verify_client')) {
    const r = resolveListen(Object.hasOwn(raw, 'listen') ? raw.listen : values.get('listen'), {
      hep_auth_keys: list('hep_auth_keys'),
      allow_sources: list('allow_sources'),
      tls_cert_file: str('tls_cert_file'),
      tls_key_file: str('tls_key_file'),
      tls_ca_file: str('tls_ca_file'),
      tls_verify_client: num('tls_verify_client'),
    }, baseDir, problems);
    listenList = r.entries;
    listenAddresses = r.addresses;
  }

  // ---- forwarding ----
  const forward = ok('forward') ? resolveForward(values.get('forward'), baseDir, problems) : [];
  for (const d of forward) {
    for (const f of [d.tls?.caFile, d.tls?.certFile, d.tls?.keyFile]) {
      if (f == null) continue;
      try {
        accessSync(f, constants.R_OK);
      } catch (err) {
        problems.push({ key: `forward (${d.name})`, message: `${f} is not readable: ${(err as Error).message}` });
      }
    }
  }

  // ---- routes, and the default mode when they use it ----
  const routesGiven = Object.hasOwn(raw, 'routes');
  let routes = values.get('routes') as RoutesSetting;
  // A pure relay (forward, and nowhere to store): the default route stores nothing.
  if (forward.length > 0 && !routesGiven && str('db_url') === '' && rawModes.length === 0) routes = [];
  const routeRules: RouteRule[] = ok('routes') ? expandRoutes(routes) : [];
  if (Array.isArray(routes)) {
    routes.forEach((r, i) => {
      for (const name of r.forward ?? []) {
        if (ok('forward') && !forward.some((d) => d.name === name)) {
          problems.push({ key: `routes[${i}].forward`, message: `${show(name)} is not a forward destination (defined: ${forward.map((d) => d.name).join(', ') || 'none'})${didYouMean(name, forward.map((d) => d.name))}` });
        }
      }
      for (const m of r.shard ?? []) {
        if (!modeNames.has(m)) problems.push({ key: `routes[${i}].shard`, message: `${show(m)} is not a defined capture mode (defined: ${[...modeNames].join(', ')})${didYouMean(m, modeNames)}` });
      }
      if (r.capture_mode !== undefined && !modeNames.has(r.capture_mode)) {
        problems.push({
          key: `routes[${i}].capture_mode`,
          message: `${show(r.capture_mode)} is not a defined capture mode (defined: ${[...modeNames].join(', ')})${didYouMean(r.capture_mode, modeNames)}`,
        });
      }
    });
  }

  const dbUrl = resolveDbUrl(str('db_url'), baseDir);
  const defaultTables = splitTableList(str('table_name'));
  const defaultMode: CaptureMode = {
    name: 'default',
    db_url: dbUrl,
    table_name: defaultTables,
    mt_mode: values.get('mt_mode') as CaptureMode['mt_mode'],
    hash_source: values.get('hash_source') as CaptureMode['hash_source'],
    ...(values.get('schema') === 'homer7' ? { schema: 'homer7' as const } : {}),
  };
  const defaultUsed = ok('routes') && modesUsedByRules(routeRules).has('default');
  const defaultValid = ok('db_url', 'table_name', 'mt_mode', 'hash_source') && dbUrl !== '' && defaultTables.length > 0;
  if (defaultValid) {
    captureModes.set('default', defaultMode);
  } else if (defaultUsed) {
    // Kamailio only warns here and then crashes on the first sip_capture() (docs/kamailio-differences.md C2).
    const why = typeof routes === 'string' ? `routes "${routes}" stores through it` : 'a route rule without capture_mode stores through it';
    if (ok('db_url') && dbUrl === '') {
      problems.push({
        key: 'db_url',
        message: `"" — the default capture mode needs a database URL because ${why} (allowed sqlite://PATH, postgres://…, mysql://…; or route every rule to a named capture_mode)`,
      });
    }
    if (ok('table_name') && defaultTables.length === 0) {
      problems.push({ key: 'table_name', message: `${show(str('table_name'))} — the default capture mode needs at least one table because ${why}` });
    }
  }
  // Keep the default first, then the named modes in the order given.
  const orderedModes = new Map<string, CaptureMode>();
  const def = captureModes.get('default');
  if (def) orderedModes.set('default', def);
  for (const [k, m] of captureModes) if (k !== 'default') orderedModes.set(k, m);

  // ---- cross-checks ----
  const rawIpip = num('raw_ipip_capture_on');
  const rawMoni = num('raw_moni_capture_on');
  if (rawIpip === 1 && rawMoni === 1) {
    problems.push({
      key: 'raw_moni_capture_on',
      message: '1 together with raw_ipip_capture_on 1 — only one raw mode at a time (Kamailio: "only one RAW mode is supported"); set one of them to 0',
    });
  }
  const rsl = str('raw_socket_listen');
  if (rawMoni === 1 && ok('raw_socket_listen')) {
    const parsed = rsl === '' ? undefined : parseRawSocketListen(rsl);
    if (parsed === undefined || (typeof parsed !== 'string' && parsed.ports === null)) {
      problems.push({ key: 'raw_socket_listen', message: `${show(rsl)} — raw_moni_capture_on: ${RAW_MIRROR_NEEDS_PORT}` });
    }
  }
  if (num('promiscuous_on') === 1 && str('raw_interface') === '') {
    problems.push({ key: 'promiscuous_on', message: '1 needs raw_interface, the interface to put in promiscuous mode (raw_interface is "")' });
  }
  let hookModule = str('hook_module');
  if (hookModule !== '' && ok('hook_module')) {
    hookModule = path.resolve(baseDir, hookModule);
    if (!existsSync(hookModule)) {
      problems.push({ key: 'hook_module', message: `${show(str('hook_module'))}: file not found (looked for ${hookModule})` });
    }
  }
  let rpcSocket = str('rpc_socket');
  if (rpcSocket !== '' && ok('rpc_socket')) {
    rpcSocket = path.resolve(baseDir, rpcSocket);
    // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
    if (Buffer.byteLength(rpcSocket) > 107) {
      problems.push({ key: 'rpc_socket', message: `${show(str('rpc_socket'))} resolves to ${rpcSocket}, ${Buffer.byteLength(rpcSocket)} bytes (allowed at most 107: the limit of a unix socket path)` });
    }
  }
  if (num('nonsip_hook') === 1) {
    const missing = [str('event_callback') === '' ? 'event_callback' : '', str('hook_module') === '' ? 'hook_module' : ''].filter((x) => x !== '');
    if (missing.length > 0) {
      problems.push({
        key: 'nonsip_hook',
        message: `1 needs ${missing.join(' and ')} to be set — sipcapture has no event_route[sipcapture:request]; the hook is the function named by event_callback, exported by the JS module hook_module`,
      });
    }
  }
  if (ok('date_time_zone') && str('date_time_zone') === 'local') {
    const why = localTimeZoneProblem(process.env['TZ']);
    if (why !== undefined) problems.push({ key: 'date_time_zone', message: why });
  }
  if (num('topoh_unmask') === 1) {
    for (const k of ['topoh_mask_key', 'topoh_callid_prefix'] as const) {
      if (str(k) === '') problems.push({ key: k, message: '"" — topoh_unmask is 1, which needs the topoh mask key and Call-ID prefix' });
    }
  }
  for (const p of PARAMS) {
    if (p.type !== 'int' || p.atLeast === undefined || !ok(p.name, p.atLeast) || num(p.name) >= num(p.atLeast)) continue;
    const why = p.atLeastWhy === undefined ? '' : `, so ${p.atLeastWhy}`;
    problems.push({ key: p.name, message: `${num(p.name)} is smaller than ${p.atLeast} ${num(p.atLeast)} (allowed ${allowedText(p)})${why}` });
  }
  if (num('hep_capture_on') === 1 && ok('listen') && (values.get('listen') as unknown[]).length === 0) {
    problems.push({ key: 'listen', message: '[] — hep_capture_on is 1, so give at least one address (udp:IP:PORT or tcp:IP:PORT)' });
  }
  // The control HTTP server is a TCP socket too: a tcp:/tls: listener on its port would fail to bind.
  const httpListen = str('http_listen');
  if (httpListen !== '' && ok('http_listen')) {
    listenAddresses.forEach((a) => {
      if (a.protocol === 'udp') return;
      const hostPort = a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
      if (parseListenList([`tcp:${hostPort}`, `tcp:${httpListen}`]).problems.length > 0) {
        problems.push({ key: 'http_listen', message: `"${httpListen}" is also the TCP address of listen "${a.spec}" (both would bind it; give one of them another port)` });
      }
    });
  }
    // insert_retry_timeout without insert_retries is deliberately not reported (docs/kamailio-differences.md C5).
  checkSchemas(orderedModes, named, modeKey, problems);
  if (ok('homer7_data_header')) {
    const why = checkDataHeaderNames(list('homer7_data_header'));
    if (why !== undefined) problems.push({ key: 'homer7_data_header', message: `${show(list('homer7_data_header'))} ${why}` });
  }

  if (problems.length > 0) throw new ConfigError(source, problems);

  // Every key as checked (the table's order and names); then the values resolved against baseDir.
  const checked = Object.fromEntries(values) as unknown as Pick<SipcaptureConfig, ParamName>;
  const resolvePath = (k: 'tls_cert_file' | 'tls_key_file' | 'tls_ca_file'): string => (str(k) === '' ? '' : path.resolve(baseDir, str(k)));
  return {
    ...checked,
    db_url: dbUrl,
    listen: listenList,
    routes,
    forward,
    hook_module: hookModule,
    spool_dir: path.resolve(baseDir, str('spool_dir')),
    allow_sources: list('allow_sources').map((s) => s.trim()),
    tls_cert_file: resolvePath('tls_cert_file'),
    tls_key_file: resolvePath('tls_key_file'),
    tls_ca_file: resolvePath('tls_ca_file'),
    rpc_socket: rpcSocket,
    http_viewer: num('http_viewer'),
    http_viewer_token: str('http_viewer_token'),
    captureModes: orderedModes,
    listenAddresses,
    routeRules,
  };
}

/**
 * `schema: homer7` needs PostgreSQL (homer-app reads HOMER 7 tables from PostgreSQL only, and
 * they rely on its partitioning and jsonb), and one database URL has one schema (one store).
 */
function checkSchemas(modes: ReadonlyMap<string, CaptureMode>, modeIndex: ReadonlyMap<string, number>, modeKey: (i: number) => string, problems: ConfigProblem[]): void {
  const keyOf = (m: CaptureMode): string => {
    const i = m.name === 'default' ? undefined : modeIndex.get(m.name);
    return m.name === 'default' ? 'schema' : i === undefined ? 'capture_mode' : modeKey(i);
  };
  const schemaByUrl = new Map<string, CaptureMode>();
  for (const m of modes.values()) {
    const schema = m.schema ?? 'homer5';
    if (schema === 'homer7' && dbUrlKind(m.db_url) !== 'postgres') {
      problems.push({
        key: keyOf(m),
        message: `homer7 in capture mode ${m.name} needs a postgres:// db_url, not ${maskPasswords(m.db_url)} (homer-app reads HOMER 7 tables from PostgreSQL only; use schema homer5 for SQLite or MySQL)`,
      });
    }
    const other = schemaByUrl.get(m.db_url);
    if (other !== undefined && (other.schema ?? 'homer5') !== schema) {
      problems.push({
        key: keyOf(m),
        message: `capture mode ${m.name} writes ${schema} but mode ${other.name} writes ${other.schema ?? 'homer5'} to the same db_url ${maskPasswords(m.db_url)}; one database URL has one schema (give each its own database)`,
      });
    }
    if (other === undefined) schemaByUrl.set(m.db_url, m);
  }
}

/**
 * Things that are valid but probably not what was meant; the daemon logs them at start-up
 * (as warnings, not errors: Kamailio accepts all of these).
 */
export function configWarnings(cfg: SipcaptureConfig): string[] {
  const w: string[] = [];
  const rawOn = cfg.raw_ipip_capture_on === 1 || cfg.raw_moni_capture_on === 1;
  if (cfg.capture_on === 0) w.push('capture_on is 0: nothing is stored until `sipcapture.status on` (Kamailio\'s default; the shipped config sets 1)');
  if (cfg.hep_capture_on === 0 && !rawOn) w.push('hep_capture_on is 0 and no raw mode is on: no input is captured');
  if (!rawOn) {
    const set: string[] = [];
    if (cfg.raw_socket_listen !== '') set.push('raw_socket_listen');
    if (cfg.raw_interface !== '') set.push('raw_interface');
    if (cfg.promiscuous_on === 1) set.push('promiscuous_on');
    if (cfg.raw_moni_bpf_on === 1) set.push('raw_moni_bpf_on');
    if (cfg.raw_sock_children !== 1) set.push('raw_sock_children');
    if (set.length > 0) w.push(`${set.join(', ')} ha${set.length === 1 ? 's' : 've'} no effect without raw_ipip_capture_on or raw_moni_capture_on`);
  } else if (cfg.raw_moni_bpf_on === 1 && cfg.raw_moni_capture_on === 0) {
    w.push('raw_moni_bpf_on has no effect without raw_moni_capture_on');
  }
  if (cfg.nonsip_hook === 0 && (cfg.event_callback !== '' || cfg.hook_module !== '')) {
    w.push('event_callback / hook_module have no effect while nonsip_hook is 0');
  }
  if (cfg.http_listen !== '' && cfg.http_rpc === 1 && !isLoopbackListen(cfg.http_listen)) {
    w.push(`http_listen ${cfg.http_listen} is not a loopback address and http_rpc is 1: anyone who reaches it can switch capture off or reload the config (set http_rpc 0 and use rpc_socket)`);
  }
  if (cfg.http_listen !== '' && cfg.http_viewer === 1 && cfg.http_viewer_token === '' && !isLoopbackListen(cfg.http_listen)) {
    w.push(`http_listen ${cfg.http_listen} is not a loopback address and the viewer has no http_viewer_token: anyone who reaches it can read the captured calls (set a token, or http_viewer 0)`);
  }
  if (cfg.db_insert_mode === 1) {
    const nonMysql = [...cfg.captureModes.values()].filter((m) => dbUrlKind(m.db_url) !== 'mysql').map((m) => m.name);
    if (nonMysql.length > 0) w.push(`db_insert_mode 1 only affects MySQL; capture modes ${nonMysql.join(', ')} insert plainly (no INSERT DELAYED)`);
  }
  const tlsListeners = cfg.listenAddresses.filter((a) => a.protocol === 'tls');
  const tlsGlobals = (['tls_cert_file', 'tls_key_file', 'tls_ca_file'] as const).filter((k) => cfg[k] !== '');
  if (tlsListeners.length === 0 && (tlsGlobals.length > 0 || cfg.tls_verify_client === 1)) {
    w.push(`${[...tlsGlobals, ...(cfg.tls_verify_client === 1 ? ['tls_verify_client'] : [])].join(', ')} ha${tlsGlobals.length === 1 ? 's' : 've'} no effect without a tls: listener`);
  }
  for (const a of cfg.listenAddresses) {
    if (a.protocol === 'tls' && a.access.tls !== null && !a.access.tls.verifyClient && a.access.authKeys.length === 0 && a.access.allowSources.length === 0 && !isLoopbackListen(`[${a.host}]:0`)) {
      w.push(`${a.spec}: TLS encrypts, but anyone who reaches it may send (no tls_verify_client, hep_auth_keys or allow_sources)`);
    }
  }
  if (cfg.retention_min_free_disk_mb > 0 && ![...cfg.captureModes.values()].some((m) => dbUrlKind(m.db_url) === 'sqlite')) {
    w.push('retention_min_free_disk_mb only guards SQLite databases (a server\'s disk is not visible to a client); set retention_max_db_mb for PostgreSQL and MySQL');
  }
  if (cfg.spool_max_bytes === 0) w.push('spool_max_bytes is 0: rows the database cannot take are dropped (counted db_error) instead of spooled');
  return w;
}

/** True for 127.0.0.0/8 and ::1 (the only addresses only this host can reach). */
function isLoopbackListen(hostPort: string): boolean {
  const host = hostPort.startsWith('[') ? hostPort.slice(1, hostPort.indexOf(']')) : hostPort.slice(0, hostPort.lastIndexOf(':'));
  return host.startsWith('127.') || host === '::1';
}

/** Every parameter with its effective value (defaults included, passwords masked), for `check-config`. */
export function effectiveConfigForDisplay(cfg: SipcaptureConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of PARAMS) {
    const v: unknown = cfg[p.name];
    if (p.name === 'hep_auth_keys') out[p.name] = cfg.hep_auth_keys.map(() => '***');
    else if (p.name === 'http_viewer_token') out[p.name] = cfg.http_viewer_token === '' ? '' : '***';
    else if (p.name === 'listen') out[p.name] = maskListen(cfg.listen);
    else out[p.name] = typeof v === 'string' ? maskPasswords(v) : Array.isArray(v) ? JSON.parse(maskPasswords(JSON.stringify(v))) as unknown : v;
  }
  return out;
}

/** The derived part (capture modes, listen addresses, expanded route rules), passwords masked. */
export function derivedConfigForDisplay(cfg: SipcaptureConfig): Record<string, unknown> {
  return {
    captureModes: [...cfg.captureModes.values()].map((m) => ({ ...m, db_url: maskPasswords(m.db_url) })),
    listenAddresses: cfg.listenAddresses.map((a) => ({ ...a, access: { ...a.access, authKeys: a.access.authKeys.map(() => '***') } })),
    routeRules: cfg.routeRules.map((r) => ({ ...r })),
  };
}

/** The closest parameter name to `name`, if any (for the CLI's own suggestions). */
export function suggestParameter(name: string): string | undefined {
  return closest(name, PARAM_NAMES);
}
