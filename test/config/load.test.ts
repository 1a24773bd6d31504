import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigError,
  configWarnings,
  derivedConfigForDisplay,
  effectiveConfigForDisplay,
  loadConfig,
  suggestParameter,
  validateConfig,
} from '../../src/config/load.js';
import { PARAMS } from '../../src/config/params.js';
import { maskPasswords, sqliteFilePath } from '../../src/config/db-url.js';
import { oneProblem, problems, projectRoot, valid } from './helpers.js';

const root = projectRoot();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'sipcapture-config-'));

function writeTmp(name: string, text: string): string {
  const f = path.join(tmp, name);
  writeFileSync(f, text);
  return f;
}

describe('shipped configuration files', () => {
  test('config/sipcapture.json5: SQLite in <project>/var, loopback HEP, homer5', () => {
    const c = loadConfig(path.join(root, 'config', 'sipcapture.json5'));
    assert.equal(c.db_url, 'sqlite://' + path.join(root, 'var', 'sipcapture.sqlite'));
    assert.equal(sqliteFilePath(c.captureModes.get('default')!.db_url), path.join(root, 'var', 'sipcapture.sqlite'));
    assert.deepEqual(c.listen, ['udp:127.0.0.1:9060', 'tcp:127.0.0.1:9060']);
    assert.equal(c.capture_on, 1);
    assert.equal(c.hep_capture_on, 1);
    assert.equal(c.routes, 'homer5');
    assert.equal(c.routeRules.length, 5);
    assert.deepEqual(configWarnings(c), []);
  });
  test('the same file loads from any working directory', () => {
    const cwd = process.cwd();
    try {
      process.chdir(os.tmpdir());
      assert.equal(loadConfig(path.join(root, 'config', 'sipcapture.json5')).db_url, 'sqlite://' + path.join(root, 'var', 'sipcapture.sqlite'));
    } finally {
      process.chdir(cwd);
    }
  });
  const examples = readdirSync(path.join(root, 'config', 'examples')).filter((f) => f.endsWith('.json5'));
  test('there are examples', () => assert.ok(examples.length >= 2));
  for (const f of examples) {
    test(`config/examples/${f} loads cleanly`, () => {
      const c = loadConfig(path.join(root, 'config', 'examples', f));
      assert.ok(c.captureModes.size >= 1);
    });
  }
  test('the multi-mode example has a hash and a round_robin mode', () => {
    const c = loadConfig(path.join(root, 'config', 'examples', 'multi-mode.json5'));
    const modes = [...c.captureModes.values()].map((m) => m.mt_mode).sort();
    assert.deepEqual(modes, ['hash', 'round_robin']);
    assert.equal(c.captureModes.get('calls')!.db_url, 'sqlite://' + path.join(root, 'var', 'calls.sqlite'));
  });
});

describe('loadConfig', () => {
  test('a missing file', () => {
    assert.throws(() => loadConfig(path.join(tmp, 'nope.json5')), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /nope\.json5: 1 configuration problem:\n {2}- \(file\): cannot be read \(ENOENT: no such file or directory\)$/);
      return true;
    });
  });
  test('a JSON5 syntax error gives line and column', () => {
    const f = writeTmp('bad.json5', '{\n  capture_on: 1,\n  db_url: "x\n}\n');
    assert.throws(() => loadConfig(f), /\(syntax\): not valid JSON5 at line 4, column 0: invalid character '\\n'$/);
  });
  test('the top level must be an object', () => {
    const f = writeTmp('arr.json5', '[1]');
    assert.throws(() => loadConfig(f), /\(top level\): expected an object of parameters, got an array/);
  });
  test('comments, trailing commas and unquoted keys', () => {
    const f = writeTmp('ok.json5', '// c\n{ db_url: "sqlite://x.sqlite", /* c */ insert_retries: 3, }\n');
    const c = loadConfig(f);
    assert.equal(c.insert_retries, 3);
    assert.equal(c.db_url, 'sqlite://' + path.join(tmp, 'x.sqlite'), 'relative to the config folder');
  });
});

