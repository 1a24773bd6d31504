/**
 * THE parameter table: every configuration key, its type, default, allowed values and a one-line
 * doc. Kamailio's parameters keep their modparam names, defaults and ranges (admin guide, spec
 * §15.1); sipcapture's own keys are marked `kamailio: false`. load.ts validates from this table
 * and docs/configuration.md is generated from it (render-docs.ts), so the three cannot drift.
 */
import type { SipcaptureConfig } from './types.js';
import { checkDbUrl } from './db-url.js';
import { checkTableTemplate, splitTableList } from './table-template.js';
import { parseListen, parseRawSocketListen, RAW_SOCKET_LISTEN_FORMS, LISTEN_FORMS } from './listen.js';
import { MT_MODES, HASH_SOURCES } from './capture-mode.js';

/** Keys of SipcaptureConfig the loader computes; they are not configuration keys. */
export type DerivedKey = 'captureModes' | 'listenAddresses' | 'routeRules';
export type ParamName = Exclude<keyof SipcaptureConfig, DerivedKey>;
export type ParamType = 'int' | 'flag' | 'string' | 'enum' | 'string-list' | 'listen' | 'routes';

interface Common {
  doc: string;
  /** A Kamailio sipcapture modparam (same name, default and range), or sipcapture's own. */
  kamailio: boolean;
  /** Where the behaviour differs, or which feature implements it, e.g. "behaviour: raw capture". */
  note?: string;
}

/** An integer in [min, max]. */
export interface IntParam extends Common {
  type: 'int';
  default: number;
  min: number;
  max: number;
  /** Unit or meaning shown after the range in the docs, e.g. "ms". */
  unit?: string;
}

/** 0/1 or false/true. Kamailio treats any non-zero integer as on; we normalise it to 1. */
export interface FlagParam extends Common {
  type: 'flag';
  default: number;
  /** Only 0 and 1 are accepted (Kamailio tests `== 1`, so 2 would silently mean off). */
  strict?: boolean;
}

export interface StringParam extends Common {
  type: 'string';
  default: string;
  /** What is allowed, in words (docs and messages). */
  allowed: string;
  maxLength?: number;
  /** Extra check; returns the reason a value is invalid. */
  check?: (value: string) => string | undefined;
}

export interface EnumParam extends Common {
  type: 'enum';
  default: string;
  values: readonly string[];
  /** Accept any case and normalise to the listed spelling (hash_source, like Kamailio). */
  caseInsensitive?: boolean;
}

/** A string or an array of strings (repeatable Kamailio modparams). */
export interface ListParam extends Common {
  type: 'string-list';
  default: readonly string[];
  allowed: string;
}

/** `listen`: strings, or objects `{ address, …per-listener access keys }` (validated in load.ts). */
export interface ListenParam extends Common {
  type: 'listen';
  default: readonly string[];
  allowed: string;
}

export interface RoutesParam extends Common {
  type: 'routes';
  default: SipcaptureConfig['routes'];
  allowed: string;
}

export type ParamSpec = IntParam | FlagParam | StringParam | EnumParam | ListParam | ListenParam | RoutesParam;
export type NamedParamSpec = ParamSpec & { name: ParamName };

/** The Homer 5 `node` column is varchar(125); timestamped HEP rows add `:` and a 32-bit captid. */
const CAPTURE_NODE_MAX = 125 - 11;

/** RFC 3261 token, the characters of a header name. */
const HEADER_NAME = /^[A-Za-z0-9.!%*_+`'~-]+$/;

function checkHeaderName(v: string): string | undefined {
  return v === '' || HEADER_NAME.test(v) ? undefined : 'is not a header name (letters, digits and .!%*_+`\'~-)';
}

