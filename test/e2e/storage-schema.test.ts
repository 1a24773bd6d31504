/**
 * Schema creation on the real servers:
 *   - `sipcapture db init -c FILE` (the real CLI, a child process) creates, for every db_url of
 *     the config, the tables its routes write to — constant names, and strftime names for today
 *     and tomorrow (UTC) — plus the RTCP/report/log tables in the default mode's database; a
 *     second run changes nothing; an unreachable database fails the command (exit 1) without
 *     stopping the others;
 *   - a running daemon creates today's and tomorrow's daily tables (homer5 routes) before the
 *     first row needs them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireOrSkip } from '../helpers/env.js';
import { runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/net.js';
import { MYSQL_URL, PG_URL, mysqlNamespace, pgNamespace, reachable, sqliteNamespace, startTestDaemon } from '../store/_e2e.js';

const skip = requireOrSkip((await reachable(PG_URL, 5432)) && (await reachable(MYSQL_URL, 3306)), `PostgreSQL at ${PG_URL} and MariaDB at ${MYSQL_URL}`);

const DAY = 86_400_000;
const ymd = (ms: number): string => new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');

describe('storage: schema creation', { skip }, () => {
  test('sipcapture db init -c FILE creates every table of every db_url, idempotently', { timeout: 120_000 }, async () => {
    const pgNs = await pgNamespace('dbinit');
    const myNs = await mysqlNamespace('dbinit');
    const liteNs = sqliteNamespace();
    const dir = mkdtempSync(join(tmpdir(), 'sipcapture-dbinit-'));
    try {
      const file = join(dir, 'sipcapture.json5');
      writeFileSync(
        file,
        JSON.stringify({
          db_url: liteNs.url(),
          capture_mode: [`pgm=>db_url=${pgNs.url()};table_name=unused;mt_mode=rand`, `mym=>db_url=${myNs.url()};table_name=regs_a|regs_b;mt_mode=round_robin`],
          routes: [{ method: ['INVITE'], table: 'calls_%Y%m%d', capture_mode: 'pgm' }, { method: ['REGISTER'], capture_mode: 'mym' }, {}],
        }),
      );
      const now = Date.now();
      const r = await runCli(['db', 'init', '-c', file], 60_000);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 3, r.stdout);
      // A run right at midnight UTC may see the next day: accept either.
      const calls = (ms: number): string[] => [`calls_${ymd(ms)}`, `calls_${ymd(ms + DAY)}`];
      const pgTables = await pgNs.tables();
      assert.ok([calls(now), calls(Date.now())].some((want) => JSON.stringify(pgTables) === JSON.stringify(want.sort())), pgTables.join(','));
      assert.deepEqual(await myNs.tables(), ['regs_a', 'regs_b']);
      assert.deepEqual(await liteNs.tables(), ['logs_capture', 'report_capture', 'rtcp_capture', 'sip_capture']);
      assert.doesNotMatch(r.stdout, /FAILED/);
      const again = await runCli(['db', 'init', '-c', file], 60_000);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.deepEqual(await myNs.tables(), ['regs_a', 'regs_b']);

      // One unreachable database: reported, exit 1, the others still initialised.
      const bad = join(dir, 'bad.json5');
      writeFileSync(
        bad,
        JSON.stringify({
          db_url: liteNs.url(),
          capture_mode: ['down=>db_url=postgres://postgres@127.0.0.1:1/test;table_name=x;mt_mode=rand'],
          routes: [{ method: ['INVITE'], capture_mode: 'down' }, { table: 'other' }],
        }),
      );
      const failed = await runCli(['db', 'init', '-c', bad], 60_000);
      assert.equal(failed.code, 1, failed.stdout + failed.stderr);
      assert.match(failed.stdout, /127\.0\.0\.1:1\/test: FAILED/);
      assert.ok((await liteNs.tables()).includes('other'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await pgNs.drop();
      await myNs.drop();
      await liteNs.drop();
    }
  });

  for (const [kind, make] of [['postgres', pgNamespace], ['mysql', mysqlNamespace]] as const) {
    test(`${kind}: a running daemon creates today's and tomorrow's daily tables before the first row`, { timeout: 60_000 }, async () => {
      const ns = await make('ahead');
      const d = await startTestDaemon({ db_url: ns.url(), routes: 'homer5' });
      try {
        const want = (ms: number): string[] =>
          ['call', 'registration', 'rest'].flatMap((k) => [`sip_capture_${k}_${ymd(ms)}`, `sip_capture_${k}_${ymd(ms + DAY)}`]).sort();
        const ok = await waitFor(async () => {
          const t = await ns.tables();
          return want(Date.now()).every((n) => t.includes(n));
        }, 20_000, 200);
        assert.ok(ok, (await ns.tables()).join(', '));
        assert.equal(Object.keys(d.daemon.stats.snapshot().stored).length, 0, 'no row was needed for that');
      } finally {
        await d.stop();
        await ns.drop();
      }
    });
  }
});
