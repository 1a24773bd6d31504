/**
 * `sipcapture import-kamailio`: a Homer 5 style kamailio.cfg (preprocessor defines, ifdefs,
 * comments, capture modes, topoh) becomes a valid sipcapture config, and what cannot be
 * translated is listed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import JSON5 from 'json5';
import { validateConfig } from '../../src/config/load.js';
import { expandRoutes } from '../../src/config/routes.js';
import type { RouteRule } from '../../src/config/types.js';
import { translateKamailioCfg } from '../../src/commands/import-kamailio.js';
import { runCli } from '../helpers/cli.js';
import { makeTmpDir } from '../control/helpers.js';

const CFG = `#!KAMAILIO
#
# Homer 5 capture node
#!define WITH_HOMER_GEO
#!define DBURL "mysql://homer:homer_password@localhost/homer_data"
#!substdef "!HEP_PORT!9060!g"
#!ifdef WITH_NOTHING
modparam("sipcapture", "capture_node", "wrong")
#!endif

debug=1
children=8
tcp_accept_hep3=yes
listen=udp:10.0.0.5:HEP_PORT
listen=tcp:10.0.0.5:HEP_PORT
listen=udp:eth0:5060
listen=tls:10.0.0.5:5061
listen=udp:[2001:db8::5]:9060 advertise 192.0.2.1:9060

loadmodule "sipcapture.so"
loadmodule "topoh.so"

modparam("topoh", "mask_key", "MyKey-123")
modparam("topoh", "callid_prefix", "##:")
modparam("topoh", "mask_callid", 1)

/* capture settings */
modparam("sipcapture", "db_url", DBURL)
modparam("sipcapture", "capture_on", 1)
modparam("sipcapture", "hep_capture_on", 1) # HEP on
modparam("sipcapture", "insert_retries", 5)
modparam("sipcapture", "insert_retry_timeout", 10)
modparam("sipcapture", "callid_aleg_header", "X-CID;X-Leg")
modparam("sipcapture", "topoh_unmask", 1)
modparam("sipcapture", "nonsip_hook", 1)
modparam("sipcapture", "capture_mode", "cm1=>db_url=mysql://homer:x@db1/homer_data;table_name=sip_capture_a|sip_capture_b;mt_mode=hash;hash_source=call_id")
modparam("sipcapture", "capture_mode", "cm2=>db_url=mysql://homer:x@db2/homer_data;table_name=sip_capture;mt_mode=rand")
modparam("sipcapture", "callid_column", "cid")
modparam("sipcapture", "table_time_sufix", "%Y%m%D")
modparam("sipcapture", "bogus_param", 3)
// modparam("sipcapture", "capture_node", "commented")

request_route {
  if (is_method("INVITE|UPDATE|BYE|ACK|PRACK|REFER|CANCEL")) {
    sip_capture("sip_capture_call_%Y%m%d");
  } else if (is_method("REGISTER")) {
    sip_capture("sip_capture_registration_%Y%m%d");
  } else {
    sip_capture("sip_capture_rest_%Y%m%d");
  }
}

