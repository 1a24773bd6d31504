/**
 * THE parameter table: every configuration key, its type, default, allowed values and a one-line
 * doc. Kamailio's parameters keep their modparam names, defaults and ranges (the module's admin
 * guide; for the few it leaves out, what Kamailio 5.6.3 does); sipcapture's own keys are marked
 * `kamailio: false`. load.ts validates from this table and the docs are generated from it
 * (render-docs.ts), so they cannot drift.
 */
import type { SipcaptureConfig } from './types.js';
import { checkDbUrl } from './db-url.js';
import { checkTableTemplate, splitTableList } from './table-template.js';
import { parseListen, parseRawSocketListen, RAW_SOCKET_LISTEN_FORMS, LISTEN_FORMS } from './listen.js';
import { MT_MODES, HASH_SOURCES, SCHEMAS } from './capture-mode.js';
import { DATA_HEADER_NAMES, DEFAULT_DATA_HEADER } from './homer7-fields.js';

/** Keys of SipcaptureConfig the loader computes; they are not configuration keys. */
export type DerivedKey = 'captureModes' | 'listenAddresses' | 'routeRules';
export type ParamName = Exclude<keyof SipcaptureConfig, DerivedKey>;

/**
 * What a reload (SIGHUP, RPC `sipcapture.reload`) does with a changed key; control/reload.ts acts
 * on it and the reload table of docs/operations.md is generated from it.
 */
export const RELOAD_CLASSES = {
  switch: 'Applied live, only when the file\'s value changed, so a switch made by RPC survives an unrelated reload.',
  routing: 'Applied live together, as long as every database they name is already open and keeps its schema; a database not open yet, or another schema for an open one, needs a restart.',
  row: 'Applied live: the row options of the next message.',
  log: 'Applied live.',
  dedup: 'Applied live: a new, empty dedup table (copies of packets seen just before the reload are stored once more).',
  hook: 'Applied live; the hook module is imported again on every reload, so edited hook code takes effect.',
  restart: 'Keeps its running value until a restart: it belongs to a socket, a connection, a queue or the process.',
} as const;
export type ReloadClass = keyof typeof RELOAD_CLASSES;

interface Common {
  doc: string;
  /** What a reload does when the key changed. */
  reload: ReloadClass;
  /** A Kamailio sipcapture modparam (same name, default and range), or sipcapture's own. */
  kamailio: boolean;
  /** Where the behaviour differs, or which feature implements it, e.g. "behaviour: raw capture". */
  note?: string;
}