function checkAlegHeaders(v: string): string | undefined {
  if (v === '') return undefined;
  const names = v.split(';');
  if (names.length > 16) return `lists ${names.length} headers; at most 16 (as in Kamailio)`;
  for (const n of names) {
    if (n === '') return 'has an empty name between ";" separators';
    if (/\s/.test(n)) return `"${n}" contains whitespace; Kamailio does not trim, so it would never match`;
    if (!HEADER_NAME.test(n)) return `"${n}" is not a header name`;
  }
  return undefined;
}

function checkHttpListen(v: string): string | undefined {
  if (v === '') return undefined;
  const r = parseListen(`tcp:${v}`);
  return typeof r === 'string' ? r.replace(/tcp:/g, '') : undefined;
}

function checkViewerToken(v: string): string | undefined {
  if (v === '') return undefined;
  if (!/^[\x21-\x7e]+$/.test(v)) return 'only printable ASCII without spaces (it travels in a cookie and an Authorization header)';
  if (v.length < 16 || v.length > 200) return `${v.length} characters; allowed 16 to 200 (a short token is guessable)`;
  return undefined;
}

function checkTableList(v: string): string | undefined {
  const tables = splitTableList(v);
  for (const t of tables) {
    const why = checkTableTemplate(t);
    if (why !== undefined) return tables.length > 1 ? `"${t}": ${why}` : why;
  }
  return undefined;
}

const RAW = 'behaviour: raw capture';
const TOPOH = 'behaviour: topoh unmask';
const HOOK = 'behaviour: hook';
const SECURITY = 'behaviour: who may send (docs/security.md)';

/** Keys a `listen` object may set for its own listener (they override the global keys of the same name). */
export const LISTENER_KEYS = ['hep_auth_keys', 'allow_sources', 'tls_cert_file', 'tls_key_file', 'tls_ca_file', 'tls_verify_client'] as const;

