/**
 * The effective configuration after loading and validation (see params.ts for the parameter
 * table: names, types, defaults, ranges and docs). Keys are Kamailio's modparam names; the few
 * keys Kamailio does not have (listen, routes, batching, …) are documented as sipcapture's own.
 */

import type { Cidr } from '../net/cidr.js';

/** A `forward` destination, validated (config/forward.ts). */
export type ForwardProtocol = 'udp' | 'tcp' | 'tls';

export interface ForwardDestination {
  /** Unique; routes name it, metrics label it, its spool directory is named after it. */
  name: string;
  protocol: ForwardProtocol;
  host: string;
  port: number;
  /** The address as written (`tcp:HOST:PORT`). */
  spec: string;
  /** HEP protocol types to send (chunk 0x000b; 1 = SIP, 5 = RTCP, 100 = log …); null = all. */
  hepTypes: readonly number[] | null;
  /** SIP methods to send (requests by method, replies by their CSeq method); null = all. */
  methods: readonly string[] | null;
  /** Source addresses (the captured packet's source IP) to send; null = all. */
  sources: readonly Cidr[] | null;
  /** undefined: keep the agent's chunk 0x000e; null: remove it; a string: put this key instead. */
  authKey: string | null | undefined;
  /** tls: only; absolute paths. Without ca the system CAs verify the server. */
  tls: { caFile: string | null; certFile: string | null; keyFile: string | null } | null;
}

export type MtMode = 'rand' | 'round_robin' | 'hash';
export type HashSource = 'call_id' | 'from_user' | 'to_user';
/** The tables a capture mode writes: Homer 5's `sip_capture*` (default) or HOMER 7's `hep_proto_*` (PostgreSQL only). */
export type Schema = 'homer5' | 'homer7';

/** A parsed `capture_mode`, or the implicit `default` mode built from the module params. */
export interface CaptureMode {
  name: string;
  db_url: string;
  /** Table name templates (strftime patterns allowed), split on `|` and whitespace, no empties. */
  table_name: string[];
  mt_mode: MtMode;
  hash_source: HashSource;
  /** Absent: homer5. */
  schema?: Schema;
}

/**
 * One rule of the request_route equivalent: the first rule whose conditions all hold decides
 * where a SIP message goes. A rule with no conditions matches everything.
 */
export interface RouteRule {
  /** Match `$rm`: the request method, or for replies the CSeq method. Case-insensitive, as Kamailio's `$rm =~`. */
  method?: string[];
  /** Match messages with (true) or without (false) a non-empty To tag: Kamailio's `has_totag()`. */
  has_to_tag?: boolean;
  /** Match request or reply. */
  type?: 'request' | 'reply';
  /** Regular expression (source) the `Event` header must match (Homer 5: NOTIFY `refer;`). */
  event?: string;
  /** Table template for sip_capture(table): strftime on the packet's UTC time. Empty = mode's list. */
  table?: string;
  /** Capture mode name; default `default`. */
  capture_mode?: string;
  /** Capture modes to spread calls over (instead of capture_mode): CRC-32 of the Call-ID picks one, so a call stays on one database. */
  shard?: string[];
  /** false: matching messages are not stored (counted as `filtered` unless forwarded). Default true. */
  store?: boolean;
  /** Names of `forward` destinations that get matching messages (and only what such rules send them). */
  forward?: string[];
}

export type ListenProtocol = 'udp' | 'tcp' | 'tls';

/** A `listen` entry: an address string, or an object with the address and per-listener access settings. */
export interface ListenEntryObject {
  address: string;
  hep_auth_keys?: string[];
  allow_sources?: string[];
  tls_cert_file?: string;
  tls_key_file?: string;
  tls_ca_file?: string;
  tls_verify_client?: number;
}
export type ListenEntry = string | ListenEntryObject;

/** Certificate settings of a `tls:` listener (absolute paths once loaded). */
export interface TlsSettings {
  certFile: string;
  keyFile: string;
  /** CA bundle client certificates must chain to ('' = none). */
  caFile: string;
  /** Ask for a client certificate and close connections whose certificate does not verify against caFile. */
  verifyClient: boolean;
}