describe('unknown keys', () => {
  test('with a suggestion', () => {
    oneProblem({ tabel_name: 'x' }, 'tabel_name: unknown parameter — did you mean table_name?');
    oneProblem({ capture_mod: 'x' }, 'did you mean capture_mode?');
    oneProblem({ Capture_On: 1 }, 'did you mean capture_on?');
    oneProblem({ insert_retry: 1 }, 'did you mean insert_retries?');
    assert.equal(suggestParameter('hep_capture'), 'hep_capture_on');
  });
  test('without one', () => {
    oneProblem({ completely_different: 1 }, 'completely_different: unknown parameter (the parameters are listed in docs/configuration.md)');
  });
  test('every problem at once, in one error', () => {
    try {
      validateConfig({ tabel_name: 'x', insert_retries: 900, mt_mode: 'HASH', listen: 'udp:x:1' }, 'my.json5');
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.source, 'my.json5');
      assert.equal(e.problems.length, 5);
      assert.match(e.message, /^my\.json5: 5 configuration problems:\n {2}- tabel_name: unknown parameter/);
      assert.ok(e.message.includes('  - insert_retries: 900 is out of range (allowed 0..500)'));
    }
  });
});

describe('db_url', () => {
  test('schemes', () => {
    assert.equal(valid({ db_url: 'postgres://u:p@localhost/homer' }).db_url, 'postgres://u:p@localhost/homer');
    assert.equal(valid({ db_url: 'postgresql://u:p@localhost:5433/homer' }).db_url, 'postgresql://u:p@localhost:5433/homer');
    assert.equal(valid({ db_url: 'mysql://user:passwd@host/dbname' }).db_url, 'mysql://user:passwd@host/dbname');
    assert.equal(valid({ db_url: 'sqlite:///var/lib/x.sqlite' }).db_url, 'sqlite:///var/lib/x.sqlite', 'absolute stays');
    assert.equal(valid({ db_url: 'sqlite://x.sqlite' }).db_url, 'sqlite:///tmp/x.sqlite', 'relative to the folder of the source');
    assert.equal(validateConfig({ db_url: 'sqlite://x.sqlite' }, 'inline', { baseDir: '/srv' }).db_url, 'sqlite:///srv/x.sqlite');
  });
  test('errors', () => {
    oneProblem({ db_url: 'text:///tmp/db' }, 'db_url: "text:///tmp/db": uses the scheme "text", which sipcapture does not support (allowed: sqlite://PATH');
    oneProblem({ db_url: 'homer.sqlite' }, 'db_url: "homer.sqlite": is not a database URL');
    oneProblem({ db_url: 'sqlite://' }, 'has no file path');
    oneProblem({ db_url: 'mysql://u:p@host' }, 'has no database name');
    oneProblem({ db_url: 'postgres:///db' }, 'has no host');
  });
  test('passwords are masked in messages', () => {
    const p = oneProblem({ db_url: 'mysql://u:topsecret@host' }, 'db_url: "mysql://u:*********@host"');
    assert.ok(!p.includes('topsecret'));
    assert.equal(maskPasswords('a mysql://u:p@h/d and postgres://x:y;z@h/d'), 'a mysql://u:***@h/d and postgres://x:***@h/d');
  });
  test('a raw @, #, / or ? in a password is masked whole, and refused with the advice to percent-encode', () => {
    assert.equal(maskPasswords('postgres://u:p#ss@w0rd@h/db'), 'postgres://u:***@h/db');
    assert.equal(maskPasswords('["mysql://u:a/b?c@h/d","x@y"]', true), '["mysql://u:*****@h/d","x@y"]');
    for (const [url, chars] of [
      ['postgres://u:qz@xk@h/db', '"@"'],
      ['postgres://u:qz#xk@h/db', '"#"'],
      ['mysql://u:qz/x?k@h:3306/db', '"/" and "?"'],
    ] as const) {
      const p = oneProblem({ db_url: url }, `raw ${chars} in its user name or password, which cuts the URL short: percent-encode it (@ → %40, # → %23`);
      for (const secret of ['qz', 'xk', 'x?k']) assert.ok(!p.includes(secret), p);
    }
    assert.equal(valid({ db_url: 'postgres://u:p%40s%23s@h/db' }).db_url, 'postgres://u:p%40s%23s@h/db');
    assert.equal(valid({ db_url: 'postgres://u:p@h/db?application_name=a@b' }).db_url, 'postgres://u:p@h/db?application_name=a@b');
  });
});