const PARAM_TABLE = {
  // ---- Kamailio sipcapture module parameters (admin guide §3) ----
  db_url: {
    type: 'string',
    default: '',
    allowed: '"" or sqlite://PATH (relative to the config folder), postgres://…, postgresql://…, mysql://USER:PASS@HOST[:PORT]/DB',
    check: (v) => (v === '' ? undefined : checkDbUrl(v)),
    doc: 'Database of the default capture mode. Required whenever a route stores through the default mode.',
    kamailio: true,
    note: 'Kamailio accepts any srdb1 driver; sipcapture has SQLite, PostgreSQL and MySQL stores.',
  },
  table_name: {
    type: 'string',
    default: 'sip_capture',
    allowed: 'table names separated by "|" (and/or whitespace); a letter or _ first, then A-Z a-z 0-9 _ and strftime %Y %m %d …',
    check: checkTableList,
    doc: 'Table(s) of the default capture mode; with several, mt_mode picks one per message.',
    kamailio: true,
  },
  mt_mode: {
    type: 'enum',
    default: 'rand',
    values: MT_MODES,
    doc: 'How the default mode picks one of several tables: random, round robin, or CRC-32 hash of hash_source.',
    kamailio: true,
  },
  hash_source: {
    type: 'enum',
    default: 'call_id',
    values: HASH_SOURCES,
    caseInsensitive: true,
    doc: 'Field hashed when mt_mode is hash (case-insensitive, as in Kamailio).',
    kamailio: true,
  },
  db_insert_mode: {
    type: 'int',
    default: 0,
    min: 0,
    max: 2,
    doc: '0 plain INSERT, one batch at a time (with the spool on, when batches wait: PostgreSQL up to 4, MySQL up to 2; order kept only while the database keeps up); 1 INSERT DELAYED (MySQL/MariaDB tables whose engine has it); 2 several batches in flight over a connection pool (PostgreSQL, MySQL; no commit order).',
    kamailio: true,
    note: 'behaviour: docs/storage.md. Kamailio treats other values as 0, we refuse them; mode 2 never loses an error (Kamailio\'s async mode does).',
  },
  capture_on: {
    type: 'flag',
    default: 0,
    doc: 'Store captured messages at all (0 = off); switched at run time by `sipcapture.status on|off`.',
    kamailio: true,
  },
  capture_mode: {
    type: 'string-list',
    default: [],
    allowed: 'NAME=>db_url=…;table_name=a|b;mt_mode=…[;hash_source=…] — a string or an array of them',
    doc: 'Named capture modes for routes (`capture_mode` of a rule). Repeatable: give an array.',
    kamailio: true,
    note: 'Superset of Kamailio: trailing ";" and any order accepted; unknown names refused.',
  },
  hep_capture_on: {
    type: 'flag',
    default: 0,
    doc: 'Decode HEP (v1, v2, v3) on the listen addresses.',
    kamailio: true,
  },
  raw_ipip_capture_on: {
    type: 'flag',
    default: 0,
    doc: 'Capture IP-in-IP encapsulated SIP on a raw socket (needs CAP_NET_RAW). Exclusive with raw_moni_capture_on.',
    kamailio: true,
    note: RAW,
  },
  raw_moni_capture_on: {
    type: 'flag',
    default: 0,
    doc: 'Capture SIP from a monitoring / mirroring port (Linux; needs a port in raw_socket_listen).',
    kamailio: true,
    note: RAW,
  },
  raw_socket_listen: {
    type: 'string',
    default: '',
    allowed: `"" or ${RAW_SOCKET_LISTEN_FORMS}`,
    check: (v) => {
      if (v === '') return undefined;
      const r = parseRawSocketListen(v);
      return typeof r === 'string' ? r : undefined;
    },
    doc: 'Raw socket address, and the SIP port or port range to capture (mirroring ignores the IP but needs the port).',
    kamailio: true,
    note: RAW,
  },
  raw_interface: {
    type: 'string',
    default: '',
    allowed: '"" or a network interface name (at most 15 characters)',
    check: (v) => (v === '' || /^[^\s/:]{1,15}$/.test(v) ? undefined : 'is not an interface name (1..15 characters, no whitespace, "/" or ":")'),
    doc: 'Network interface the raw socket is bound to.',
    kamailio: true,
    note: RAW,
  },
  raw_sock_children: {
    type: 'int',
    default: 1,
    min: 1,
    max: 64,
    doc: 'Number of readers on the raw socket.',
    kamailio: true,
    note: `${RAW}. Kamailio has no upper bound; 64 readers is far beyond what one socket needs.`,
  },
  promiscuous_on: {
    type: 'flag',
    default: 0,
    doc: 'Put raw_interface in promiscuous mode while capturing (Linux).',
    kamailio: true,
    note: RAW,
  },
  raw_moni_bpf_on: {
    type: 'flag',
    default: 0,
    doc: 'Attach a kernel filter (UDP, port range of raw_socket_listen) to the mirroring socket.',
    kamailio: true,
    note: RAW,
  },
  capture_node: {
    type: 'string',
    default: 'homer01',
    allowed: `up to ${CAPTURE_NODE_MAX} characters`,
    maxLength: CAPTURE_NODE_MAX,
    doc: 'Value of the `node` column (`capture_node:captid` for timestamped HEP).',
    kamailio: true,
  },
  insert_retries: {
    type: 'int',
    default: 0,
    min: 0,
    max: 500,
    doc: 'How many more times a failed database write is tried (limited in time by insert_retry_timeout).',
    kamailio: true,
    note: 'behaviour: store retries. sipcapture retries a batch with back-off instead of a busy loop, then spools it (spool_dir) instead of losing it.',
  },
  insert_retry_timeout: {
    type: 'int',
    default: 60,
    min: 0,
    max: 300,
    unit: 's',
    doc: 'How long, in seconds, failed writes are retried. Without insert_retries it has no effect (and, unlike Kamailio, logs nothing).',
    kamailio: true,
  },
  callid_aleg_header: {
    type: 'string',
    default: 'X-CID',
    allowed: 'header names separated by ";" (at most 16, no spaces)',
    check: checkAlegHeaders,
    doc: 'Header(s) whose value fills `callid_aleg`; the first one present wins.',
    kamailio: true,
  },
  topoh_unmask: {
    type: 'flag',
    default: 0,
    strict: true,
    doc: 'Unmask topoh-masked Call-IDs (with topoh_mask_key and topoh_callid_prefix).',
    kamailio: true,
    note: `${TOPOH}. Only 0 or 1: Kamailio enables it for exactly 1.`,
  },
  nonsip_hook: {
    type: 'flag',
    default: 0,
    doc: 'Call event_callback from hook_module for every HEP packet before it is decoded.',
    kamailio: true,
    note: `${HOOK}. Needs event_callback and hook_module (there is no event_route in sipcapture).`,
  },
  event_callback: {
    type: 'string',
    default: '',
    allowed: '"" or a JavaScript identifier (a function exported by hook_module)',
    check: (v) => (v === '' || /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(v) ? undefined : 'is not a JavaScript function name'),
    doc: 'Name of the function, exported by hook_module, that nonsip_hook calls.',
    kamailio: true,
    note: `${HOOK}. Replaces Kamailio's KEMI callback (broken there, spec §8.3).`,
  },
  // ---- Kamailio parameters outside the admin guide (spec §15.1) ----
  capture_bad_msgs: {
    type: 'flag',
    default: 0,
    doc: 'Store messages whose header parsing failed part-way, ignoring bad From/To/Contact URIs.',
    kamailio: true,
    note: 'behaviour: bad-message capture',
  },
  custom_field1_header: {
    type: 'string',
    default: 'Mac',
    allowed: '"" or a header name',
    check: checkHeaderName,
    doc: 'Header whose value fills `custom_field1` ("" = leave it empty).',
    kamailio: true,
  },
  custom_field2_header: {
    type: 'string',
    default: 'IP',
    allowed: '"" or a header name',
    check: checkHeaderName,
    doc: 'Header whose value fills `custom_field2` ("" = leave it empty).',
    kamailio: true,
  },
  custom_field3_header: {
    type: 'string',
    default: 'Port',
    allowed: '"" or a header name',
    check: checkHeaderName,
    doc: 'Header whose value fills `custom_field3` ("" = leave it empty).',
    kamailio: true,
  },
  topoh_mask_key: {
    type: 'string',
    default: 'aL9.n8~Hm]Z',
    allowed: 'any string; non-empty when topoh_unmask is 1',
    doc: "topoh's `mask_key` (topoh module parameter), needed to unmask Call-IDs.",
    kamailio: true,
    note: `${TOPOH}. A topoh modparam in Kamailio.`,
  },
  topoh_callid_prefix: {
    type: 'string',
    default: '!!:',
    allowed: 'any string; non-empty when topoh_unmask is 1',
    doc: "topoh's `callid_prefix` (topoh module parameter): marks a masked Call-ID.",
    kamailio: true,
    note: `${TOPOH}. A topoh modparam in Kamailio.`,
  },
  // ---- sipcapture's own ----
  listen: {
    type: 'listen',
    default: ['udp:127.0.0.1:9060', 'tcp:127.0.0.1:9060'],
    allowed: `${LISTEN_FORMS}; IP literals only, ports 1..65535, no duplicates; or an object {address, ${LISTENER_KEYS.join(', ')}} with this listener's own access settings`,
    doc: 'Where HEP is received. Loopback by default, so nothing is exposed until you choose to. tls: needs tls_cert_file and tls_key_file.',
    kamailio: false,
    note: SECURITY,
  },
  routes: {
    type: 'routes',
    default: 'default',
    allowed: '"homer5", "default", or an array of rules {method, type, event, table, capture_mode, store}',
    doc: 'Which table and capture mode a message goes to (the request_route of a Kamailio config).',
    kamailio: false,
  },
  hook_module: {
    type: 'string',
    default: '',
    allowed: '"" or a path to a JS module (relative to the config folder)',
    doc: 'Module exporting the event_callback function used by nonsip_hook.',
    kamailio: false,
    note: HOOK,
  },
  hook_timeout_ms: {
    type: 'int',
    default: 100,
    min: 1,
    max: 60000,
    unit: 'ms',
    doc: 'Longest the hook may take for one packet; then the packet follows the default path (a hook stuck in a loop is stopped and restarted).',
    kamailio: false,
    note: HOOK,
  },
  date_time_zone: {
    type: 'enum',
    default: 'UTC',
    values: ['UTC', 'local'],
    doc: 'Time zone of the `date` column. Kamailio writes local time; UTC matches the table-name date.',
    kamailio: false,
  },
  batch_size: {
    type: 'int',
    default: 1000,
    min: 1,
    max: 100000,
    unit: 'rows',
    doc: 'Rows per database write.',
    kamailio: false,
  },
  batch_timeout_ms: {
    type: 'int',
    default: 200,
    min: 1,
    max: 1000,
    unit: 'ms',
    doc: 'Longest a row waits for its batch to fill before it is written (≤ 1 s keeps Homer near-live).',
    kamailio: false,
  },
  batch_merge: {
    type: 'int',
    default: 4,
    min: 1,
    max: 64,
    unit: 'batches',
    doc: 'When batches wait for the database, up to this many of one table are written as one insert (one COPY or transaction): larger writes cost the database less per row, so a writer that fell behind catches up. 1 = never merge.',
    kamailio: false,
    note: 'behaviour: batching under backlog (docs/storage.md)',
  },
  queue_max_rows: {
    type: 'int',
    default: 200000,
    min: 1,
    max: 10000000,
    unit: 'rows',
    doc: 'Rows waiting for one database at most; beyond that rows are dropped and counted. Must be ≥ batch_size.',
    kamailio: false,
  },
  queue_max_bytes: {
    type: 'int',
    default: 67108864,
    min: 1048576,
    max: 17179869184,
    unit: 'bytes',
    doc: 'Estimated memory of the rows waiting for one database at most (message size plus a fixed per-row overhead); beyond that rows are dropped and counted queue_full.',
    kamailio: false,
    note: 'behaviour: memory bounds (docs/storage.md)',
  },
  spool_after_batches: {
    type: 'int',
    default: 4,
    min: 0,
    max: 10000,
    unit: 'batches',
    doc: 'Full batches waiting for a write slot at most; a batch cut beyond that goes to the spool (when there is one) instead of waiting in memory, and is replayed when the database catches up. Bounds what a kill -9 can lose. 0 = never (rows wait in memory up to queue_max_rows / queue_max_bytes).',
    kamailio: false,
    note: 'behaviour: memory bounds and crash guarantee (docs/storage.md)',
  },
  memory_limit_mb: {
    type: 'int',
    default: 512,
    min: 0,
    max: 1048576,
    unit: 'MiB',
    doc: 'Resident memory (RSS) of the daemon above which new packets are dropped at ingress, counted memory_limit, until it falls below 90% of the limit (or every queue is empty). Sampled every 200 ms. 0 = no limit.',
    kamailio: false,
    note: 'behaviour: memory bounds (docs/storage.md)',
  },
  heap_growing_percent: {
    type: 'int',
    default: 60,
    min: 0,
    max: 400,
    unit: '%',
    doc: 'How far the JavaScript heap may grow past its live data before the next full garbage collection (V8 --heap-growing-percent, set once the daemon listens, for every thread). V8 on its own lets a heap that allocates fast grow up to 4× its live data; at high rates most of that is rows already written, waiting for a collection. 60 cut the peak RSS at the zero-loss rates by 30–100 MiB (interleaved runs), with CPU per message and GC share within the run-to-run noise (docs/benchmarks.md). 0 = V8\'s own heuristic (or what node was started with).',
    kamailio: false,
    note: 'behaviour: memory (docs/storage.md)',
  },
  spool_dir: {
    type: 'string',
    default: '../var/spool',
    allowed: 'a directory path (relative to the config folder); one sub-directory per database URL',
    check: (v) => (v.trim() === '' ? 'is empty (give a directory; set spool_max_bytes 0 to switch the spool off)' : undefined),
    doc: 'Where rows the database cannot take (outage, retries exhausted) are kept on disk until it can; replayed in order, also after a restart.',
    kamailio: false,
    note: 'behaviour: spool (docs/storage.md)',
  },
  spool_max_bytes: {
    type: 'int',
    default: 1073741824,
    min: 0,
    max: 1099511627776,
    unit: 'bytes',
    doc: 'Size limit of the spool of each database URL; when it is full, rows that cannot be written are dropped and counted spool_full. 0 = no spool (counted db_error).',
    kamailio: false,
    note: 'behaviour: spool (docs/storage.md)',
  },
  table_date_window_days: {
    type: 'int',
    default: 30,
    min: 0,
    max: 36500,
    unit: 'days',
    doc: 'Packets dated more than this many days in the past, or more than 1 day in the future, get the table of the current date (their date column keeps the packet time); counted. 0 = no limit.',
    kamailio: false,
    note: 'behaviour: table names (docs/storage.md)',
  },
  dedup: {
    type: 'enum',
    default: 'off',
    values: ['off', 'agent', 'all'],
    doc: 'Drop copies of a SIP packet seen within dedup_window_ms (same payload bytes, addresses, ports and transport; counted duplicate): `agent` only merges copies with the same capture id (an agent sending a packet twice), `all` also merges copies from different agents. A UA retransmission inside the window is merged too.',
    kamailio: false,
    note: 'behaviour: de-duplication (docs/storage.md). Kamailio has none.',
  },
  dedup_window_ms: {
    type: 'int',
    default: 1000,
    min: 1,
    max: 60000,
    unit: 'ms',
    doc: 'How long a SIP packet is remembered for dedup, from its first copy.',
    kamailio: false,
    note: 'behaviour: de-duplication (docs/storage.md)',
  },
  dedup_max_entries: {
    type: 'int',
    default: 200000,
    min: 1,
    max: 10000000,
    unit: 'packets',
    doc: 'Most packets remembered for dedup (about 100 bytes each); when full the oldest is forgotten early (counted). Size it at packets per second × window.',
    kamailio: false,
    note: 'behaviour: de-duplication (docs/storage.md)',
  },
  tcp_max_frame: {
    type: 'int',
    default: 65535,
    min: 6,
    max: 65535,
    unit: 'bytes',
    doc: 'Largest HEP frame accepted on TCP/TLS (HEP3 length is 16 bits; 6 is the header alone); also the most a connection buffers, so a sender of half frames holds at most this much.',
    kamailio: false,
  },
  tcp_max_connections: {
    type: 'int',
    default: 1024,
    min: 0,
    max: 1000000,
    unit: 'connections',
    doc: 'Open connections per tcp:/tls: listener at most; more are closed at once and counted (0 = no limit). Keeps a connection flood from exhausting file descriptors.',
    kamailio: false,
    note: SECURITY,
  },
  tcp_max_connections_per_ip: {
    type: 'int',
    default: 64,
    min: 0,
    max: 1000000,
    unit: 'connections',
    doc: 'Open connections per tcp:/tls: listener from one source address at most (0 = no limit). Keeps one agent from taking every slot of tcp_max_connections.',
    kamailio: false,
    note: SECURITY,
  },
  tcp_idle_timeout_s: {
    type: 'int',
    default: 300,
    min: 0,
    max: 86400,
    unit: 's',
    doc: 'A tcp:/tls: connection that sends nothing for this long is closed and counted (agents reconnect); a half frame it held is counted tcp_framing. 0 = never.',
    kamailio: false,
    note: SECURITY,
  },
  hep_auth_keys: {
    type: 'string-list',
    default: [],
    allowed: 'a string or an array of non-empty strings (at most 1024 bytes each); [] = not enforced',
    doc: 'Accepted HEP auth keys (HEP3 chunk 0x000e) on every listener without its own list: packets with no key or another key are dropped (auth_failed), and so are HEP v1/v2 packets, which cannot carry a key.',
    kamailio: false,
    note: SECURITY,
  },
  allow_sources: {
    type: 'string-list',
    default: [],
    allowed: 'a string or an array of IPs or CIDRs (10.0.0.0/8, 2001:db8::/32; IPv4 rules also match ::ffff:a.b.c.d); [] = everyone',
    doc: 'Sources allowed to send to every listener without its own list: UDP datagrams from others are dropped (source_denied), TCP/TLS connections from others are closed at once. UDP sources can be spoofed: a filter, not authentication.',
    kamailio: false,
    note: SECURITY,
  },
  tls_cert_file: {
    type: 'string',
    default: '',
    allowed: '"" or a PEM certificate file (relative to the config folder; chain after the certificate)',
    doc: 'Server certificate of tls: listeners without their own; read and checked at start.',
    kamailio: false,
    note: SECURITY,
  },
  tls_key_file: {
    type: 'string',
    default: '',
    allowed: '"" or a PEM private key file (relative to the config folder), matching tls_cert_file',
    doc: 'Private key of tls_cert_file; read and checked at start.',
    kamailio: false,
    note: SECURITY,
  },
  tls_ca_file: {
    type: 'string',
    default: '',
    allowed: '"" or a PEM file of CA certificates (relative to the config folder); needed by tls_verify_client',
    doc: 'CA certificates agents\' client certificates must chain to when tls_verify_client is 1.',
    kamailio: false,
    note: SECURITY,
  },
  tls_verify_client: {
    type: 'flag',
    default: 0,
    strict: true,
    doc: 'tls: listeners ask for a client certificate and close connections without one that verifies against tls_ca_file (counted tls_client_cert).',
    kamailio: false,
    note: SECURITY,
  },
  udp_recv_buffer: {
    type: 'int',
    default: 8388608,
    min: 0,
    max: 1073741824,
    unit: 'bytes',
    doc: 'Receive buffer requested for UDP sockets (0 = keep the OS default; capped by net.core.rmem_max).',
    kamailio: false,
  },
  udp_receive_thread: {
    type: 'int',
    default: 1,
    min: 0,
    max: 1,
    doc: 'Where HEP UDP sockets are read. 1 = each UDP listener has a thread that only drains its socket and hands datagrams to the main thread in batches; while the main thread is busy (GC, encoding, waiting for a core) up to 32 MiB of datagrams wait in that queue, and beyond it datagrams are counted as queue_full instead of overflowing the kernel buffer silently. 0 = read on the main thread.',
    kamailio: false,
  },
  log_level: {
    type: 'enum',
    default: 'info',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'],
    doc: 'Least severe level that is logged.',
    kamailio: false,
  },
  log_rate_limit_s: {
    type: 'int',
    default: 10,
    min: 0,
    max: 3600,
    unit: 's',
    doc: 'Minimum time between two log lines for the same drop reason (0 = log every drop).',
    kamailio: false,
  },
  http_listen: {
    type: 'string',
    default: '127.0.0.1:9061',
    allowed: '"" (off) or IP:PORT, IPv6 as [::1]:9061',
    check: checkHttpListen,
    doc: 'Control HTTP server: JSON-RPC at POST /RPC, Prometheus metrics at GET /metrics, GET /health. Loopback by default: exposing it is an explicit choice.',
    kamailio: false,
    note: 'behaviour: control plane (docs/operations.md)',
  },
  http_rpc: {
    type: 'flag',
    default: 1,
    doc: 'Answer JSON-RPC on http_listen. Set 0 when http_listen is reachable by others (e.g. for Prometheus): RPC has no authentication.',
    kamailio: false,
    note: 'behaviour: control plane (docs/operations.md)',
  },
  http_viewer: {
    type: 'flag',
    default: 1,
    doc: 'Serve the call viewer on http_listen: search, live view and call flows at `/`, a read-only JSON API under `/api/`. It reads the databases through its own read-only connections.',
    kamailio: false,
    note: 'behaviour: viewer (docs/viewer.md)',
  },
  http_viewer_token: {
    type: 'string',
    default: '',
    allowed: '"" (no token) or 16 to 200 printable ASCII characters',
    check: checkViewerToken,
    doc: 'Access token the viewer and its API require (open `/?token=…` once, or send `Authorization: Bearer …`). SIP holds personal data: set one when anyone but the operators can reach http_listen.',
    kamailio: false,
    note: 'behaviour: viewer (docs/security.md)',
  },
  rpc_socket: {
    type: 'string',
    default: 'sipcapture.sock',
    allowed: '"" (off) or a path (relative to the config folder), at most 107 bytes once resolved',
    doc: 'Unix socket for JSON-RPC (`sipcapture rpc`), created with mode 0600: only the daemon user and root may use it.',
    kamailio: false,
    note: 'behaviour: control plane (docs/operations.md)',
  },
} satisfies { [K in ParamName]: ParamSpec & { default: SipcaptureConfig[K] | Readonly<SipcaptureConfig[K]> } };

