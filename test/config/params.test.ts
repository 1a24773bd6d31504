import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { PARAMS, paramSpec, allowedText, KAMAILIO_UNSUPPORTED } from '../../src/config/params.js';
import type { IntParam, ParamName } from '../../src/config/params.js';
import { oneProblem, valid, problems } from './helpers.js';
import { validateConfig } from '../../src/config/load.js';
import { renderParameterTable } from '../../src/config/render-docs.js';

/** Defaults of the admin guide and, for the parameters it leaves out, of Kamailio 5.6.3, transcribed. */
const KAMAILIO_DEFAULTS: Record<string, unknown> = {
  db_url: '',
  table_name: 'sip_capture',
  mt_mode: 'rand',
  hash_source: 'call_id',
  db_insert_mode: 0,
  capture_on: 0,
  capture_mode: [],
  hep_capture_on: 0,
  raw_ipip_capture_on: 0,
  raw_moni_capture_on: 0,
  raw_socket_listen: '',
  raw_interface: '',
  raw_sock_children: 1,
  promiscuous_on: 0,
  raw_moni_bpf_on: 0,
  capture_node: 'homer01',
  insert_retries: 0,
  insert_retry_timeout: 60,
  callid_aleg_header: 'X-CID',
  topoh_unmask: 0,
  nonsip_hook: 0,
  event_callback: '',
  capture_bad_msgs: 0,
  custom_field1_header: 'Mac',
  custom_field2_header: 'IP',
  custom_field3_header: 'Port',
  topoh_mask_key: 'aL9.n8~Hm]Z',
  topoh_callid_prefix: '!!:',
};

const OWN_DEFAULTS: Record<string, unknown> = {
  listen: ['udp:127.0.0.1:9060', 'tcp:127.0.0.1:9060'],
  routes: 'default',
  forward: [],
  forward_queue_max_bytes: 16777216,
  heplify_metrics: 0,
  hook_module: '',
  date_time_zone: 'UTC',
  batch_size: 1000,
  batch_timeout_ms: 200,
  batch_merge: 4,
  queue_max_rows: 200000,
  queue_max_bytes: 67108864,
  spool_after_batches: 4,
  memory_limit_mb: 512,
  heap_growing_percent: 60,
  spool_dir: '../var/spool',
  spool_max_bytes: 1073741824,
  table_date_window_days: 30,
  schema: 'homer5',
  homer7_data_header: ['ruri_user', 'ruri_domain', 'from_user', 'from_tag', 'to_user', 'to_tag', 'callid', 'cseq', 'method', 'user_agent'],
  homer7_partition_minutes: 120,
  retention_days: 0,
  retention_days_call: -1,
  retention_days_registration: -1,
  retention_days_default: -1,
  retention_days_rtcp: -1,
  retention_days_logs: -1,
  retention_days_report: -1,
  retention_max_db_mb: 0,
  retention_min_free_disk_mb: 0,
  retention_interval_s: 3600,
  tcp_max_frame: 65535,
  tcp_max_connections: 1024,
  tcp_max_connections_per_ip: 64,
  tcp_idle_timeout_s: 300,
  hep_auth_keys: [],
  allow_sources: [],
  tls_cert_file: '',
  tls_key_file: '',
  tls_ca_file: '',
  tls_verify_client: 0,
  udp_recv_buffer: 8 * 1024 * 1024,
  udp_receive_thread: 1,
  tcp_receive_thread: 1,
  pipeline_threads: -1,
  log_level: 'info',
  log_rate_limit_s: 10,
  log_summary_s: 300,
  hook_timeout_ms: 100,
  http_listen: '127.0.0.1:9061',
  http_rpc: 1,
  rpc_socket: 'sipcapture.sock',
  http_viewer: 1,
  http_viewer_token: '',
  dedup: 'off',
  dedup_window_ms: 1000,
  dedup_max_entries: 200000,
};

