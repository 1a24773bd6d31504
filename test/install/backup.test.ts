/**
 * The SQLite backup of docs/operations.md: `sqlite3 FILE ".backup COPY"` while the daemon writes
 * (WAL mode) gives a consistent copy, and the restore steps (stop, replace the file, remove -wal
 * and -shm, start) give a daemon that goes on storing into the restored database.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { encodeHep } from '../../src/hep/encode.js';
import { PROJECT_ROOT, requireOrSkip } from '../helpers/env.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { sendUdp, waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';

const hasSqlite3 = spawnSync('sqlite3', ['-version'], { stdio: 'ignore' }).status === 0;
const skip = requireOrSkip(hasSqlite3, 'the sqlite3 command (Debian package sqlite3)');

/** The backup command of the doc, with the two paths of this test. */
function backupCommand(db: string, copy: string): string[] {
  const doc = readFileSync(path.join(PROJECT_ROOT, 'docs', 'operations.md'), 'utf8');
  const m = /<!-- sqlite-backup -->\s*```sh\n([^\n]*)\n```/.exec(doc);
  assert.ok(m, 'docs/operations.md has the SQLite backup command');
  const line = (m[1] ?? '').replace(/^sudo -u sipcapture /, '');
  const args = /^sqlite3 (\S+) "\.backup (\S+)"$/.exec(line);
  assert.ok(args, line);
  assert.equal(args[1], '/var/lib/sipcapture/sipcapture.sqlite');
  return ['sqlite3', db, `.backup ${copy}`];
}

function count(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    assert.equal((db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok');
    return (db.prepare('SELECT count(*) AS n FROM sip_capture').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const packets = (tag: string, n: number): Buffer[] =>
  Array.from({ length: n }, (_, i) =>
    encodeHep({ version: 3, srcIp: '192.0.2.1', dstIp: '192.0.2.2', srcPort: 5060, dstPort: 5060, tsSec: Math.floor(Date.now() / 1000), captureId: 3, payload: sipRequest('OPTIONS', `${tag}-${i}`).text }),
  );

describe('SQLite backup and restore (docs/operations.md)', { skip }, () => {
  test('a backup taken while the daemon writes is consistent, and a restored file is written on', async () => {
    const t = await startTestDaemon({ batch_timeout_ms: 5 });
    const copy = path.join(t.dir, 'backup.sqlite');
    let restored: Awaited<ReturnType<typeof startTestDaemon>> | null = null;
    try {
      await sendUdp(packets('before', 200), t.port);
      assert.ok(await waitFor(() => count(t.dbFile) === 200, 10_000), t.logs.join(''));
      // The daemon keeps writing while the backup runs.
      const during = sendUdp(packets('during', 2000), t.port);
      const [cmd, ...args] = backupCommand(t.dbFile, copy);
      const r = spawnSync(cmd ?? 'sqlite3', args, { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      await during;
      const inBackup = count(copy);
      assert.ok(inBackup >= 200 && inBackup <= 2200, `backup rows ${inBackup}`);

      // Restore: stop, replace the file, remove -wal and -shm, start.
      const dbFile = t.dbFile;
      await t.daemon.stop();
      copyFileSync(copy, dbFile);
      rmSync(`${dbFile}-wal`, { force: true });
      rmSync(`${dbFile}-shm`, { force: true });
      assert.equal(count(dbFile), inBackup);
      restored = await startTestDaemon({ db_url: `sqlite://${dbFile}` });
      await sendUdp(packets('after', 50), restored.port);
      assert.ok(await waitFor(() => count(dbFile) === inBackup + 50, 10_000), restored.logs.join(''));
    } finally {
      await restored?.close();
      await t.close();
    }
  });
});
