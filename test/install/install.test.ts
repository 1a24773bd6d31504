/**
 * The installation of docs/operations.md, step by step, as an operator runs it: `npm pack` of
 * this tree, `npm install -g --prefix` of the tarball (production dependencies only), the /etc
 * config (its paths moved into a scratch folder), a system user of its own, check-config as that
 * user, then the daemon as that user: HEP in (`sipcapture send`), rows out, `sipcapture rpc`,
 * reload by SIGHUP, stop by SIGTERM. And an upgrade from the previous release (built from git)
 * while its spool holds rows for a database that was down: the new version replays them.
 *
 * Needs root (it creates and deletes a user), git, npm and the network or npm's cache (the
 * install fetches the production dependencies and builds better-sqlite3); the upgrade also needs
 * PostgreSQL. Takes one to three minutes on an idle 2-core machine, mostly the native build
 * of better-sqlite3 when no prebuilt binary can be downloaded (much longer on a busy one).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { IN_CI, PROJECT_ROOT, requireOrSkip } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/net.js';
import { PG_URL, RUN, reachable } from '../store/postgres/helpers.js';
import { TcpProxy } from '../store/_tcp-proxy.js';

const isRoot = process.getuid?.() === 0;
const has = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const isGitTree = has('git', ['-C', PROJECT_ROOT, 'rev-parse', '--verify', 'HEAD']);
const skip =
  requireOrSkip(isRoot, 'root (the install test creates a system user)') ||
  requireOrSkip(has('setpriv', ['--version']) && has('useradd', ['--help']), 'setpriv and useradd (util-linux, passwd)') ||
  requireOrSkip(isGitTree, 'a git checkout of sipcapture (the tarball is packed from the tracked files)');

/** Runs a command, failing the test with its output when it fails. */
function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', timeout: opts.timeoutMs ?? 900_000, maxBuffer: 64 * 1024 * 1024 });
  if (opts.allowFail !== true && r.status !== 0) {
    assert.fail(`${cmd} ${args.join(' ')} exited ${String(r.status)} ${r.error?.message ?? ''}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  }
  return r;
}

interface Daemon {
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

/** Starts a command as `user` (setpriv execs it: signals reach the daemon itself, as systemd's would). */
function startAs(user: string, argv: readonly string[], env: NodeJS.ProcessEnv): Daemon {
  const child = spawn('setpriv', ['--reuid', user, '--regid', user, '--init-groups', '--', ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { child, log: () => out, exited };
}

async function stopDaemon(d: Daemon): Promise<number | null> {
  if (d.child.exitCode === null) d.child.kill('SIGTERM');
  const timer = setTimeout(() => d.child.kill('SIGKILL'), 30_000);
  const code = await d.exited;
  clearTimeout(timer);
  return code;
}

function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

describe('install as docs/operations.md says', { skip, timeout: 1_800_000 }, () => {
  let scratch = '';
  const user = `schtest${RUN.replace(/_/g, '').slice(-8)}`;
  let prefix = '';
  let bin = '';
  let pkgDir = '';
  let env: NodeJS.ProcessEnv = {};

  before(() => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'sipcapture-install-'));
    chmodSync(scratch, 0o755); // the service user must reach the installed package
    // A user of its own, without a shell or a home.
    run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user]);
    // The working tree as a clone would have it (tracked and new files, nothing ignored), with
    // this checkout's node_modules for the build: `npm pack` builds dist/ (prepack) and packs it.
    const tree = path.join(scratch, 'tree');
    const files = run('git', ['-C', PROJECT_ROOT, 'ls-files', '-z', '--cached', '--others', '--exclude-standard']).stdout.split('\0').filter((f) => f !== '');
    for (const f of files) {
      const from = path.join(PROJECT_ROOT, f);
      try {
        if (!statSync(from).isFile()) continue;
      } catch {
        continue; // deleted but not yet committed
      }
      mkdirSync(path.dirname(path.join(tree, f)), { recursive: true });
      cpSync(from, path.join(tree, f));
    }
    symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(tree, 'node_modules'));
    const packed = run('npm', ['pack', '--pack-destination', scratch], { cwd: tree }).stdout.trim().split('\n').at(-1) ?? '';
    assert.match(packed, /^sipcapture-\d+\.\d+\.\d+\.tgz$/);
    // The documented install: production dependencies only, the command on PATH.
    prefix = path.join(scratch, 'opt', 'sipcapture');
    run('npm', ['install', '-g', '--prefix', prefix, '--omit=dev', '--no-audit', '--no-fund', path.join(scratch, packed)], { cwd: scratch });
    bin = path.join(prefix, 'bin');
    pkgDir = path.join(prefix, 'lib', 'node_modules', 'sipcapture');
    env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}` };
  });

  after(() => {
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
    spawnSync('userdel', [user], { stdio: 'ignore' });
  });

  test('the tarball holds the built code and no development tools are installed', () => {
    const modules = readdirSync(path.join(pkgDir, 'node_modules'));
    for (const devOnly of ['typescript', 'tsx', 'eslint', 'fast-check']) assert.ok(!modules.includes(devOnly), `${devOnly} was installed`);
    for (const f of ['dist/src/cli.js', 'sql/postgres/schema.sql', 'config/sipcapture.etc.json5', 'config/sipcapture.service', 'docs/operations.md']) {
      assert.ok(statSync(path.join(pkgDir, f)).isFile(), f);
    }
    assert.ok(!filesUnder(path.join(pkgDir, 'dist')).some((f) => f.includes(`${path.sep}test${path.sep}`)), 'tests are not shipped');
    const version = run('sipcapture', ['--version'], { env }).stdout.trim();
    assert.equal(version, (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });

  test('the /etc config as the service user: check-config, run, send, rows, rpc, reload, stop', async () => {
    // The /etc layout of the docs, moved under the scratch folder.
    const etc = path.join(scratch, 'etc', 'sipcapture');
    const state = path.join(scratch, 'var', 'lib', 'sipcapture');
    const runtime = path.join(scratch, 'run', 'sipcapture');
    const hepPort = await freePort();
    const httpPort = await freePort();
    const config = readFileSync(path.join(pkgDir, 'config', 'sipcapture.etc.json5'), 'utf8')
      .replaceAll('/var/lib/sipcapture', state)
      .replaceAll('/run/sipcapture', runtime)
      .replaceAll('0.0.0.0:9060', `127.0.0.1:${hepPort}`)
      .replace('127.0.0.1:9061', `127.0.0.1:${httpPort}`)
      .replace('log_level: "info",', 'log_level: "info",\n  log_summary_s: 1,');
    const cfgFile = path.join(etc, 'sipcapture.json5');
    const uid = Number(run('id', ['-u', user]).stdout.trim());
    const gid = Number(run('id', ['-g', user]).stdout.trim());
    // /etc, /var/lib and /run as a system has them, then
    // install -d -m 0750 -o root -g sipcapture /etc/sipcapture; install -m 0640 -o root -g sipcapture …
    for (const d of [path.dirname(etc), path.dirname(state), path.dirname(runtime)]) mkdirSync(d, { recursive: true, mode: 0o755 });
    mkdirSync(etc, { mode: 0o750 });
    chownSync(etc, 0, gid);
    writeFileSync(cfgFile, config, { mode: 0o640 });
    chownSync(cfgFile, 0, gid);
    const asUser = (args: string[]): SpawnSyncReturns<string> => run('setpriv', ['--reuid', user, '--regid', user, '--init-groups', '--', 'sipcapture', ...args], { env, allowFail: true });

    // Before systemd made the state and runtime folders, the user cannot write there: refused.
    const early = asUser(['check-config', '--quiet', '-c', cfgFile]);
    assert.equal(early.status, 2, early.stderr);
    assert.match(early.stderr, new RegExp(`db_url: the SQLite file ${state}/.*: the directory ${state} does not exist`));
    assert.match(early.stderr, /spool_dir: .*, where it would be created, is not writable for this user \(EACCES\)/);
    assert.match(early.stderr, new RegExp(`rpc_socket: .*the directory ${runtime} does not exist`));
    // StateDirectory= and RuntimeDirectory= of the unit: folders owned by the service user.
    for (const d of [state, runtime]) {
      mkdirSync(d, { mode: 0o750 });
      chownSync(d, uid, gid);
    }
    const check = asUser(['check-config', '--quiet', '-c', cfgFile]);
    assert.equal(check.status, 0, check.stderr);
    assert.equal(check.stdout, '', 'quiet: nothing for the journal');

    const daemon = startAs(user, ['sipcapture', 'run', '-c', cfgFile], env);
    try {
      assert.ok(await waitFor(() => daemon.log().includes('sipcapture running'), 20_000), daemon.log());
      const sent = run('sipcapture', ['send', '--port', String(hepPort), '--count', '30', '--rate', '0', '--mix', 'call'], { env });
      assert.match(sent.stdout, /^sent 30 of 30 messages/);
      const dbFile = path.join(state, 'sipcapture.sqlite');
      const rowCount = (): number => {
        try {
          const db = new Database(dbFile, { readonly: true, fileMustExist: true });
          try {
            const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'sip_capture_%'").all() as { name: string }[];
            return tables.reduce((n, t) => n + (db.prepare(`SELECT count(*) AS n FROM "${t.name}"`).get() as { n: number }).n, 0);
          } finally {
            db.close();
          }
        } catch {
          return 0;
        }
      };
      assert.ok(await waitFor(() => rowCount() === 30, 15_000), `rows: ${rowCount()}\n${daemon.log()}`);
      const status = asUser(['rpc', '-c', cfgFile, 'sipcapture.status', 'check']);
      assert.equal(status.stdout.trim(), 'Enabled', status.stderr);

      // systemctl reload: SIGHUP, after an edit switching capture off.
      writeFileSync(cfgFile, config.replace('capture_on: 1,', 'capture_on: 0,'));
      daemon.child.kill('SIGHUP');
      assert.ok(await waitFor(() => daemon.log().includes('capture_on switched off by reload (SIGHUP)'), 10_000), daemon.log());
      run('sipcapture', ['send', '--port', String(hepPort), '--count', '5', '--rate', '0', '--mix', 'call'], { env });
      const dropped = (): number => {
        const r = asUser(['rpc', '-c', cfgFile, '--json', 'sipcapture.stats']);
        const reply = JSON.parse(r.stdout) as { result?: { dropped?: Record<string, number> } };
        return reply.result?.dropped?.['capture_off'] ?? 0;
      };
      let offCount = 0;
      assert.ok(await waitFor(() => (offCount = dropped()) === 5, 10_000, 300), `capture_off ${offCount}`);
      const on = asUser(['rpc', '-c', cfgFile, 'sipcapture.status', 'on']);
      assert.equal(on.stdout.trim(), 'Enabled', on.stderr);
      assert.ok(await waitFor(() => daemon.log().includes(`capture_on switched on by rpc_socket ${runtime}/sipcapture.sock`), 5000), daemon.log());
      assert.ok(await waitFor(() => /"msg":"summary: \d+ received/.test(daemon.log()), 5000), daemon.log());
    } finally {
      const code = await stopDaemon(daemon);
      assert.equal(code, 0, daemon.log());
    }
    assert.match(daemon.log(), /"msg":"stopped"/);
  });

  test('upgrade from the previous release: stop, install, start; its spool is replayed', async (t) => {
    const pgSkip = (await reachable(PG_URL, 5432)) ? false : `PostgreSQL at ${PG_URL}`;
    if (pgSkip !== false) {
      if (IN_CI) assert.fail(`CI=true but ${pgSkip} is not reachable`);
      t.skip(`${pgSkip} is not available`);
      return;
    }
    // The previous release: from git (SIPCAPTURE_UPGRADE_FROM, else main when this is not main, else
    // the commit before), built and run from its tree as the installation of that time did.
    const head = run('git', ['-C', PROJECT_ROOT, 'rev-parse', 'HEAD']).stdout.trim();
    const main = run('git', ['-C', PROJECT_ROOT, 'rev-parse', '--verify', '--quiet', 'main'], { allowFail: true }).stdout.trim();
    const from = process.env['SIPCAPTURE_UPGRADE_FROM'] ?? (main !== '' && main !== head ? 'main' : 'HEAD~1');
    const old = path.join(scratch, 'previous');
    mkdirSync(old);
    const archive = run('git', ['-C', PROJECT_ROOT, 'archive', '--format=tar', from], { allowFail: true });
    if (archive.status !== 0) {
      if (IN_CI) assert.fail(`git archive ${from}: ${archive.stderr}`);
      t.skip(`the previous release ${from} is not available in this checkout`);
      return;
    }
    run('sh', ['-c', `git -C '${PROJECT_ROOT}' archive --format=tar '${from}' | tar -x -C '${old}'`]);
    symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(old, 'node_modules'));
    run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: old });

    const dbName = `hinstall_upgrade_${RUN}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const pgUrl = new URL(PG_URL);
    const proxy = await TcpProxy.start(pgUrl.hostname || '127.0.0.1', Number(pgUrl.port || 5432));
    const dir = path.join(scratch, 'upgrade');
    mkdirSync(dir, { mode: 0o750 });
    chownSync(dir, Number(run('id', ['-u', user]).stdout.trim()), Number(run('id', ['-g', user]).stdout.trim()));
    const hepPort = await freePort();
    const cfgFile = path.join(dir, 'sipcapture.json5');
    const dbUrl = `postgres://${pgUrl.username || 'postgres'}${pgUrl.password === '' ? '' : `:${pgUrl.password}`}@127.0.0.1:${proxy.port}/${dbName}`;
    // Only parameters both versions know; no retries, so a failed write goes to the spool at once.
    writeFileSync(
      cfgFile,
      JSON.stringify({ db_url: dbUrl, capture_on: 1, hep_capture_on: 1, listen: [`udp:127.0.0.1:${hepPort}`], routes: 'homer5', insert_retries: 0, spool_dir: path.join(dir, 'spool'), http_listen: '', rpc_socket: '' }),
    );
    chmodSync(cfgFile, 0o644);
    const rows = async (): Promise<number> => {
      const c = new pg.Client({ connectionString: `${PG_URL.replace(/\/[^/]*$/, '')}/${dbName}` });
      await c.connect();
      try {
        const tables = await c.query<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE 'sip\\_capture\\_%'`);
        let n = 0;
        for (const tb of tables.rows) n += Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM "${tb.name}"`)).rows[0]?.n ?? 0);
        return n;
      } finally {
        await c.end();
      }
    };
    const send = (count: number): void => void run('sipcapture', ['send', '--port', String(hepPort), '--count', String(count), '--rate', '0', '--mix', 'call'], { env });
    try {
      const previous = startAs(user, [process.execPath, path.join(old, 'dist', 'src', 'cli.js'), 'run', '-c', cfgFile], env);
      try {
        assert.ok(await waitFor(() => previous.log().includes('sipcapture running'), 20_000), previous.log());
        send(10);
        assert.ok(await waitFor(async () => (await rows()) === 10, 15_000, 300), previous.log());
        // The database goes away: the next rows wait in the spool, also across the stop.
        await proxy.cut();
        send(10);
        assert.ok(await waitFor(() => filesUnder(path.join(dir, 'spool')).some((f) => statSync(f).size > 0), 15_000), previous.log());
      } finally {
        assert.equal(await stopDaemon(previous), 0, previous.log());
      }
      const spooled = filesUnder(path.join(dir, 'spool')).reduce((n, f) => n + statSync(f).size, 0);
      assert.ok(spooled > 0, 'the previous release left rows in its spool');

      // Upgrade: the new version (installed above) on the same config, the database back.
      await proxy.restore();
      const next = startAs(user, ['sipcapture', 'run', '-c', cfgFile], env);
      try {
        // The spool is replayed while the store opens, before the signal handlers are in place:
        // wait for the start to finish, so the SIGTERM below is a clean stop.
        assert.ok(await waitFor(() => next.log().includes('sipcapture running'), 20_000), next.log());
        let n = 0;
        assert.ok(await waitFor(async () => (n = await rows()) === 20, 30_000, 300), `rows ${n}\n${next.log()}`);
      } finally {
        assert.equal(await stopDaemon(next), 0, next.log());
      }
    } finally {
      await proxy.close();
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [dbName]);
      await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
      await admin.end();
    }
  });
});