const RANGES: Record<string, [number, number]> = {
  db_insert_mode: [0, 2],
  pipeline_threads: [-1, 64],
  raw_sock_children: [1, 64],
  insert_retries: [0, 500],
  insert_retry_timeout: [0, 300],
  batch_size: [1, 100000],
  batch_merge: [1, 64],
  batch_timeout_ms: [1, 1000],
  queue_max_rows: [1, 10000000],
  queue_max_bytes: [1048576, 17179869184],
  forward_queue_max_bytes: [65536, 1073741824],
  spool_after_batches: [0, 10000],
  memory_limit_mb: [64, 1048576],
  spool_max_bytes: [1048576, 1099511627776],
  table_date_window_days: [0, 36500],
  homer7_partition_minutes: [5, 1440],
  retention_days: [0, 36500],
  retention_days_call: [-1, 36500],
  retention_days_registration: [-1, 36500],
  retention_days_default: [-1, 36500],
  retention_days_rtcp: [-1, 36500],
  retention_days_logs: [-1, 36500],
  retention_days_report: [-1, 36500],
  retention_max_db_mb: [0, 1073741824],
  retention_min_free_disk_mb: [0, 1073741824],
  retention_interval_s: [60, 86400],
  tcp_max_frame: [6, 65535],
  tcp_max_connections: [0, 1000000],
  tcp_max_connections_per_ip: [0, 1000000],
  tcp_idle_timeout_s: [0, 86400],
  udp_recv_buffer: [0, 1073741824],
  udp_receive_thread: [0, 1],
  tcp_receive_thread: [0, 1],
  heap_growing_percent: [10, 400],
  log_rate_limit_s: [0, 3600],
  log_summary_s: [0, 86400],
  hook_timeout_ms: [1, 60000],
  dedup_window_ms: [1, 60000],
  dedup_max_entries: [1, 10000000],
};

describe('parameter table', () => {
  test('has exactly the Kamailio parameters and our own', () => {
    assert.deepEqual(PARAMS.map((p) => p.name).sort(), [...Object.keys(KAMAILIO_DEFAULTS), ...Object.keys(OWN_DEFAULTS)].sort());
    for (const p of PARAMS) assert.equal(p.kamailio, p.name in KAMAILIO_DEFAULTS, p.name);
  });

  test('every Kamailio default equals the admin guide', () => {
    for (const [name, d] of Object.entries(KAMAILIO_DEFAULTS)) assert.deepEqual(paramSpec(name as never).default, d, name);
  });

  test("sipcapture's own defaults", () => {
    for (const [name, d] of Object.entries(OWN_DEFAULTS)) assert.deepEqual(paramSpec(name as never).default, d, name);
  });

  test('every parameter has a one-line doc', () => {
    for (const p of PARAMS) {
      assert.ok(p.doc.length > 10, p.name);
      assert.ok(!p.doc.includes('\n'), p.name);
    }
  });

  test('ranges are as documented', () => {
    for (const p of PARAMS.filter((x): x is IntParam & { name: never } => x.type === 'int')) {
      assert.deepEqual([p.min, p.max], RANGES[p.name], p.name);
    }
    assert.equal(Object.keys(RANGES).length, PARAMS.filter((x) => x.type === 'int').length);
  });

  test('the loaded configuration carries every default', () => {
    const c = valid();
    for (const [name, d] of Object.entries({ ...KAMAILIO_DEFAULTS, ...OWN_DEFAULTS })) {
      if (name === 'db_url' || name === 'rpc_socket' || name === 'spool_dir') continue; // resolved against the config folder
      assert.deepEqual((c as unknown as Record<string, unknown>)[name], d, name);
    }
  });

  test('column parameters are refused with the reason', () => {
    assert.ok('date_column' in KAMAILIO_UNSUPPORTED && 'custom_field3_column' in KAMAILIO_UNSUPPORTED);
    oneProblem({ msg_column: 'x' }, 'msg_column:', 'Kamailio parameter', 'fixed');
    oneProblem({ table_time_sufix: '%Y' }, 'table_time_sufix:', 'unused');
  });
});

describe('the admin guide (seed) defaults, if the seed is available', () => {
  const seed = '/work/shared/seeds/001_cfcccae5d1eda132.txt';
  test('each "Default value is" of the guide\'s parameters section matches the table', { skip: !existsSync(seed) }, () => {
    // The rendered guide (not its table of contents) puts a no-break space after section numbers.
    const text = readFileSync(seed, 'utf8');
    const body = text.slice(text.indexOf('3.\u00a0Parameters\n'), text.indexOf('4.\u00a0Functions\n'));
    const sections = body.split(/\n3\.\d+\.\u00a0/).slice(1);
    assert.equal(sections.length, 22);
    let checked = 0;
    for (const s of sections) {
      const name = s.slice(0, s.indexOf(' '));
      const m = /Default value is (?:"([^"]*)"|'([^']*)'|(\d+))/.exec(s);
      if (!m) continue; // capture_mode has none
      const seedDefault = m[1] ?? (m[2] === 'empty' ? '' : m[2]) ?? Number(m[3]);
      assert.deepEqual(paramSpec(name as never).default, typeof paramSpec(name as never).default === 'number' ? Number(seedDefault) : seedDefault, name);
      checked++;
    }
    assert.equal(checked, 21);
  });
});