/** An integer in [min, max], or 0 when `zero` says what 0 means. */
export interface IntParam extends Common {
  type: 'int';
  default: number;
  min: number;
  max: number;
  /** 0 is allowed besides min..max (min > 0) and means this, e.g. "no limit". */
  zero?: string;
  /** Why a value between 0 and min is refused, e.g. "is too small to hold a batch". */
  belowMin?: string;
  /** Another int parameter this one may not be below (checked once both are valid). */
  atLeast?: ParamName;
  /** What a value below `atLeast` would break, e.g. "a batch could never fill". */
  atLeastWhy?: string;
  /** Unit or meaning shown after the range in the docs, e.g. "ms". */
  unit?: string;
  /** The value must divide this number, e.g. 1440 for a partition length that tiles a day. */
  divides?: number;
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

/** `forward`: strings, or objects `{ name, address, … }` (validated in config/forward.ts). */
export interface ForwardParam extends Common {
  type: 'forward';
  default: readonly string[];
  allowed: string;
}

export interface RoutesParam extends Common {
  type: 'routes';
  default: SipcaptureConfig['routes'];
  allowed: string;
}

export type ParamSpec = IntParam | FlagParam | StringParam | EnumParam | ListParam | ListenParam | RoutesParam | ForwardParam;
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
export const FORWARD_FORMS = 'udp:HOST:PORT, tcp:HOST:PORT or tls:HOST:PORT (IPv6 as tcp:[::1]:9060)';
/** Keys of a `forward` object (config/forward.ts). */
export const FORWARD_KEYS = ['name', 'address', 'hep_types', 'methods', 'sources', 'auth_key', 'tls_ca_file', 'tls_cert_file', 'tls_key_file'] as const;
export const LISTENER_KEYS = ['hep_auth_keys', 'allow_sources', 'tls_cert_file', 'tls_key_file', 'tls_ca_file', 'tls_verify_client'] as const;

const PARAM_TABLE = {
  // ---- Kamailio sipcapture module parameters (its admin guide) ----
  db_url: {
    type: 'string',
    default: '',
    allowed: '"" or sqlite://PATH (relative to the config folder), postgres://…, postgresql://…, mysql://USER:PASS@HOST[:PORT]/DB',
    check: (v) => (v === '' ? undefined : checkDbUrl(v)),
    doc: 'Database of the default capture mode. Required whenever a route stores through the default mode.',
    kamailio: true,
    reload: 'routing',
    note: 'Kamailio accepts any srdb1 driver; sipcapture has SQLite, PostgreSQL and MySQL stores.',
  },
  table_name: {
    type: 'string',
    default: 'sip_capture',
    allowed: 'table names separated by "|" (and/or whitespace); a letter or _ first, then A-Z a-z 0-9 _ and strftime %Y %m %d …',
    check: checkTableList,
    doc: 'Table(s) of the default capture mode; with several, mt_mode picks one per message.',
    kamailio: true,
    reload: 'routing',
  },
  mt_mode: {
    type: 'enum',
    default: 'rand',
    values: MT_MODES,
    doc: 'How the default mode picks one of several tables: random, round robin, or CRC-32 hash of hash_source.',
    kamailio: true,
    reload: 'routing',
  },
  hash_source: {
    type: 'enum',
    default: 'call_id',
    values: HASH_SOURCES,
    caseInsensitive: true,
    doc: 'Field hashed when mt_mode is hash (case-insensitive, as in Kamailio).',
    kamailio: true,
    reload: 'routing',
  },
  db_insert_mode: {
    type: 'int',
    default: 0,
    min: 0,
    max: 2,
    doc: '0 plain INSERT, one batch at a time (with the spool on, when batches wait: PostgreSQL up to 4, MySQL up to 2; order kept only while the database keeps up); 1 INSERT DELAYED (MySQL/MariaDB tables whose engine has it); 2 several batches in flight over a connection pool (PostgreSQL, MySQL; no commit order).',
    kamailio: true,
    reload: 'restart',
    note: 'behaviour: docs/storage.md. Kamailio treats other values as 0, we refuse them; mode 2 never loses an error (Kamailio\'s async mode does).',
  },
  capture_on: {
    type: 'flag',
    default: 0,
    doc: 'Store captured messages at all (0 = off); switched at run time by `sipcapture.status on|off`.',
    kamailio: true,
    reload: 'switch',
  },
  capture_mode: {
    type: 'string-list',
    default: [],
    allowed: 'NAME=>db_url=…;table_name=a|b;mt_mode=…[;hash_source=…] — a string or an array of them',
    doc: 'Named capture modes for routes (`capture_mode` of a rule). Repeatable: give an array.',
    kamailio: true,
    reload: 'routing',
    note: 'Superset of Kamailio: trailing ";" and any order accepted; unknown names refused.',
  },
  hep_capture_on: {
    type: 'flag',
    default: 0,
    doc: 'Decode HEP (v1, v2, v3) on the listen addresses.',
    kamailio: true,
    reload: 'switch',
  },
  raw_ipip_capture_on: {
    type: 'flag',
    default: 0,
    doc: 'Capture IP-in-IP encapsulated SIP on a raw socket (needs CAP_NET_RAW). Exclusive with raw_moni_capture_on.',
    kamailio: true,
    reload: 'restart',
    note: RAW,
  },
  raw_moni_capture_on: {
    type: 'flag',
    default: 0,
    doc: 'Capture SIP from a monitoring / mirroring port (Linux; needs a port in raw_socket_listen).',
    kamailio: true,
    reload: 'restart',
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
    reload: 'restart',
    note: RAW,
  },
  raw_interface: {
    type: 'string',
    default: '',
    allowed: '"" or a network interface name (at most 15 characters)',
    check: (v) => (v === '' || /^[^\s/:]{1,15}$/.test(v) ? undefined : 'is not an interface name (1..15 characters, no whitespace, "/" or ":")'),
    doc: 'Network interface the raw socket is bound to.',
    kamailio: true,
    reload: 'restart',
    note: RAW,
  },
  raw_sock_children: {
    type: 'int',
    default: 1,
    min: 1,
    max: 64,
    doc: 'Number of readers on the raw socket.',
    kamailio: true,
    reload: 'restart',
    note: `${RAW}. Kamailio has no upper bound; 64 readers is far beyond what one socket needs.`,
  },
  promiscuous_on: {
    type: 'flag',
    default: 0,
    doc: 'Put raw_interface in promiscuous mode while capturing (Linux).',
    kamailio: true,
    reload: 'restart',
    note: RAW,
  },
  raw_moni_bpf_on: {
    type: 'flag',
    default: 0,
    doc: 'Attach a kernel filter (UDP, port range of raw_socket_listen) to the mirroring socket.',
    kamailio: true,
    reload: 'restart',
    note: RAW,
  },
  capture_node: {
    type: 'string',
    default: 'homer01',
    allowed: `up to ${CAPTURE_NODE_MAX} characters`,
    maxLength: CAPTURE_NODE_MAX,
    doc: 'Value of the `node` column (`capture_node:captid` for timestamped HEP).',
    kamailio: true,
    reload: 'row',
  },
  insert_retries: {
    type: 'int',
    default: 0,
    min: 0,
    max: 500,
    doc: 'How many more times a failed database write is tried (limited in time by insert_retry_timeout).',
    kamailio: true,
    reload: 'restart',
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
    reload: 'restart',
  },
  callid_aleg_header: {
    type: 'string',
    default: 'X-CID',
    allowed: 'header names separated by ";" (at most 16, no spaces)',
    check: checkAlegHeaders,
    doc: 'Header(s) whose value fills `callid_aleg`; the first one present wins.',
    kamailio: true,
    reload: 'row',
  },
  topoh_unmask: {
    type: 'flag',
    default: 0,
    strict: true,
    doc: 'Unmask topoh-masked Call-IDs (with topoh_mask_key and topoh_callid_prefix).',
    kamailio: true,
    reload: 'row',
    note: `${TOPOH}. Only 0 or 1: Kamailio enables it for exactly 1.`,
  },
  nonsip_hook: {
    type: 'flag',
    default: 0,
    doc: 'Call event_callback from hook_module for every HEP packet before it is decoded.',
    kamailio: true,
    reload: 'hook',
    note: `${HOOK}. Needs event_callback and hook_module (there is no event_route in sipcapture).`,
  },
  event_callback: {
    type: 'string',
    default: '',
    allowed: '"" or a JavaScript identifier (a function exported by hook_module)',
    check: (v) => (v === '' || /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(v) ? undefined : 'is not a JavaScript function name'),
    doc: 'Name of the function, exported by hook_module, that nonsip_hook calls.',
    kamailio: true,
    reload: 'hook',
    note: `${HOOK}. Replaces Kamailio's KEMI callback (broken there).`,
  },
  // ---- Kamailio parameters outside the admin guide ----
  capture_bad_msgs: {
    type: 'flag',
    default: 0,
    doc: 'Store messages whose header parsing failed part-way, ignoring bad From/To/Contact URIs.',
    kamailio: true,
    reload: 'row',
    note: 'behaviour: bad-message capture',
  },
  custom_field1_header: {
    type: 'string',
    default: 'Mac',
    allowed: '"" or a header name',
    check: checkHeaderName,
    doc: 'Header whose value fills `custom_field1` ("" = leave it empty).',
    kamailio: true,
    reload: 'row',
  },
  custom_field2_header: {
    type: 'string',
    default: 'IP',
    allowed: '"" or a header name',
    check: checkHeaderName,
    doc: 'Header whose value fills `custom_field2` ("" = leave it empty).',
    kamailio: true,
    reload: 'row',
  },
  custom_field3_header: {
    type: 'string',
    default: 'Port',
    allowed: '"" or a header name',
    check: checkHeaderName,
    doc: 'Header whose value fills `custom_field3` ("" = leave it empty).',
    kamailio: true,
    reload: 'row',
  },
  topoh_mask_key: {
    type: 'string',
    default: 'aL9.n8~Hm]Z',
    allowed: 'any string; non-empty when topoh_unmask is 1',
    doc: "topoh's `mask_key` (topoh module parameter), needed to unmask Call-IDs.",
    kamailio: true,
    reload: 'row',
    note: `${TOPOH}. A topoh modparam in Kamailio.`,
  },
  topoh_callid_prefix: {
    type: 'string',
    default: '!!:',
    allowed: 'any string; non-empty when topoh_unmask is 1',
    doc: "topoh's `callid_prefix` (topoh module parameter): marks a masked Call-ID.",
    kamailio: true,
    reload: 'row',
    note: `${TOPOH}. A topoh modparam in Kamailio.`,
  },
  // ---- sipcapture's own ----
  listen: {
    type: 'listen',
    default: ['udp:127.0.0.1:9060', 'tcp:127.0.0.1:9060'],
    allowed: `${LISTEN_FORMS}; IP literals only, ports 1..65535, no duplicates; or an object {address, ${LISTENER_KEYS.join(', ')}} with this listener's own access settings`,
    doc: 'Where HEP is received. Loopback by default, so nothing is exposed until you choose to. tls: needs tls_cert_file and tls_key_file.',
    kamailio: false,
    reload: 'restart',
    note: SECURITY,
  },
  routes: {
    type: 'routes',
    default: 'default',
    allowed: '"homer5", "default", or an array of rules {method, type, event, has_to_tag, table, capture_mode, shard, store, forward}',
    doc: 'Which table and capture mode a message goes to (the request_route of a Kamailio config); a rule\'s `forward` names destinations that get what it matches.',
    kamailio: false,
    reload: 'routing',
  },
  forward: {
    type: 'forward',
    default: [],
    allowed: `${FORWARD_FORMS}, or an object {${FORWARD_KEYS.join(', ')}}; names unique`,
    doc: 'Destinations every received HEP packet is relayed to (byte for byte; raw capture as HEP3), each with its own queue, reconnect and disk spool under spool_dir. Without db_url and capture modes the daemon is a pure relay. See docs/scale-out.md.',
    kamailio: false,
    reload: 'restart',
  },
  forward_queue_max_bytes: {
    type: 'int',
    default: 16 * 1048576,
    min: 65536,
    max: 1024 * 1048576,
    unit: 'bytes',
    doc: 'Packets waiting in memory per forward destination; beyond it (destination slow or down) they go to its spool.',
    kamailio: false,
    reload: 'restart',
  },
  heplify_metrics: {
    type: 'flag',
    default: 0,
    strict: true,
    doc: 'Also export heplify-server\'s metric names on /metrics (heplify_packets_total, heplify_method_response, …), so HOMER dashboards keep working.',
    kamailio: false,
    reload: 'restart',
  },
  hook_module: {
    type: 'string',
    default: '',
    allowed: '"" or a path to a JS module (relative to the config folder)',
    doc: 'Module exporting the event_callback function used by nonsip_hook.',
    kamailio: false,
    reload: 'hook',
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
    reload: 'hook',
    note: HOOK,
  },
  date_time_zone: {
    type: 'enum',
    default: 'UTC',
    values: ['UTC', 'local'],
    doc: 'Time zone of the `date` column. Kamailio writes local time; UTC matches the table-name date. `local` is refused when the environment\'s `TZ` is not a time zone Node knows (it would silently write UTC).',
    kamailio: false,
    reload: 'row',
  },
  batch_size: {
    type: 'int',
    default: 1000,
    min: 1,
    max: 100000,
    unit: 'rows',
    doc: 'Rows per database write.',
    kamailio: false,
    reload: 'restart',
  },
  batch_timeout_ms: {
    type: 'int',
    default: 200,
    min: 1,
    max: 1000,
    unit: 'ms',
    doc: 'Longest a row waits for its batch to fill before it is written (≤ 1 s keeps Homer near-live).',
    kamailio: false,
    reload: 'restart',
  },
  batch_merge: {
    type: 'int',
    default: 4,
    min: 1,
    max: 64,
    unit: 'batches',
    doc: 'When batches wait for the database, up to this many of one table are written as one insert (one COPY or transaction): larger writes cost the database less per row, so a writer that fell behind catches up. 1 = never merge.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: batching under backlog (docs/storage.md)',
  },
  queue_max_rows: {
    type: 'int',
    default: 200000,
    min: 1,
    max: 10000000,
    atLeast: 'batch_size',
    atLeastWhy: 'a batch could never fill',
    unit: 'rows',
    doc: 'Rows waiting for one database at most; beyond that rows are dropped and counted. Must be ≥ batch_size.',
    kamailio: false,
    reload: 'restart',
  },
  queue_max_bytes: {
    type: 'int',
    default: 67108864,
    min: 1048576,
    max: 17179869184,
    unit: 'bytes',
    doc: 'Estimated memory of the rows waiting for one database at most (message size plus a fixed per-row overhead); beyond that rows are dropped and counted queue_full.',
    kamailio: false,
    reload: 'restart',
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
    reload: 'restart',
    note: 'behaviour: memory bounds and crash guarantee (docs/storage.md)',
  },
  memory_limit_mb: {
    type: 'int',
    default: 512,
    min: 64,
    max: 1048576,
    zero: 'no limit',
    belowMin: 'is below what the daemon needs to run',
    unit: 'MiB',
    doc: 'Resident memory (RSS) of the daemon above which new packets are dropped at ingress, counted memory_limit, until it falls below 90% of the limit (or every queue is empty). Sampled every 200 ms. 0 = no limit.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: memory bounds (docs/storage.md)',
  },
  heap_growing_percent: {
    type: 'int',
    default: 60,
    min: 10,
    max: 400,
    zero: "V8's own heuristic",
    belowMin: 'would run a full garbage collection almost all the time',
    unit: '%',
    doc: 'How far the JavaScript heap may grow past its live data before the next full garbage collection (V8 --heap-growing-percent, set once the daemon listens, for every thread). V8 on its own lets a heap that allocates fast grow up to 4× its live data; at high rates most of that is rows already written, waiting for a collection. 60 cut the peak RSS at the zero-loss rates by 30–100 MiB (interleaved runs), with CPU per message and GC share within the run-to-run noise (docs/benchmarks.md). 0 = V8\'s own heuristic (or what node was started with).',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: memory (docs/storage.md)',
  },
  spool_dir: {
    type: 'string',
    default: '../var/spool',
    allowed: 'a directory path (relative to the config folder); one sub-directory per database URL',
    check: (v) => (v.trim() === '' ? 'is empty (give a directory; set spool_max_bytes 0 to switch the spool off)' : undefined),
    doc: 'Where rows the database cannot take (outage, retries exhausted) are kept on disk until it can; replayed in order, also after a restart.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: spool (docs/storage.md)',
  },
  spool_max_bytes: {
    type: 'int',
    default: 1073741824,
    min: 1048576,
    max: 1099511627776,
    zero: 'no spool',
    belowMin: 'is too small to hold a batch',
    unit: 'bytes',
    doc: 'Size limit of the spool of each database URL; when it is full, rows that cannot be written are dropped and counted spool_full. 0 = no spool (counted db_error).',
    kamailio: false,
    reload: 'restart',
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
    reload: 'restart',
    note: 'behaviour: table names (docs/storage.md)',
  },
  schema: {
    type: 'enum',
    default: 'homer5',
    values: SCHEMAS,
    doc: 'Tables of the default capture mode: `homer5` (sip_capture* as Kamailio writes them, read by webHomer) or `homer7` (hep_proto_* as heplify-server writes them, read by homer-app; PostgreSQL only). A named capture_mode sets its own with `;schema=homer7`.',
    kamailio: false,
    reload: 'routing',
    note: 'behaviour: HOMER 7 schema (docs/homer7.md)',
  },
  homer7_data_header: {
    type: 'string-list',
    default: DEFAULT_DATA_HEADER,
    allowed: `names from: ${DATA_HEADER_NAMES.join(', ')}`,
    doc: 'Keys of data_header in HOMER 7 SIP rows, in order (heplify-server\'s SIPHeader).',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: HOMER 7 schema (docs/homer7.md)',
  },
  homer7_partition_minutes: {
    type: 'int',
    default: 120,
    min: 5,
    max: 1440,
    unit: 'minutes',
    divides: 1440,
    doc: 'Length of each HOMER 7 partition (hep_proto_*_YYYYMMDD_HHMM, UTC); the ones for today and tomorrow are kept created ahead.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: HOMER 7 schema (docs/homer7.md)',
  },
  retention_days: {
    type: 'int',
    default: 0,
    min: 0,
    max: 36500,
    unit: 'days',
    doc: 'Daily tables (homer5) and partitions (homer7) older than this are dropped; 0 = keep forever. Per kind: retention_days_call, _registration, _default, _rtcp, _logs, _report.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: retention (docs/retention.md)',
  },
  retention_days_call: {
    type: 'int',
    default: -1,
    min: -1,
    max: 36500,
    unit: 'days',
    doc: 'Days call tables (sip_capture_call_*, hep_proto_1_call) are kept; -1 = retention_days, 0 = forever.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: retention (docs/retention.md)',
  },
  retention_days_registration: {
    type: 'int',
    default: -1,
    min: -1,
    max: 36500,
    unit: 'days',
    doc: 'Days registration tables (sip_capture_registration_*, hep_proto_1_registration) are kept; -1 = retention_days, 0 = forever.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: retention (docs/retention.md)',
  },
  retention_days_default: {
    type: 'int',
    default: -1,
    min: -1,
    max: 36500,
    unit: 'days',
    doc: 'Days the other SIP tables (sip_capture_rest_* and other daily SIP tables, hep_proto_1_default) are kept; -1 = retention_days, 0 = forever.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: retention (docs/retention.md)',
  },
  retention_days_rtcp: {
    type: 'int',
    default: -1,
    min: -1,
    max: 36500,
    unit: 'days',
    doc: 'Days RTCP partitions (hep_proto_5_default) are kept; -1 = retention_days, 0 = forever.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: retention (docs/retention.md)',
  },
  retention_days_logs: {
    type: 'int',
    default: -1,
    min: -1,
    max: 36500,
    unit: 'days',
    doc: 'Days log partitions (hep_proto_100_default) are kept; -1 = retention_days, 0 = forever.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: retention (docs/retention.md)',
  },
  retention_days_report: {
    type: 'int',
    default: -1,
    min: -1,
    max: 36500,
    unit: 'days',
    doc: 'Days report partitions (hep_proto_35_default) are kept; -1 = retention_days, 0 = forever.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: retention (docs/retention.md)',
  },
  retention_max_db_mb: {
    type: 'int',
    default: 0,
    min: 0,
    max: 1073741824,
    unit: 'MiB',
    doc: 'Size guard: while the database (PostgreSQL: pg_database_size; MySQL: its tables\' data and indexes; SQLite: the pages in use) is larger than this, the oldest prunable tables are dropped first, never one whose day or partition reaches the present. 0 = no limit.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: retention (docs/retention.md)',
  },
  retention_min_free_disk_mb: {
    type: 'int',
    default: 0,
    min: 0,
    max: 1073741824,
    unit: 'MiB',
    doc: 'Size guard for SQLite: while the file system of the database has less free space than this, the oldest prunable tables are dropped first. 0 = off.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: retention (docs/retention.md)',
  },
  retention_interval_s: {
    type: 'int',
    default: 3600,
    min: 60,
    max: 86400,
    unit: 's',
    doc: 'How often the daemon prunes (when any retention setting is on); also once at start.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: retention (docs/retention.md)',
  },
  dedup: {
    type: 'enum',
    default: 'off',
    values: ['off', 'agent', 'all'],
    doc: 'Drop copies of a SIP packet seen within dedup_window_ms (same payload bytes, addresses, ports and transport; counted duplicate): `agent` only merges copies with the same capture id (an agent sending a packet twice), `all` also merges copies from different agents. A UA retransmission inside the window is merged too.',
    kamailio: false,
    reload: 'dedup',
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
    reload: 'dedup',
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
    reload: 'dedup',
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
    reload: 'restart',
  },
  tcp_max_connections: {
    type: 'int',
    default: 1024,
    min: 0,
    max: 1000000,
    unit: 'connections',
    doc: 'Open connections per tcp:/tls: listener at most; more are closed at once and counted (0 = no limit). Keeps a connection flood from exhausting file descriptors.',
    kamailio: false,
    reload: 'restart',
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
    reload: 'restart',
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
    reload: 'restart',
    note: SECURITY,
  },
  hep_auth_keys: {
    type: 'string-list',
    default: [],
    allowed: 'a string or an array of non-empty strings (at most 1024 bytes each); [] = not enforced',
    doc: 'Accepted HEP auth keys (HEP3 chunk 0x000e) on every listener without its own list: packets with no key or another key are dropped (auth_failed), and so are HEP v1/v2 packets, which cannot carry a key.',
    kamailio: false,
    reload: 'restart',
    note: SECURITY,
  },
  allow_sources: {
    type: 'string-list',
    default: [],
    allowed: 'a string or an array of IPs or CIDRs (10.0.0.0/8, 2001:db8::/32; IPv4 rules also match ::ffff:a.b.c.d); [] = everyone',
    doc: 'Sources allowed to send to every listener without its own list: UDP datagrams from others are dropped (source_denied), TCP/TLS connections from others are closed at once. UDP sources can be spoofed: a filter, not authentication.',
    kamailio: false,
    reload: 'restart',
    note: SECURITY,
  },
  tls_cert_file: {
    type: 'string',
    default: '',
    allowed: '"" or a PEM certificate file (relative to the config folder; chain after the certificate)',
    doc: 'Server certificate of tls: listeners without their own; read and checked at start.',
    kamailio: false,
    reload: 'restart',
    note: SECURITY,
  },
  tls_key_file: {
    type: 'string',
    default: '',
    allowed: '"" or a PEM private key file (relative to the config folder), matching tls_cert_file',
    doc: 'Private key of tls_cert_file; read and checked at start.',
    kamailio: false,
    reload: 'restart',
    note: SECURITY,
  },
  tls_ca_file: {
    type: 'string',
    default: '',
    allowed: '"" or a PEM file of CA certificates (relative to the config folder); needed by tls_verify_client',
    doc: 'CA certificates agents\' client certificates must chain to when tls_verify_client is 1.',
    kamailio: false,
    reload: 'restart',
    note: SECURITY,
  },
  tls_verify_client: {
    type: 'flag',
    default: 0,
    strict: true,
    doc: 'tls: listeners ask for a client certificate and close connections without one that verifies against tls_ca_file (counted tls_client_cert).',
    kamailio: false,
    reload: 'restart',
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
    reload: 'restart',
  },
  udp_receive_thread: {
    type: 'int',
    default: 1,
    min: 0,
    max: 1,
    doc: 'Where HEP UDP sockets are read. 1 = each UDP listener has a thread that only drains its socket and hands datagrams to the main thread in batches; while the main thread is busy (GC, encoding, waiting for a core) up to 32 MiB of datagrams wait in that queue, and beyond it datagrams are counted as queue_full instead of overflowing the kernel buffer silently. 0 = read on the main thread.',
    kamailio: false,
    reload: 'restart',
  },
  tcp_receive_thread: {
    type: 'int',
    default: 1,
    min: 0,
    max: 1,
    doc: 'Where HEP TCP/TLS connections are read. 1 = each tcp:/tls: listener accepts, admits, decrypts and cuts frames in a thread of its own and hands frames to the main thread (or the pipeline threads) in batches; while the daemon is congested, or 4 MiB of its frames wait for the main thread, the thread stops reading its connections (TCP flow control slows the agents; nothing is dropped). 0 = on the main thread, which measured as fast on 2 cores shared with the database (docs/benchmarks.md, "TCP next to UDP").',
    kamailio: false,
    reload: 'restart',
  },
  pipeline_threads: {
    type: 'int',
    default: -1,
    min: -1,
    max: 64,
    unit: 'threads',
    doc: 'Threads that turn HEP packets into rows: decode, auth keys, dedup keys, SIP parse, the row, routing and, for PostgreSQL Homer 5 tables, the binary COPY encoding. The main thread keeps the database writers, the dedup table, the counters and the control plane. -1 = one per core the process may use but one (left to the main thread and the receive threads), at most 8, none on a single core; 0 = all of it on the main thread. Raw capture, pcap import and HEP forwarding (`forward`) stay on the main thread.',
    kamailio: false,
    reload: 'restart',
  },
  log_level: {
    type: 'enum',
    default: 'info',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'],
    doc: 'Least severe level that is logged.',
    kamailio: false,
    reload: 'log',
  },
  log_rate_limit_s: {
    type: 'int',
    default: 10,
    min: 0,
    max: 3600,
    unit: 's',
    doc: 'Minimum time between two log lines for the same drop reason (0 = log every drop).',
    kamailio: false,
    reload: 'log',
  },
  log_summary_s: {
    type: 'int',
    default: 300,
    min: 0,
    max: 86400,
    unit: 's',
    reload: 'log',
    doc: 'Every this many seconds, one log line `summary` with the packets received, rows stored and packets dropped (per reason) since the previous one, zeros included: a silent log then means a quiet network, not a dead daemon. 0 = off.',
    kamailio: false,
  },
  http_listen: {
    type: 'string',
    default: '127.0.0.1:9061',
    allowed: '"" (off) or IP:PORT, IPv6 as [::1]:9061',
    check: checkHttpListen,
    doc: 'Control HTTP server: JSON-RPC at POST /RPC, Prometheus metrics at GET /metrics, GET /health. Loopback by default: exposing it is an explicit choice.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: control plane (docs/operations.md)',
  },
  http_rpc: {
    type: 'flag',
    default: 1,
    doc: 'Answer JSON-RPC on http_listen. Set 0 when http_listen is reachable by others (e.g. for Prometheus): RPC has no authentication.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: control plane (docs/operations.md)',
  },
  http_viewer: {
    type: 'flag',
    default: 1,
    doc: 'Serve the call viewer on http_listen: search, live view and call flows at `/`, a read-only JSON API under `/api/`. It reads the databases through its own read-only connections.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: viewer (docs/viewer.md)',
  },
  http_viewer_token: {
    type: 'string',
    default: '',
    allowed: '"" (no token) or 16 to 200 printable ASCII characters',
    check: checkViewerToken,
    doc: 'Access token the viewer and its API require (open `/?token=…` once, or send `Authorization: Bearer …`). SIP holds personal data: set one when anyone but the operators can reach http_listen.',
    kamailio: false,
    reload: 'restart',
    note: 'behaviour: viewer (docs/security.md)',
  },
  rpc_socket: {
    type: 'string',
    default: 'sipcapture.sock',
    allowed: '"" (off) or a path (relative to the config folder), at most 107 bytes once resolved',
    doc: 'Unix socket for JSON-RPC (`sipcapture rpc`), created with mode 0600: only the daemon user and root may use it.',
    kamailio: false,
    reload: 'restart',
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
    case 'int': {
      const range = `${p.min}..${p.max}${p.unit ? ' ' + p.unit : ''}${p.atLeast ? `, and at least ${p.atLeast}` : ''}${p.divides ? `, and dividing ${p.divides}` : ''}`;
      return p.zero === undefined ? range : `0 = ${p.zero}, or ${range}`;
    }
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