describe('docs/operations.md install steps are the ones this test runs', () => {
  test('each step of the test is in the documented block', () => {
    const doc = readFileSync(path.join(PROJECT_ROOT, 'docs', 'operations.md'), 'utf8');
    const m = /<!-- install-steps -->\s*```sh\n([\s\S]*?)```/.exec(doc);
    assert.ok(m, 'docs/operations.md has the install steps');
    const steps = m[1] ?? '';
    for (const step of [
      'npm install -g --prefix /opt/sipcapture --omit=dev ./sipcapture-X.Y.Z.tgz',
      'useradd --system --no-create-home --shell /usr/sbin/nologin sipcapture',
      'install -d -m 0750 -o root -g sipcapture /etc/sipcapture',
      'install -m 0640 -o root -g sipcapture $P/config/sipcapture.etc.json5 /etc/sipcapture/sipcapture.json5',
      'install -d -m 0750 -o sipcapture -g sipcapture /var/lib/sipcapture /run/sipcapture',
      'sudo -u sipcapture sipcapture check-config --quiet -c /etc/sipcapture/sipcapture.json5',
      'sipcapture send --count 30',
      'sudo -u sipcapture sipcapture rpc -c /etc/sipcapture/sipcapture.json5 sipcapture.status check',
      'systemctl reload sipcapture',
    ]) {
      assert.ok(steps.includes(step), `missing in the doc: ${step}`);
    }
  });
});