describe('range boundaries', () => {
  for (const [name, [min, max]] of Object.entries(RANGES)) {
    test(`${name}: ${min} and ${max} in, ${min - 1} and ${max + 1} out`, () => {
      const extra = name === 'batch_size' ? { queue_max_rows: 10000000 } : name === 'queue_max_rows' ? { batch_size: 1 } : {};
      assert.equal((valid({ ...extra, [name]: min }) as unknown as Record<string, number>)[name], min);
      assert.equal((valid({ ...extra, [name]: max }) as unknown as Record<string, number>)[name], max);
      const spec = paramSpec(name as never) as IntParam;
      for (const v of [min - 1, max + 1]) {
        const why = v > 0 && v < min && spec.belowMin !== undefined ? spec.belowMin : 'is out of range';
        const p = oneProblem({ ...extra, [name]: v }, `${name}: ${v} ${why} (allowed ${allowedText(spec)}`);
        assert.ok(p.startsWith(name + ':'));
      }
    });
  }

  test('every documented range is exactly what validation accepts, boundaries included', () => {
    // The Allowed cell of the generated table, as a reader takes it: "[0 = …, or ]MIN..MAX[ unit][, and at least KEY][, and dividing N]".
    const rows = renderParameterTable().trim().split('\n').slice(2);
    const ints = PARAMS.filter((p): p is IntParam & { name: ParamName } => p.type === 'int');
    for (const p of ints) {
      const row = rows.find((r) => r.startsWith(`| \`${p.name}\` |`))!;
      const allowed = row.split(' | ')[3]!;
      const m = /^(0 = [^,]+, or )?(-?\d+)\.\.(\d+)(?: [^,]+)?(?:, and at least (\w+))?(?:, and dividing (\d+))?$/.exec(allowed);
      assert.ok(m, `${p.name}: cannot read the documented range "${allowed}"`);
      const [zeroAllowed, min, max, atLeast] = [m[1] !== undefined, Number(m[2]), Number(m[3]), m[4]];
      const floor = atLeast === undefined ? min : (paramSpec(atLeast as never).default as number);
      const divides = m[5] === undefined ? null : Number(m[5]);
      const documented = (v: number): boolean => (zeroAllowed && v === 0) || (v >= min && v <= max && v >= floor && (divides === null || divides % v === 0));
      // Keep the cross-check of batch_size ≤ queue_max_rows out of the way of batch_size's own range.
      const extra = p.name === 'batch_size' ? { queue_max_rows: 10000000 } : {};
      const probes = new Set([-1, 0, 1, min - 1, min, min + 1, max - 1, max, max + 1, floor - 1, floor, floor + 1, 7, 60, 120]);
      for (const v of probes) {
        let accepted = true;
        try {
          validateConfig({ db_url: 'sqlite://:memory:', ...extra, [p.name]: v }, '/tmp/test.json5');
        } catch {
          accepted = false;
        }
        assert.equal(accepted, documented(v), `${p.name} = ${v}: documented "${allowed}"`);
      }
    }
  });

  test('integers must be integers', () => {
    oneProblem({ insert_retries: 1.5 }, 'insert_retries: 1.5 is a non-integer number; expected an integer (allowed 0..500)');
    oneProblem({ insert_retries: '5' }, 'insert_retries: "5" is a string; expected an integer (allowed 0..500)');
    oneProblem({ insert_retries: null }, 'insert_retries: null is not allowed', 'leave the key out');
  });

  test('insert_retry_timeout without insert_retries is fine (docs/kamailio-differences.md C5)', () => {
    const c = valid({ insert_retries: 0, insert_retry_timeout: 300 });
    assert.equal(c.insert_retry_timeout, 300);
  });
});

