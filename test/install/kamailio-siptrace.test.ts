/**
 * The Kamailio siptrace block of docs/operations.md works as pasted: Debian's kamailio (5.6)
 * starts with it, and the SIP it receives and sends arrives at sipcapture as HEP and is stored.
 * Skips (with the reason) where kamailio is not installed: `apt-get install kamailio`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import path from 'node:path';
import { PROJECT_ROOT, requireOrSkip } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/net.js';
import { startTestDaemon, tableRows, type TestDaemon } from '../helpers/daemon.js';

const hasKamailio = spawnSync('kamailio', ['-v'], { stdio: 'ignore' }).status === 0;
const skip = requireOrSkip(hasKamailio, 'kamailio (Debian package kamailio)');

/** The block between `<!-- kamailio-siptrace -->` and the end of its code fence. */
export function siptraceBlock(): string {
  const doc = readFileSync(path.join(PROJECT_ROOT, 'docs', 'operations.md'), 'utf8');
  const m = /<!-- kamailio-siptrace -->\s*```[a-z]*\n([\s\S]*?)```/.exec(doc);
  assert.ok(m, 'docs/operations.md has the siptrace block');
  return m[1] ?? '';
}

describe('the Kamailio siptrace block of docs/operations.md', { skip }, () => {
  let t: TestDaemon;
  let kamailio: ChildProcess;
  let kamailioLog = '';
  let sipPort = 0;

  before(async () => {
    t = await startTestDaemon({ routes: 'homer5' });
    const hepPort = t.port;
    sipPort = await freePort();
    const dir = path.join(t.dir, 'kamailio');
    mkdirSync(path.join(dir, 'run'), { recursive: true });
    // A minimal proxy around the block, pasted as it is; only the port of sipcapture differs.
    const block = siptraceBlock().replaceAll('127.0.0.1:9060', `127.0.0.1:${hepPort}`);
    const cfg = [
      '#!KAMAILIO',
      'debug=2',
      'log_stderror=yes',
      'children=1',
      `listen=udp:127.0.0.1:${sipPort}`,
      'loadmodule "tm.so"',
      'loadmodule "sl.so"',
      block,
      'request_route {',
      '  sl_send_reply("200", "OK");',
      '}',
      '',
    ].join('\n');
    writeFileSync(path.join(dir, 'kamailio.cfg'), cfg);
    kamailio = spawn('kamailio', ['-DD', '-E', '-f', path.join(dir, 'kamailio.cfg'), '-Y', path.join(dir, 'run'), '-w', dir, '-m', '64', '-M', '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
    kamailio.stdout?.on('data', (d: Buffer) => (kamailioLog += d.toString()));
    kamailio.stderr?.on('data', (d: Buffer) => (kamailioLog += d.toString()));
    assert.ok(await waitFor(() => /INFO: .*main\(\)|udp: ?.*listening|Listening on/i.test(kamailioLog) || kamailio.exitCode !== null, 10_000), kamailioLog);
    assert.equal(kamailio.exitCode, null, `kamailio refused the block:\n${kamailioLog}`);
  });

  after(async () => {
    if (kamailio !== undefined && kamailio.exitCode === null) {
      const gone = new Promise((r) => kamailio.once('close', r));
      kamailio.kill('SIGTERM');
      await gone;
    }
    await t?.close();
  });

  test('an OPTIONS through kamailio is stored, request and reply', async () => {
    const callId = `siptrace-${process.pid}-${Date.now()}`;
    const ua = dgram.createSocket('udp4');
    await new Promise<void>((r) => ua.bind(0, '127.0.0.1', r));
    const uaPort = ua.address().port;
    const reply = new Promise<string>((resolve) => ua.once('message', (m) => resolve(m.toString())));
    const options = [
      `OPTIONS sip:probe@127.0.0.1:${sipPort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${uaPort};branch=z9hG4bK-${callId}`,
      'From: <sip:ua@127.0.0.1>;tag=1',
      'To: <sip:probe@127.0.0.1>',
      `Call-ID: ${callId}`,
      'CSeq: 1 OPTIONS',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    // Kamailio may still be starting its UDP worker: repeat until it answers.
    let answered = '';
    void reply.then((r) => (answered = r));
    assert.ok(
      await waitFor(
        () => {
          if (answered === '') ua.send(options, sipPort, '127.0.0.1');
          return answered !== '';
        },
        10_000,
        500,
      ),
      kamailioLog,
    );
    ua.close();
    assert.match(answered, /^SIP\/2\.0 200 OK/);
    const table = `sip_capture_rest_${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`;
    const mine = (): Record<string, unknown>[] => {
      try {
        return tableRows(t.dbFile, table).filter((r) => r['callid'] === callId);
      } catch {
        return [];
      }
    };
    assert.ok(await waitFor(() => mine().some((r) => r['method'] === '200'), 10_000), `rows ${JSON.stringify(mine())}\n${t.logs.join('')}`);
    const rows = mine();
    assert.ok(rows.some((r) => r['method'] === 'OPTIONS'), 'the request');
    assert.ok(rows.every((r) => r['node'] === 'homer01:2001'), 'hep_capture_id of the block');
  });
});
