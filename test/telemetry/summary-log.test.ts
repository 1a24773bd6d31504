/**
 * The periodic `summary` log line: what was received, stored and dropped (per reason) since the
 * previous line, zeros included.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { Stats } from '../../src/telemetry/stats.js';
import { SummaryLog } from '../../src/telemetry/summary-log.js';

function setup(): { stats: Stats; summary: SummaryLog; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const stats = new Stats(null);
  return { stats, summary: new SummaryLog(stats, logger), lines };
}

describe('SummaryLog', () => {
  test('each line counts only what happened since the previous one, drops per reason', () => {
    const { stats, summary, lines } = setup();
    stats.received('udp:127.0.0.1:9060', 'hep3');
    stats.received('udp:127.0.0.1:9060', 'hep3');
    stats.received('tcp:127.0.0.1:9060', 'hep2');
    stats.stored('sip_capture_call_20260101', 2);
    stats.drop(DropReason.SIP_MALFORMED, 'test');
    summary.logNow();
    stats.received('udp:127.0.0.1:9060', 'hep3');
    stats.drop(DropReason.CAPTURE_OFF, 'test');
    summary.logNow();
    summary.logNow();
    assert.equal(lines.length, 3);
    assert.equal(lines[0]?.['msg'], 'summary: 3 received, 2 stored, 1 dropped in the last 0 s');
    assert.deepEqual(
      [lines[0]?.['received'], lines[0]?.['stored'], lines[0]?.['dropped'], lines[0]?.['dropped_by_reason']],
      [3, 2, 1, { [DropReason.SIP_MALFORMED]: 1 }],
    );
    assert.deepEqual(
      [lines[1]?.['received'], lines[1]?.['stored'], lines[1]?.['dropped'], lines[1]?.['dropped_by_reason']],
      [1, 0, 1, { [DropReason.CAPTURE_OFF]: 1 }],
    );
    // A quiet interval is still a line: the daemon is alive.
    assert.deepEqual([lines[2]?.['received'], lines[2]?.['stored'], lines[2]?.['dropped']], [0, 0, 0]);
  });

  test('logs on its interval, and 0 stops it', async () => {
    const { summary, lines } = setup();
    summary.setInterval(1);
    await new Promise((r) => setTimeout(r, 1150));
    summary.setInterval(0);
    assert.equal(lines.length, 1);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(lines.length, 1);
  });
});