event_route[sipcapture:request] {
  if ($hep(0x00b) != 1) { report_capture("report_capture", "$hep(0x011)"); return 0; }
  return 1;
}
`;

describe('import-kamailio', () => {
  let dir: string;
  before(() => {
    dir = makeTmpDir('sipcapture-import-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('translates modparams, defines, listen lines and the Homer 5 routes', () => {
    const r = translateKamailioCfg(CFG);
    const c = Object.fromEntries(r.config);
    assert.equal(c['db_url'], 'mysql://homer:homer_password@localhost/homer_data');
    assert.equal(c['capture_on'], 1);
    assert.equal(c['hep_capture_on'], 1);
    assert.equal(c['insert_retries'], 5);
    assert.equal(c['insert_retry_timeout'], 10);
    assert.equal(c['callid_aleg_header'], 'X-CID;X-Leg');
    assert.equal(c['topoh_unmask'], 1);
    assert.equal(c['topoh_mask_key'], 'MyKey-123');
    assert.equal(c['topoh_callid_prefix'], '##:');
    assert.equal(c['capture_node'], undefined, 'the #!ifdef-ed and commented lines are skipped');
    assert.equal(c['nonsip_hook'], undefined);
    assert.deepEqual(c['capture_mode'], [
      'cm1=>db_url=mysql://homer:x@db1/homer_data;table_name=sip_capture_a|sip_capture_b;mt_mode=hash;hash_source=call_id',
      'cm2=>db_url=mysql://homer:x@db2/homer_data;table_name=sip_capture;mt_mode=rand',
    ]);
    assert.deepEqual(c['listen'], ['udp:10.0.0.5:9060', 'tcp:10.0.0.5:9060', 'udp:[2001:db8::5]:9060']);
    assert.equal(c['routes'], 'homer5');
    assert.equal(c['date_time_zone'], 'local');
    const notes = r.notes.join('\n');
    assert.match(notes, /eth0 is not an IP address/);
    assert.match(notes, /for HEP over TLS add "tls:10.0.0.5:5061" to listen with tls_cert_file/);
    assert.match(notes, /advertise/);
    assert.match(notes, /callid_column is not translated \(column names are fixed/);
    assert.match(notes, /table_time_sufix is not translated/);
    assert.match(notes, /bogus_param is not a sipcapture module parameter/);
    assert.match(notes, /nonsip_hook is set to 0/);
    assert.match(notes, /report_capture\(\) calls in the script are not translated/);
    assert.match(notes, /request_route is not translated.*homer5/);
    // The result is a valid sipcapture configuration.
    validateConfig(c, path.join(dir, 'x.json5'));
  });

  test('defaults: Kamailio db_url, UDP only without tcp_accept_hep3, port=', () => {
    const r = translateKamailioCfg('port=5090\nlisten=127.0.0.1\nlisten=tcp:127.0.0.1:9061\nmodparam("sipcapture","hep_capture_on",1)\nrequest_route { sip_capture(); }\n');
    const c = Object.fromEntries(r.config);
    assert.equal(c['db_url'], 'mysql://kamailio:kamailiorw@localhost/kamailio');
    assert.deepEqual(c['listen'], ['udp:127.0.0.1:5090']);
    assert.equal(c['routes'], 'default');
    assert.match(r.notes.join('\n'), /TCP without tcp_accept_hep3 carries no HEP/);
  });

  test('has_totag() blocks become has_to_tag rules before the homer5 rules', () => {
    const r = translateKamailioCfg(
      [
        'listen=udp:127.0.0.1:9060',
        'request_route {',
        '  if (has_totag() && is_method("NOTIFY")) {',
        '    sip_capture("sip_capture_call_%Y%m%d");',
        '    drop;',
        '  }',
        '  if ($rm =~ "^(INVITE|BYE)$") { sip_capture("sip_capture_call_%Y%m%d"); drop; }',
        '  if (has_totag() && $ua =~ "x") { sip_capture("odd"); }',
        '  sip_capture("sip_capture_rest_%Y%m%d");',
        '}',
      ].join('\n'),
    );
    const c = Object.fromEntries(r.config);
    const routes = c['routes'] as RouteRule[];
    assert.deepEqual(routes[0], { has_to_tag: true, method: ['NOTIFY'], table: 'sip_capture_call_%Y%m%d' });
    assert.deepEqual(routes.slice(1), expandRoutes('homer5'));
    const notes = r.notes.join('\n');
    assert.match(notes, /the condition "if \(has_totag\(\) && \$ua =~ "x"\)" is not translated/);
    assert.match(notes, /has_totag\(\) blocks became the first 1 rule/);
    validateConfig(c, path.join(dir, 'x.json5'));
  });

  test('the CLI writes a config that check-config accepts (but for the other host\'s addresses) and lists the notes on stderr', async () => {
    const cfgFile = path.join(dir, 'kamailio.cfg');
    const out = path.join(dir, 'imported.json5');
    writeFileSync(cfgFile, CFG);
    const r = await runCli(['import-kamailio', cfgFile, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^note: .*eth0/m);
    const text = readFileSync(out, 'utf8');
    assert.match(text, /\/\/ line \d+: modparam\("sipcapture", "capture_on", 1\)/);
    const parsed = JSON5.parse<Record<string, unknown>>(text);
    assert.equal(parsed['routes'], 'homer5');
    // The values are valid; only the host check refuses the Kamailio host's own addresses here.
    const check = await runCli(['check-config', '-c', out]);
    const problems = check.stderr.split('\n').filter((l) => l.startsWith('  - '));
    assert.ok(problems.length > 0 && problems.every((l) => / is not an address of this host \(EADDRNOTAVAIL\)/.test(l)), check.stderr);
  });

  test('a config without any sipcapture modparam is refused with the reason, and nothing is written', async () => {
    const cfgFile = path.join(dir, 'proxy.cfg');
    const out = path.join(dir, 'nothing.json5');
    writeFileSync(cfgFile, 'loadmodule "tm.so"\nmodparam("tm", "fr_timer", 5000)\nlisten=udp:127.0.0.1:5060\nrequest_route { t_relay(); }\n');
    assert.equal(translateKamailioCfg(readFileSync(cfgFile, 'utf8')).sipcaptureModparams, 0);
    const r = await runCli(['import-kamailio', cfgFile, '-o', out]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /proxy\.cfg has no modparam\("sipcapture", …\) line/);
    assert.equal(existsSync(out), false);
  });
});
