/**
 * The viewer in a real headless Chromium (Debian's, driven by playwright-core): a daemon stores
 * calls sent with `sipcapture send` and scripted ones; the page searches by Call-ID and by user,
 * opens a call and draws its ladder (lanes, arrows in order, the retransmission, the other legs),
 * shows the whole message of a clicked arrow, renders hostile SIP as text without running it,
 * the live view picks up a new call without a reload, and the pcap export reads back.
 * With SIPCAPTURE_VIEWER_SCREENSHOT=FILE it also saves a picture of the call flow (the README's).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { PcapReader } from '../../src/raw/pcap-file.js';
import { runCli } from '../helpers/cli.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { requireOrSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/net.js';
import { ALICE, BOB, PROXY, RECORDER, scriptedCall, sendHepTcp, sidePackets } from './_calls.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = requireOrSkip(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install chromium)`);
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];
const lane = (e: { ip: string; port: number }): string => `${e.ip}:${e.port}`;

describe('viewer in Chromium', { skip }, () => {
  let d: TestDaemon;
  let base: string;
  let ctx: BrowserContext;
  let userDir: string;
  const offsite: string[] = [];
  const pageErrors: string[] = [];
  const run = `${Date.now()}`;
  const callId = `flow-${run}@viewer.test`;
  const xssId = `xss-${run}@viewer.test`;
  const call = scriptedCall({ callId, t0Us: Date.now() * 1000 - 60_000_000, fromUser: `alice${run}` });

  before(async () => {
    d = await startTestDaemon();
    base = `http://127.0.0.1:${d.httpPort}`;
    const sent = await runCli(['send', '--port', String(d.port), '--count', '40', '--rate', '0', '--mix', 'call']);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    await sendHepTcp(d.port, [
      ...call,
      ...sidePackets(callId, call[0]!.atUs),
      ...scriptedCall({
        callId: xssId,
        t0Us: Date.now() * 1000 - 30_000_000,
        fromDisplay: '"<script>window.__xss=1</script>"',
        extraHeader: 'X-Evil: <img src=x onerror="window.__xss=2">',
        body: '<script>window.__xss=3</script></pre><b id="bold">not bold</b>',
        userAgent: '<img src=x onerror=window.__xss=4>',
      }).slice(0, 2),
    ]);
    assert.ok(await waitFor(async () => ((await (await fetch(`${base}/api/search?limit=1000`)).json()) as { messages: unknown[] }).messages.length >= 58, 15_000));
    userDir = mkdtempSync(path.join(tmpdir(), 'sipcapture-chromium-'));
    ctx = await chromium.launchPersistentContext(userDir, { executablePath: CHROMIUM, headless: true, args: ARGS, acceptDownloads: true, viewport: { width: 1400, height: 760 } });
    ctx.on('request', (r) => {
      if (!r.url().startsWith(`${base}/`)) offsite.push(r.url());
    });
    ctx.on('weberror', (e) => pageErrors.push(e.error().message));
  });

  after(async () => {
    await ctx?.close();
    await d?.close();
    if (userDir !== undefined) rmSync(userDir, { recursive: true, force: true });
  });

  async function open(p: string): Promise<Page> {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(`${base}${p}`);
    return page;
  }

  test('search by Call-ID and by user through the form', async () => {
    const page = await open('/');
    await page.fill('input[name=callid]', callId);
    await page.click('button[type=submit]');
    await page.waitForSelector('#results tbody tr');
    // The A leg (8 messages) and the recorder's INVITE, whose X-CID names the call.
    assert.equal(await page.locator('#results tbody tr').count(), 9);
    assert.match((await page.textContent('#result-note')) ?? '', /^9 messages, newest first/);
    await page.goto(`${base}/`);
    await page.fill('input[name=from_user]', `alice${run}`);
    await page.selectOption('select[name=since]', '15m');
    await page.click('button[type=submit]');
    await page.waitForSelector('#results tbody tr');
    assert.equal(await page.locator('#results tbody tr').count(), call.length);
    const first = await page.locator('#results tbody tr').first().locator('td').allTextContents();
    assert.equal(first[1], '200 OK', 'newest first: the last 200 OK');
    // Loadgen calls are there too.
    await page.goto(`${base}/?method=INVITE&limit=500`);
    await page.waitForSelector('#results tbody tr');
    assert.ok((await page.locator('#results tbody tr').count()) >= 10);
  });

  test('the call flow: lanes, arrows in order, retransmission and legs, message on click', async () => {
    const page = await open(`/?callid=${encodeURIComponent(callId)}`);
    await page.waitForSelector('#results a.callid');
    await page.locator('#results a.callid', { hasText: callId }).first().click();
    await page.waitForSelector('#ladder .arrow');
    assert.ok(page.url().startsWith(`${base}/call/${encodeURIComponent(callId)}?at=`), page.url());
    assert.deepEqual(await page.locator('#ladder .lane-label').allTextContents(), [lane(ALICE), lane(PROXY), lane(BOB), lane(RECORDER)]);
    const labels = await page.locator('#ladder .arrow-label').allTextContents();
    assert.deepEqual(labels, call.map((p, i) => (i === 3 ? `${p.label} (retrans)` : p.label)));
    assert.equal(await page.locator('#ladder .arrow.retrans').count(), 1);
    assert.equal(await page.locator('#ladder .arrow.other-leg').count(), call.filter((p) => p.callId !== callId).length);
    // Arrows go from the sender's lane to the receiver's: x of line start and end.
    // (The callbacks run in the page; the test is compiled without the DOM types.)
    type Attrs = { getAttribute(name: string): string | null };
    const lines = await page.locator('#ladder .arrow line').evaluateAll((ls: Attrs[]) => ls.map((l) => [Number(l.getAttribute('x1')), Number(l.getAttribute('x2'))]));
    const laneX = await page.locator('#ladder .lane').evaluateAll((ls: Attrs[]) => ls.map((l) => Number(l.getAttribute('x1'))));
    const laneOf = (ep: { ip: string; port: number }): number => [lane(ALICE), lane(PROXY), lane(BOB), lane(RECORDER)].indexOf(lane(ep));
    call.forEach((p, i) => {
      assert.equal(lines[i]![0], laneX[laneOf(p.src)], `arrow ${i} starts at its sender`);
      assert.ok(Math.abs(lines[i]![1]! - laneX[laneOf(p.dst)]!) <= 1, `arrow ${i} ends at its receiver`);
    });
    // The first message is shown; a click shows another, in full.
    assert.match((await page.textContent('#message')) ?? '', /^INVITE sip:bob@example.com SIP\/2.0\n/);
    await page.locator('#ladder .arrow').nth(2).click();
    const text = (await page.textContent('#message')) ?? '';
    assert.ok(text.includes(`Call-ID: ${callId}_b2b-1`), text);
    assert.equal(text.trimEnd(), call[2]!.payload.replace(/\r\n/g, '\n').trimEnd());
    assert.match((await page.textContent('#detail .head')) ?? '', /3\/16/);
    // RTCP and the log line beside the call.
    assert.deepEqual(await page.locator('#side tbody tr td:nth-child(2)').allTextContents(), ['rtcp', 'logs']);
    if (process.env['SIPCAPTURE_VIEWER_SCREENSHOT'] !== undefined) {
      await page.locator('#ladder .arrow').nth(0).click();
      await page.screenshot({ path: process.env['SIPCAPTURE_VIEWER_SCREENSHOT'] });
    }
  });

  test('hostile SIP renders as text and runs nothing', async () => {
    const page = await open(`/?callid=${encodeURIComponent(xssId)}`);
    await page.waitForSelector('#results tbody tr');
    assert.ok(((await page.locator('#results tbody').textContent()) ?? '').includes('<img src=x onerror=window.__xss=4>'));
    await page.goto(`${base}/call/${encodeURIComponent(xssId)}`);
    await page.waitForSelector('#message');
    const text = (await page.textContent('#message')) ?? '';
    assert.ok(text.includes('From: "<script>window.__xss=1</script>" <sip:alice@example.com>;tag=a1'), text);
    assert.ok(text.includes('X-Evil: <img src=x onerror="window.__xss=2">'));
    assert.ok(text.includes('<script>window.__xss=3</script></pre><b id="bold">not bold</b>'));
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss), undefined);
    assert.equal(await page.locator('#main script, #main img, #main b#bold').count(), 0);
  });

  test('the live view picks up a new call without reloading', async () => {
    const page = await open('/?view=live');
    await page.waitForSelector('#live-table tbody tr');
    await page.evaluate(() => ((globalThis as unknown as { __sameDocument: boolean }).__sameDocument = true));
    const liveId = `live-${run}@viewer.test`;
    await sendHepTcp(d.port, scriptedCall({ callId: liveId, t0Us: Date.now() * 1000 }).slice(0, 2));
    await page.waitForSelector(`#live-table tbody tr.new a.callid >> text=${liveId}`, { timeout: 10_000 });
    assert.equal(await page.locator('#live-table a.callid', { hasText: liveId }).count(), 2);
    // A message stored late, with a time before the newest one shown (a lagging agent clock), still appears, once.
    const lateId = `late-${run}@viewer.test`;
    await sendHepTcp(d.port, scriptedCall({ callId: lateId, t0Us: Date.now() * 1000 - 5_000_000 }).slice(0, 1));
    await page.waitForSelector(`#live-table tbody tr.new a.callid >> text=${lateId}`, { timeout: 10_000 });
    await page.waitForTimeout(2500);
    assert.equal(await page.locator('#live-table a.callid', { hasText: lateId }).count(), 1);
    assert.equal(await page.locator('#live-table a.callid', { hasText: liveId }).count(), 2);
    assert.equal(await page.evaluate(() => (globalThis as unknown as { __sameDocument?: boolean }).__sameDocument), true);
  });

  test('the pcap export downloads and holds the call\'s messages in order', async () => {
    const page = await open(`/call/${encodeURIComponent(callId)}`);
    await page.waitForSelector('#export-pcap');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-pcap')]);
    const file = path.join(d.dir, 'export.pcap');
    await download.saveAs(file);
    const reader = await PcapReader.open(file);
    const payloads: string[] = [];
    const times: number[] = [];
    try {
      for (let rec = await reader.next(); rec !== null; rec = await reader.next()) {
        // Ethernet 14 + IPv4 20 + UDP 8.
        payloads.push(rec.data.subarray(42).toString('utf8'));
        times.push(rec.sec * 1e6 + rec.usec);
      }
    } finally {
      await reader.close();
    }
    assert.deepEqual(payloads, call.map((p) => p.payload));
    assert.deepEqual(times, call.map((p) => p.atUs));
  });

  test('nothing was loaded from elsewhere, and no script error', () => {
    assert.deepEqual(offsite, []);
    assert.deepEqual(pageErrors, []);
  });
});