describe('flags', () => {
  const flags = PARAMS.filter((p) => p.type === 'flag').map((p) => p.name);
  test('accept 0, 1, false, true; non-zero integers mean 1', () => {
    // These three need other keys set (cross-checks, tested in load.test.ts).
    const needOthers = new Set(['nonsip_hook', 'promiscuous_on', 'raw_moni_capture_on']);
    for (const f of flags.filter((x) => !needOthers.has(x))) {
      for (const [given, expected] of [[0, 0], [1, 1], [false, 0], [true, 1]] as const) {
        assert.equal((valid({ [f]: given }) as unknown as Record<string, number>)[f], expected, `${f}=${String(given)}`);
      }
    }
    assert.equal(valid({ capture_on: 7 }).capture_on, 1);
    assert.equal(valid({ hep_capture_on: -1 }).hep_capture_on, 1);
    assert.equal(valid({ capture_bad_msgs: 2 }).capture_bad_msgs, 1);
  });

  test('refuse strings with the allowed values', () => {
    oneProblem({ capture_on: '1' }, 'capture_on: "1" is a string; expected a flag (allowed 0/1 or false/true');
  });

  test('topoh_unmask accepts only 0 and 1 (Kamailio tests == 1)', () => {
    assert.equal(valid({ topoh_unmask: true }).topoh_unmask, 1);
    oneProblem({ topoh_unmask: 2 }, 'topoh_unmask: 2 is not allowed (allowed 0/1 or false/true', 'exactly 1');
  });
});

describe('enums and strings', () => {
  test('mt_mode is case-sensitive, hash_source is not', () => {
    for (const m of ['rand', 'round_robin', 'hash']) assert.equal(valid({ mt_mode: m }).mt_mode, m);
    oneProblem({ mt_mode: 'HASH' }, 'mt_mode: "HASH" is not allowed (allowed "rand", "round_robin", "hash")', 'case-sensitive', 'use "hash"');
    oneProblem({ mt_mode: 'roundrobin' }, 'did you mean round_robin?');
    assert.equal(valid({ hash_source: 'TO_USER' }).hash_source, 'to_user');
    assert.equal(valid({ hash_source: 'From_User' }).hash_source, 'from_user');
    oneProblem({ hash_source: 'callid' }, 'hash_source: "callid" is not allowed', 'did you mean call_id?');
  });

  test('date_time_zone and log_level', () => {
    assert.equal(valid({ date_time_zone: 'local' }).date_time_zone, 'local');
    oneProblem({ date_time_zone: 'Europe/Berlin' }, 'date_time_zone: "Europe/Berlin" is not allowed (allowed "UTC", "local")');
    assert.equal(valid({ log_level: 'debug' }).log_level, 'debug');
    oneProblem({ log_level: 'warning' }, 'log_level: "warning"', 'did you mean warn?');
  });

  test('capture_node length', () => {
    assert.equal(valid({ capture_node: 'x'.repeat(114) }).capture_node.length, 114);
    oneProblem({ capture_node: 'x'.repeat(115) }, 'capture_node:', '115 characters long (allowed up to 114 characters)');
    oneProblem({ capture_node: 3 }, 'capture_node: 3 is an integer; expected a string');
  });

  test('callid_aleg_header: list of up to 16 names, no spaces', () => {
    assert.equal(valid({ callid_aleg_header: 'X-CID0;X-CID1' }).callid_aleg_header, 'X-CID0;X-CID1');
    assert.equal(valid({ callid_aleg_header: '' }).callid_aleg_header, '');
    oneProblem({ callid_aleg_header: 'X-A; X-B' }, 'callid_aleg_header: "X-A; X-B"', 'whitespace');
    oneProblem({ callid_aleg_header: Array.from({ length: 17 }, (_, i) => `H${i}`).join(';') }, 'at most 16');
    oneProblem({ callid_aleg_header: 'A;;B' }, 'empty name');
  });

  test('custom field headers', () => {
    assert.equal(valid({ custom_field1_header: '' }).custom_field1_header, '');
    assert.equal(valid({ custom_field2_header: 'X-Real-IP' }).custom_field2_header, 'X-Real-IP');
    oneProblem({ custom_field3_header: 'X Port' }, 'custom_field3_header: "X Port": is not a header name');
  });

  test('event_callback must be a function name', () => {
    oneProblem({ event_callback: 'ksr.event' }, 'event_callback: "ksr.event": is not a JavaScript function name');
  });

  test('raw_interface', () => {
    assert.equal(valid({ raw_interface: 'eth0' }).raw_interface, 'eth0');
    oneProblem({ raw_interface: 'a-very-long-interface' }, 'raw_interface:', 'is not an interface name');
  });

  test('the allowed text of every parameter is non-empty', () => {
    for (const p of PARAMS) assert.ok(allowedText(p).length > 0, p.name);
  });

  test('several problems are all reported', () => {
    const ps = problems({ insert_retries: 900, insert_retry_timeout: -1, mt_mode: 'x', capture_on: 'on' });
    assert.equal(ps.length, 4);
  });
});
