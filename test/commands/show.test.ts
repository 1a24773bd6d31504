/**
 * `sipcapture show` on the golden corpus: a daemon stores the 346 packets (homer5 routes, so a
 * call's messages are spread over the call and rest tables), then for every call of the timed
 * sets the ladder holds each of its messages — direction and label — in the order of their
 * timestamps; the real CLI prints the same ladder as text, and `sipcapture search` finds them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { startTestDaemon, tableNames, tableRows, type TestDaemon } from '../helpers/daemon.js';
import { sendUdp, waitFor } from '../helpers/net.js';
import { readGoldenCorpus, type GoldenEntry } from '../hep/_helpers.js';
import { runSearch, runShow } from '../../src/commands/viewer.js';
import { arrowLabel, endpoint, type Ladder } from '../../src/viewer/ladder.js';

const corpus = readGoldenCorpus();
// d1 is HEPv1: no timestamp, the rows carry the receive time, so its order is the arrival's.
const timed = corpus.filter((e) => e.set !== 'd1');
const RANGE = ['--start', '2026-11-21T00:00:00Z', '--end', '2026-11-24T00:00:00Z'];

interface Row {
  callid: string;
  method: string;
  reply_reason: string;
  source_ip: string;
  source_port: number;
  destination_ip: string;
  destination_port: number;
  micro_ts: number;
}
const rowOf = (e: GoldenEntry): Row => e.kamailio_row as unknown as Row;
const labelOf = (r: Row): string => arrowLabel({ method: r.method, replyReason: r.reply_reason });
const arrowText = (r: Row): string => `${endpoint(r.source_ip, r.source_port)} > ${endpoint(r.destination_ip, r.destination_port)} ${labelOf(r)}`;

describe('sipcapture show: the golden corpus', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon({ routes: 'homer5', capture_node: 'homer01' });
    for (let i = 0; i < corpus.length; i += 20) {
      await sendUdp(corpus.slice(i, i + 20).map((e) => Buffer.from(e.hep_hex, 'hex')), d.port);
      await new Promise((r) => setTimeout(r, 5));
    }
    const stored = (): number => tableNames(d.dbFile).filter((t) => t.startsWith('sip_capture')).reduce((n, t) => n + tableRows(d.dbFile, t).length, 0);
    assert.ok(await waitFor(() => stored() >= corpus.length, 20_000), `stored ${stored()} of ${corpus.length}`);
  });
  after(() => d?.close());

  test('every call: each message, in timestamp order, between the right lanes', async () => {
    const calls = [...new Set(timed.map((e) => rowOf(e).callid))];
    assert.ok(calls.length >= 50, `${calls.length} calls`);
    for (const callId of calls) {
      let json = '';
      const code = await runShow({ callid: callId, config: d.configFile, since: '7d', start: RANGE[1], end: RANGE[3], json: true, messages: false }, (t) => (json += t));
      assert.equal(code, 0, callId);
      const { ladder } = JSON.parse(json) as { ladder: Ladder };
      const shown = ladder.arrows.filter((a) => !a.otherLeg).map((a) => `${ladder.lanes[a.from]} > ${ladder.lanes[a.to]} ${a.label}`);
      const want = timed
        .map((e, i) => ({ r: rowOf(e), i }))
        .filter(({ r }) => r.callid === callId)
        .sort((a, b) => a.r.micro_ts - b.r.micro_ts || a.i - b.i)
        .map(({ r }) => arrowText(r));
      assert.deepEqual(shown, want, callId);
    }
  });

  test('the CLI prints the ladder as text, and exits 1 for an unknown Call-ID', async () => {
    const callId = rowOf(corpus[0]!).callid;
    const r = await runCli(['show', callId, '-c', d.configFile, ...RANGE]);
    assert.equal(r.code, 0, r.stderr);
    const want = timed.filter((e) => rowOf(e).callid === callId).map((e) => labelOf(rowOf(e)));
    const arrows = r.stdout.split('\n').filter((l) => /[>-]\|?$|\|<-/.test(l) && /\d\d:\d\d:\d\d\.\d{6}/.test(l));
    assert.equal(arrows.length, want.length, r.stdout);
    arrows.forEach((line, i) => assert.ok(line.includes(want[i]!), `${line} has ${want[i]}`));
    assert.match(r.stdout, new RegExp(`^Call-ID: ${callId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
    const none = await runCli(['show', 'no-such-call', '-c', d.configFile, ...RANGE]);
    assert.equal(none.code, 1);
    assert.match(none.stdout, /no messages found/);
  });

  test('sipcapture search: by From user and by reply code, human and --json', async () => {
    const heidi = timed.filter((e) => (e.kamailio_row as unknown as { from_user: string }).from_user === 'heidi');
    assert.ok(heidi.length > 0);
    let out = '';
    await runSearch({ config: d.configFile, since: '1h', start: RANGE[1], end: RANGE[3], json: true, from: 'heidi', limit: 1000 }, (t) => (out += t));
    assert.equal((JSON.parse(out) as { messages: unknown[] }).messages.length, heidi.length);
    const r = await runCli(['search', '-c', d.configFile, ...RANGE, '--method', '180', '--limit', '3']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 4, r.stdout);
    assert.ok(lines.slice(0, 3).every((l) => l.includes(' 180 ')), r.stdout);
    assert.match(lines[3]!, /^3 messages, newest first \(more match/);
    const bad = await runCli(['search', '-c', d.configFile, '--since', '10 minutes']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /"10 minutes" is not a duration/);
  });
});