describe('cross-checks', () => {
  test('only one raw mode at a time', () => {
    oneProblem({ raw_ipip_capture_on: 1, raw_moni_capture_on: 1, raw_socket_listen: '10.0.0.0:5060' }, 'raw_moni_capture_on: 1 together with raw_ipip_capture_on 1 — only one raw mode at a time');
  });
  test('mirroring needs a port in raw_socket_listen', () => {
    oneProblem({ raw_moni_capture_on: 1 }, 'raw_socket_listen: "" — raw_moni_capture_on: port mirroring needs a port or port range here');
    oneProblem({ raw_moni_capture_on: 1, raw_socket_listen: '10.0.0.0' }, 'raw_socket_listen: "10.0.0.0" — raw_moni_capture_on: port mirroring needs a port');
    assert.equal(valid({ raw_moni_capture_on: 1, raw_socket_listen: '10.0.0.0:5060-5090' }).raw_moni_capture_on, 1);
    assert.equal(valid({ raw_ipip_capture_on: 1, raw_socket_listen: '10.0.0.1' }).raw_ipip_capture_on, 1, 'IPIP needs no port');
    // A bad value is reported once, by its own check.
    oneProblem({ raw_moni_capture_on: 1, raw_socket_listen: 'x:1' }, 'raw_socket_listen: "x:1": "x" is not an IP address');
  });
  test('promiscuous_on needs raw_interface', () => {
    oneProblem({ promiscuous_on: 1 }, 'promiscuous_on: 1 needs raw_interface');
    assert.equal(valid({ promiscuous_on: 1, raw_interface: 'eth0' }).promiscuous_on, 1);
  });
  test('nonsip_hook needs event_callback and hook_module', () => {
    oneProblem({ nonsip_hook: 1 }, 'nonsip_hook: 1 needs event_callback and hook_module to be set', 'no event_route');
    oneProblem({ nonsip_hook: 1, event_callback: 'onHep' }, 'nonsip_hook: 1 needs hook_module to be set');
    const hook = writeTmp('hook.mjs', 'export function onHep() { return 1; }\n');
    const c = validateConfig({ db_url: 'sqlite://x', nonsip_hook: 1, event_callback: 'onHep', hook_module: 'hook.mjs' }, path.join(tmp, 'c.json5'));
    assert.equal(c.hook_module, hook, 'resolved against the config folder');
    const ps = problems({ nonsip_hook: 1, event_callback: 'onHep', hook_module: 'missing.mjs' });
    assert.equal(ps.length, 1);
    assert.match(ps[0]!, /^hook_module: "missing.mjs": file not found \(looked for \/tmp\/missing.mjs\)/);
  });
  test('topoh_unmask needs the key and the prefix', () => {
    assert.equal(valid({ topoh_unmask: 1 }).topoh_mask_key, 'aL9.n8~Hm]Z');
    const ps = problems({ topoh_unmask: 1, topoh_mask_key: '', topoh_callid_prefix: '' });
    assert.deepEqual(ps.map((p) => p.split(':')[0]), ['topoh_mask_key', 'topoh_callid_prefix']);
  });
  test('memory_limit_mb: 0 (off) or at least 64', () => {
    oneProblem({ memory_limit_mb: 63 }, 'memory_limit_mb: 63 is below what the daemon needs to run (allowed 0 = no limit, or 64..1048576 MiB)');
    assert.equal(valid({ memory_limit_mb: 0 }).memory_limit_mb, 0);
    assert.equal(valid({ memory_limit_mb: 64 }).memory_limit_mb, 64);
  });

  test('heap_growing_percent: 0 (V8 decides) or 10..400', () => {
    oneProblem({ heap_growing_percent: 9 }, "heap_growing_percent: 9 would run a full garbage collection almost all the time (allowed 0 = V8's own heuristic, or 10..400 %)");
    oneProblem({ heap_growing_percent: 401 }, 'heap_growing_percent');
    assert.equal(valid({}).heap_growing_percent, 60);
    assert.equal(valid({ heap_growing_percent: 0 }).heap_growing_percent, 0);
    assert.equal(valid({ heap_growing_percent: 10 }).heap_growing_percent, 10);
  });

  test('queue_max_rows ≥ batch_size', () => {
    oneProblem({ batch_size: 5000, queue_max_rows: 4999 }, 'queue_max_rows: 4999 is smaller than batch_size 5000');
    assert.equal(valid({ batch_size: 5000, queue_max_rows: 5000 }).queue_max_rows, 5000);
  });
  test('insert_retry_timeout without insert_retries: no error, no warning (docs/kamailio-differences.md C5)', () => {
    const c = valid({ insert_retry_timeout: 10, capture_on: 1, hep_capture_on: 1 });
    assert.deepEqual(configWarnings(c), []);
  });
});