/** Who may send to one listener (the global keys, or the entry's own). */
export interface ListenerAccess {
  /** Accepted HEP auth keys (chunk 0x000e); empty = not enforced. */
  authKeys: string[];
  /** Allowed sources, IPs or CIDRs; empty = everyone. */
  allowSources: string[];
  /** For `tls:` listeners; null otherwise. */
  tls: TlsSettings | null;
}

export interface ListenAddress {
  /** As written in the config, e.g. `udp:127.0.0.1:9060`. */
  spec: string;
  protocol: ListenProtocol;
  host: string;
  port: number;
  /** Who may send (filled by the loader; parseListen alone gives the open default). */
  access: ListenerAccess;
}

export interface SipcaptureConfig {
  // ---- Kamailio sipcapture module parameters ----
  db_url: string;
  table_name: string;
  mt_mode: MtMode;
  hash_source: HashSource;
  db_insert_mode: number;
  capture_on: number;
  /** Raw `capture_mode` strings as given (Kamailio grammar). Parsed result: captureModes. */
  capture_mode: string[];
  hep_capture_on: number;
  raw_ipip_capture_on: number;
  raw_moni_capture_on: number;
  raw_socket_listen: string;
  raw_interface: string;
  raw_sock_children: number;
  promiscuous_on: number;
  raw_moni_bpf_on: number;
  capture_node: string;
  insert_retries: number;
  insert_retry_timeout: number;
  callid_aleg_header: string;
  topoh_unmask: number;
  nonsip_hook: number;
  event_callback: string;
  // ---- Kamailio parameters outside the admin guide ----
  capture_bad_msgs: number;
  custom_field1_header: string;
  custom_field2_header: string;
  custom_field3_header: string;
  /** topoh's mask_key and callid_prefix, needed by a stand-alone unmask. */
  topoh_mask_key: string;
  topoh_callid_prefix: string;
  // ---- sipcapture's own ----
  /** Listeners, `udp:IP:PORT` / `tcp:IP:PORT` / `tls:IP:PORT` (IPv6 as `udp:[::1]:9060`), or objects with per-listener access settings. */
  listen: ListenEntry[];
  /** `homer5` (per-method daily tables), `default` (sip_capture() with the default mode) or rules. */
  routes: 'homer5' | 'default' | RouteRule[];
  /** Where received HEP is relayed (config/forward.ts). */
  forward: ForwardDestination[];
  /** Bytes of packets waiting in memory per forward destination before they go to its spool. */
  forward_queue_max_bytes: number;
  /** 1: /metrics also exports heplify-server's metric names (heplify_packets_total, …). */
  heplify_metrics: number;
  /** JS/TS module exporting the event_callback function (nonsip_hook). */
  hook_module: string;
  /** Longest a hook call may take per packet, ms. */
  hook_timeout_ms: number;
  /** Time zone for the `date` column: `UTC` (default) or `local`. */
  date_time_zone: 'UTC' | 'local';
  /** Rows per database batch. */
  batch_size: number;
  /** Longest time a row waits in a batch before it is flushed, ms. */
  batch_timeout_ms: number;
  /** Upper bound on rows waiting for the database, per database URL; beyond it rows are dropped and counted. */
  queue_max_rows: number;
  /** Upper bound on the estimated bytes of rows waiting for the database, per database URL. */
  queue_max_bytes: number;
  /** Full batches waiting for a write slot beyond which new batches go to the spool; 0 = never. */
  spool_after_batches: number;
  /** Waiting batches of one table written as one insert under backlog, at most (1 = never merge). */
  batch_merge: number;
  /** RSS in MiB above which packets are shed at ingress; 0 = no limit. */
  memory_limit_mb: number;
  /** V8 heap growth past live data before a full GC, percent; 0 = V8's own heuristic. Applied once listening. */
  heap_growing_percent: number;
  /** Spool directory (absolute once loaded); one sub-directory per database URL. */
  spool_dir: string;
  /** Size limit of each database URL's spool, bytes; 0 = no spool. */
  spool_max_bytes: number;
  /** Packets dated outside [now − N days, now + 1 day] get today's table name; 0 = no limit. */
  table_date_window_days: number;
  /** Schema of the default capture mode. */
  schema: Schema;
  /** data_header keys of HOMER 7 SIP rows. */
  homer7_data_header: string[];
  /** HOMER 7 partition length, minutes (divides a day). */
  homer7_partition_minutes: number;
  /** Days tables and partitions are kept; 0 = forever. */
  retention_days: number;
  /** Per kind; -1 = retention_days. */
  retention_days_call: number;
  retention_days_registration: number;
  retention_days_default: number;
  retention_days_rtcp: number;
  retention_days_logs: number;
  retention_days_report: number;
  /** Size guard: database (or SQLite file) size limit, MiB; 0 = none. */
  retention_max_db_mb: number;
  /** Size guard for SQLite: free space to keep on its file system, MiB; 0 = off. */
  retention_min_free_disk_mb: number;
  /** Seconds between two prune runs of the daemon. */
  retention_interval_s: number;
  /** De-duplication of SIP copies: off, per capture id (`agent`), or across agents (`all`). */
  dedup: 'off' | 'agent' | 'all';
  /** How long a packet is remembered for dedup, ms. */
  dedup_window_ms: number;
  /** Most packets remembered for dedup. */
  dedup_max_entries: number;
  /** Largest accepted HEP frame on TCP, bytes (a larger length field closes the connection). */
  tcp_max_frame: number;
  /** Accepted HEP auth keys for every listener without its own list; empty = not enforced. */
  hep_auth_keys: string[];
  /** Allowed source IPs / CIDRs for every listener without its own list; empty = everyone. */
  allow_sources: string[];
  /** Certificate, key and CA files for tls: listeners (absolute once loaded; '' = none). */
  tls_cert_file: string;
  tls_key_file: string;
  tls_ca_file: string;
  /** 1: tls: listeners require a client certificate signed by tls_ca_file. */
  tls_verify_client: number;
  /** Open connections per TCP/TLS listener, at most; 0 = no limit. */
  tcp_max_connections: number;
  /** Open connections per TCP/TLS listener from one source address, at most; 0 = no limit. */
  tcp_max_connections_per_ip: number;
  /** A TCP/TLS connection without data for this long is closed, seconds; 0 = never. */
  tcp_idle_timeout_s: number;
  /** Socket receive buffer requested for UDP listeners, bytes (capped by net.core.rmem_max). */
  udp_recv_buffer: number;
  /** 1: each HEP UDP listener's socket is read by a thread of its own (listeners/receive-thread.ts); 0: on the main thread. */
  udp_receive_thread: number;
  /** 1: each HEP TCP/TLS listener accepts, decrypts and frames in a thread of its own (listeners/tcp-threaded.ts); 0: on the main thread. */
  tcp_receive_thread: number;
  /** Pipeline threads (-1 = from the cores, see pipelineThreadsOf; 0 = none). */
  pipeline_threads: number;
  log_level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** Minimum seconds between two log lines for the same drop reason. */
  log_rate_limit_s: number;
  /** Seconds between two `summary` log lines (0 = none). */
  log_summary_s: number;
  /** Control HTTP server `IP:PORT` (JSON-RPC /RPC, /metrics, /health), or '' for none. */
  http_listen: string;
  /** 1: answer JSON-RPC on http_listen too (0: only /metrics and /health). */
  http_rpc: number;
  /** Unix socket for JSON-RPC (absolute once loaded), or '' for none. */
  rpc_socket: string;
  /** 1: serve the call viewer (`/`, `/api/…`) on http_listen. */
  http_viewer: number;
  /** Token the viewer requires ('' = none). */
  http_viewer_token: string;

  // ---- derived by the loader (not config keys) ----
  /** All capture modes by name, `default` included (built from db_url/table_name/mt_mode/hash_source). */
  captureModes: Map<string, CaptureMode>;
  /** Parsed listen addresses. */
  listenAddresses: ListenAddress[];
  /** Resolved route rules (the `homer5`/`default` presets expanded). */
  routeRules: RouteRule[];
}
