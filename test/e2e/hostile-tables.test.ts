/**
 * Hostile table names never reach SQL. From the config (table_name, routes[].table, a capture
 * mode's table_name, strftime templates): the start is refused with the key, the value and the
 * reason. From a hook (sip_capture / report_capture with a name chosen per packet): the call
 * returns -1, the row is counted bad_table_name, and the table the name tries to drop is still
 * there, storing rows.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { PROJECT_ROOT } from '../helpers/env.js';
import { sendUdp, waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';
import { pathToFileURL } from 'node:url';
import { hep, startTestDaemon, tableNames, tableRows, TS_SEC } from '../control/helpers.js';

const TS_5NOV = TS_SEC - 17 * 86_400;
const HOOK = path.join(PROJECT_ROOT, 'test', 'fixtures', 'hooks', 'hostile-tables.mjs');
const { REPORT_TABLES, SIP_TABLES } = (await import(pathToFileURL(HOOK).href)) as { REPORT_TABLES: string[]; SIP_TABLES: string[] };

const HOSTILE = [
  'sip_capture; DROP TABLE x',
  'sip_capture`; DROP TABLE x; --',
  "x'; DROP TABLE x; --",
  'x"y',
  '..',
  'main.x',
  'a'.repeat(200),
  'tablé',
  '表',
  '😀',
  'sip_%e', // strftime: a space
  'sip_%%', // strftime: "%"
  'sip_%F', // strftime: "-"
  'x_%s_%s_%s_%s_%s_%s', // strftime: longer than 63 once expanded
  'DROP TABLE x',
];

/** Starting with `overrides` must fail with a message naming `key` and the offending value. */
async function assertRefused(overrides: Record<string, unknown>, key: RegExp, value: string): Promise<void> {
  let err: Error | undefined;
  try {
    const t = await startTestDaemon(overrides);
    await t.close();
  } catch (e) {
    err = e as Error;
  }
  assert.ok(err, `${JSON.stringify(overrides).slice(0, 120)} must be refused at start`);
  assert.match(err.message, key, `the message names the key: ${err.message}`);
  const shown = JSON.stringify(value).slice(1, 40);
  assert.ok(err.message.includes(shown) || err.message.includes(value.slice(0, 40)), `the message shows the value ${shown}: ${err.message}`);
  assert.match(err.message, /not allowed|must start|expands to|yields|pads with|empty|not an allowed|is not set|expected/, `the message says why: ${err.message}`);
}

describe('hostile table names from the configuration are refused at start', () => {
  for (const name of HOSTILE) {
    test(`table_name / routes[].table / capture_mode table_name = ${JSON.stringify(name).slice(0, 50)}`, async () => {
      // table_name is a list split on "|" and white space ("DROP TABLE x" is three safe names).
      if (!/^[\w\s|]+$/.test(name)) await assertRefused({ table_name: name }, /table_name/, name.split(/[|\s]+/)[0] ?? name);
      await assertRefused({ routes: [{ method: ['INVITE'], table: name }, { table: 'sip_capture' }] }, /routes\[0\]\.table/, name);
      if (!/[;\s]/.test(name)) {
        // Inside a capture_mode string ";" and spaces are separators: those are refused as syntax.
        await assertRefused({ capture_mode: [`m=>db_url=sqlite://x.sqlite;table_name=${name}`] }, /capture_mode\[0\]/, name);
      }
    });
  }

  test('check-config reports the same problem without starting anything', async () => {
    const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
    const os = await import('node:os');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sipcapture-hostile-'));
    try {
      const file = path.join(dir, 'c.json5');
      writeFileSync(file, JSON.stringify({ db_url: 'sqlite://x.sqlite', table_name: 'sip_capture`; DROP TABLE x; --' }));
      assert.throws(() => loadConfig(file), /table_name: .*"sip_capture`;": character "`" at offset 11 is not allowed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hostile table names chosen by a hook are dropped and counted', () => {
  test('sip_capture() and report_capture() with hostile names: -1, bad_table_name, the victim table keeps storing', { timeout: 30_000 }, async () => {
    const t = await startTestDaemon({ nonsip_hook: 1, event_callback: 'ksr_sipcapture_event', hook_module: HOOK });
    try {
      // Dated 2026-11-05, so the hook's "x_%e" expands to "x_ 5" (with a space).
      const packets = [sipRequest('INVITE', 'hostile-1@x'), sipRequest('BYE', 'hostile-2@x')].map((m) => hep(m.text, { tsSec: TS_5NOV }));
      await sendUdp(packets, t.port);
      // Each packet: stored by the hook in hook_ok, and in sip_capture by the default path (return 1).
      const stored = await waitFor(() => tableRows(t.dbFile, 'sip_capture').length === 2 && tableRows(t.dbFile, 'hook_ok').length === 2);
      assert.ok(stored, `both rows stored twice; tables ${tableNames(t.dbFile).join(',')}; logs:\n${t.logs.join('')}`);
      const perPacket = SIP_TABLES.length + REPORT_TABLES.length;
      await waitFor(() => t.daemon.stats.droppedCount(DropReason.BAD_TABLE_NAME) === 2 * perPacket, 3000);
      assert.equal(t.daemon.stats.droppedCount(DropReason.BAD_TABLE_NAME), 2 * perPacket, `every hostile call counted once: ${t.logs.filter((l) => l.includes("bad_table")).join("")}`);
      assert.ok(!t.logs.some((l) => l.includes('UNEXPECTED')), 'no hostile name was accepted (the hook checks each return value)');
      assert.ok(t.logs.some((l) => l.includes('bad_table_name') && l.includes('hook:')), 'the drop is logged with its origin');
      // Only the two sane tables exist; the victim table is intact.
      assert.deepEqual(tableNames(t.dbFile).filter((n) => !n.startsWith('sqlite_')), ['hook_ok', 'sip_capture']);
      await sendUdp([hep(sipRequest('OPTIONS', 'hostile-3@x').text, { tsSec: TS_5NOV })], t.port);
      assert.ok(await waitFor(() => tableRows(t.dbFile, 'sip_capture').length === 3), 'the victim table still takes rows afterwards');
      assert.deepEqual(tableRows(t.dbFile, 'sip_capture').map((r) => r['callid']), ['hostile-1@x', 'hostile-2@x', 'hostile-3@x']);
    } finally {
      await t.close();
    }
  });
});