describe('warnings', () => {
  test('Kamailio defaults: capture and HEP off', () => {
    const w = configWarnings(valid());
    assert.equal(w.length, 2);
    assert.match(w[0]!, /capture_on is 0/);
    assert.match(w[1]!, /no input is captured/);
  });
  test('raw parameters without a raw mode, hook without nonsip_hook, db_insert_mode off MySQL', () => {
    const w = configWarnings(valid({ capture_on: 1, hep_capture_on: 1, raw_interface: 'eth0', raw_sock_children: 4, event_callback: 'f', db_insert_mode: 1 }));
    assert.equal(w.length, 3, w.join('\n'));
    assert.match(w[0]!, /raw_interface, raw_sock_children have no effect/);
    assert.match(w[1]!, /nonsip_hook is 0/);
    assert.match(w[2]!, /db_insert_mode 1 only affects MySQL; capture modes default/);
  });
});

describe('effectiveConfigForDisplay', () => {
  test('every parameter, defaults included, passwords masked, plain JSON', () => {
    const c = valid({
      db_url: 'mysql://homer:s3cret@db/homer_data',
      capture_mode: 'm=>db_url=postgres://u:pw@h/db;table_name=t;mt_mode=rand',
    });
    const d = effectiveConfigForDisplay(c);
    assert.deepEqual(Object.keys(d), PARAMS.map((p) => p.name));
    assert.equal(d.db_url, 'mysql://homer:***@db/homer_data');
    assert.deepEqual(d.capture_mode, ['m=>db_url=postgres://u:***@h/db;table_name=t;mt_mode=rand']);
    assert.equal(d.insert_retry_timeout, 60);
    const text = JSON.stringify(d);
    assert.ok(!text.includes('s3cret') && !text.includes(':pw@'));
    assert.deepEqual(JSON.parse(text), d);
    const derived = JSON.stringify(derivedConfigForDisplay(c));
    assert.ok(!derived.includes('s3cret') && !derived.includes(':pw@'));
    assert.match(derived, /"routeRules":\[\{\}\]/);
  });
});

describe('date_time_zone: local', () => {
  const withTz = <T>(tz: string | undefined, fn: () => T): T => {
    const before = process.env['TZ'];
    if (tz === undefined) delete process.env['TZ'];
    else process.env['TZ'] = tz;
    try {
      return fn();
    } finally {
      if (before === undefined) delete process.env['TZ'];
      else process.env['TZ'] = before;
    }
  };
  test('a TZ Node does not know is refused instead of silently writing UTC', () => {
    for (const tz of ['Foo/Bar', 'CET-1CEST', 'Europe/Pariss']) {
      withTz(tz, () => oneProblem({ date_time_zone: 'local' }, `date_time_zone: "local", but the environment's TZ="${tz}" is not a time zone Node knows, so it would write UTC`));
    }
    withTz('Foo/Bar', () => assert.equal(valid({ date_time_zone: 'UTC' }).date_time_zone, 'UTC', 'UTC does not read TZ'));
  });
  test('an IANA name, with or without the leading colon, is accepted', () => {
    for (const tz of ['Europe/Paris', ':America/New_York', 'UTC']) {
      withTz(tz, () => assert.equal(valid({ date_time_zone: 'local' }).date_time_zone, 'local', tz));
    }
  });
});
