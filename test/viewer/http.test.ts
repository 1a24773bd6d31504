/**
 * The viewer on the control HTTP server: the page and its files under a strict CSP, the JSON
 * API and exports, read-only, bad parameters answered 400; the token (401 without it, a cookie
 * from `/?token=`, a Bearer header); http_viewer 0 turns it all off; bad tokens refused at load.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import { PcapReader } from '../../src/raw/pcap-file.js';
import { CONTENT_SECURITY_POLICY } from '../../src/viewer/http-routes.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/net.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { scriptedCall, sendHepTcp } from './_calls.js';

const TOKEN = 'a-viewer-token-0123456789';

describe('viewer HTTP: open', () => {
  let d: TestDaemon;
  let base: string;
  const callId = `http-${Date.now()}@viewer.test`;
  before(async () => {
    d = await startTestDaemon();
    base = `http://127.0.0.1:${d.httpPort}`;
    await sendHepTcp(d.port, scriptedCall({ callId, t0Us: Date.now() * 1000 - 10_000_000 }));
    assert.ok(await waitFor(async () => ((await (await fetch(`${base}/api/search?callid=${encodeURIComponent(callId)}`)).json()) as { messages: unknown[] }).messages.length === 9, 10_000));
  });
  after(() => d?.close());

  test('the page, /call/<id> and the assets, with the security headers', async () => {
    for (const [p, type] of [['/', 'text/html'], [`/call/${encodeURIComponent(callId)}`, 'text/html'], ['/assets/app.js', 'text/javascript'], ['/assets/style.css', 'text/css']] as const) {
      const res = await fetch(`${base}${p}`);
      assert.equal(res.status, 200, p);
      assert.ok(res.headers.get('content-type')?.startsWith(type), `${p}: ${res.headers.get('content-type')}`);
      assert.equal(res.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      await res.arrayBuffer();
    }
    assert.match(CONTENT_SECURITY_POLICY, /default-src 'none'/);
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe|https?:|\*/);
    const html = await (await fetch(`${base}/`)).text();
    assert.doesNotMatch(html, /<script>|<style>| on\w+=|style=/, 'no inline script or style');
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from elsewhere');
  });

  test('read-only: anything but GET is refused', async () => {
    for (const p of ['/', '/api/search', `/api/call/${callId}`]) {
      const res = await fetch(`${base}${p}`, { method: 'POST', body: '{}' });
      assert.equal(res.status, 405, p);
      assert.equal(res.headers.get('allow'), 'GET, HEAD');
    }
  });

  test('the API: search, call with its ladder, text and pcap exports; bad parameters 400', async () => {
    const search = (await (await fetch(`${base}/api/search?from_user=alice&method=INVITE`)).json()) as { messages: { callid: string }[] };
    assert.equal(search.messages.length, 4);
    const call = (await (await fetch(`${base}/api/call/${encodeURIComponent(callId)}`)).json()) as { flow: { messages: unknown[] }; ladder: { lanes: string[]; arrows: unknown[] } };
    assert.equal(call.flow.messages.length, 16);
    assert.equal(call.ladder.arrows.length, 16);
    assert.equal(call.ladder.lanes.length, 4);
    const text = await fetch(`${base}/api/call/${encodeURIComponent(callId)}/text`);
    assert.match(text.headers.get('content-disposition') ?? '', /attachment; filename="call-http-\d+_viewer.test.txt"/);
    assert.match(await text.text(), /^Call-ID: http-/);
    const pcap = await fetch(`${base}/api/call/${encodeURIComponent(callId)}/pcap`);
    assert.equal(pcap.headers.get('content-type'), 'application/vnd.tcpdump.pcap');
    const file = path.join(d.dir, 'call.pcap');
    writeFileSync(file, Buffer.from(await pcap.arrayBuffer()));
    const reader = await PcapReader.open(file);
    let n = 0;
    while ((await reader.next()) !== null) n++;
    await reader.close();
    assert.equal(n, 16);
    for (const bad of ['limit=0', 'limit=5000', 'from=yesterday', 'from=10&to=5', `from=0&to=${Date.now()}`]) {
      const res = await fetch(`${base}/api/search?${bad}`);
      assert.equal(res.status, 400, bad);
      assert.match(((await res.json()) as { error: string }).error, /./);
    }
    assert.equal((await fetch(`${base}/api/call/%E0%A4%A`)).status, 400);
    assert.equal((await fetch(`${base}/api/nothing`)).status, 404);
    // The rest of the control plane is where it was.
    assert.equal((await fetch(`${base}/health`)).status, 200);
    assert.equal((await fetch(`${base}/metrics`)).status, 200);
  });
});

describe('viewer HTTP: with a token', () => {
  let d: TestDaemon;
  let base: string;
  before(async () => {
    d = await startTestDaemon({ http_viewer_token: TOKEN });
    base = `http://127.0.0.1:${d.httpPort}`;
  });
  after(() => d?.close());

  test('401 without it; Bearer; /?token= sets a cookie and leaves the address bar', async () => {
    for (const p of ['/', '/call/x', '/assets/app.js', '/api/search', '/api/call/x/pcap']) assert.equal((await fetch(`${base}${p}`)).status, 401, p);
    assert.equal((await fetch(`${base}/api/search`, { headers: { authorization: `Bearer ${TOKEN}x` } })).status, 401);
    assert.equal((await fetch(`${base}/api/search`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    assert.equal((await fetch(`${base}/?token=wrong-token-0123456789`, { redirect: 'manual' })).status, 401);
    const login = await fetch(`${base}/call/abc?token=${TOKEN}&at=5`, { redirect: 'manual' });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/call/abc?at=5');
    const cookie = login.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const res = await fetch(`${base}/api/search`, { headers: { cookie: cookie.split(';')[0]! } });
    assert.equal(res.status, 200);
    // The token guards the viewer only: metrics and health are as before.
    assert.equal((await fetch(`${base}/metrics`)).status, 200);
  });
});

describe('viewer HTTP: switched off', () => {
  test('http_viewer 0: / and /api/ are 404', async () => {
    const d = await startTestDaemon({ http_viewer: 0 });
    try {
      for (const p of ['/', '/api/search', '/assets/app.js']) assert.equal((await fetch(`http://127.0.0.1:${d.httpPort}${p}`)).status, 404, p);
    } finally {
      await d.close();
    }
  });

  test('a bad token fails the config with the key, the value and what is allowed', () => {
    for (const bad of ['short', 'has space in it 0123456789']) {
      assert.throws(() => validateConfig({ http_viewer_token: bad }, '/tmp/x.json5'), (err: unknown) => err instanceof ConfigError && /http_viewer_token/.test(err.message) && /allowed/.test(err.message));
    }
  });
});