/** All parameters, in documentation order. */
export const PARAMS: readonly NamedParamSpec[] = Object.freeze(
  (Object.keys(PARAM_TABLE) as ParamName[]).map((name): NamedParamSpec => ({ name, ...(PARAM_TABLE[name] as ParamSpec) })),
);

export const PARAM_NAMES: ReadonlySet<string> = new Set(PARAMS.map((p) => p.name));

export function paramSpec(name: ParamName): NamedParamSpec {
  const p = PARAMS.find((s) => s.name === name);
  if (p === undefined) throw new Error(`no parameter ${name}`);
  return p;
}

/** What a parameter accepts, in words (for the docs and for error messages). */
export function allowedText(p: ParamSpec): string {
  switch (p.type) {
    case 'int':
      return `${p.min}..${p.max}${p.unit ? ' ' + p.unit : ''}`;
    case 'flag':
      return p.strict ? '0/1 or false/true' : '0/1 or false/true; any non-zero integer means 1';
    case 'enum':
      return p.values.map((v) => JSON.stringify(v)).join(', ') + (p.caseInsensitive ? ' (any case)' : '');
    default:
      return p.allowed;
  }
}

/**
 * Kamailio parameters sipcapture deliberately does not have, with the reason; naming one gets
 * this reason instead of "unknown parameter".
 */
export const KAMAILIO_UNSUPPORTED: Readonly<Record<string, string>> = Object.freeze({
  table_time_sufix: 'unused even in Kamailio 5.6.3 and removed later; put strftime patterns in the table names',
  ...Object.fromEntries(
    [
      'date', 'micro_ts', 'method', 'reply_reason', 'ruri', 'ruri_user', 'ruri_domain', 'from_user', 'from_domain',
      'from_tag', 'to_user', 'to_domain', 'to_tag', 'pid_user', 'contact_user', 'auth_user', 'callid', 'callid_aleg',
      'via_1', 'via_1_branch', 'cseq', 'diversion', 'reason', 'content_type', 'authorization', 'user_agent',
      'source_ip', 'source_port', 'destination_ip', 'destination_port', 'contact_ip', 'contact_port',
      'originator_ip', 'originator_port', 'proto', 'family', 'rtp_stat', 'type', 'node', 'msg', 'correlation',
      'custom_field1', 'custom_field2', 'custom_field3',
    ].map((c) => [`${c}_column`, 'column names are fixed to the Homer schema in sipcapture']),
  ),
});
