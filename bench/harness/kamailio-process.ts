/**
 * Kamailio (Debian's `kamailio` 5.6.3 with `kamailio-postgres-modules`) as a benchmark receiver:
 * find the binary and its module directory, write a minimal kamailio.cfg that stores every SIP
 * message with the sipcapture module (HEP over UDP: `hep_capture_on=1`,
 * `nonsip_hook=0`; the inner SIP runs through the script, where `sip_capture()` stores it), start
 * it in the foreground, wait until it stores, and stop it with all the workers it forked.
 *
 * Only Kamailio's documented behaviour is used (its --help, its log lines, the module's admin
 * guide): no Kamailio source code.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { processTree } from './proc.js';

export interface KamailioInstall {
  bin: string;
  /** First line of `kamailio -v`. */
  version: string;
  /** The module search path (`-L`'s default in `kamailio --help`). */
  moduleDir: string;
}

/**
 * The installed Kamailio with sipcapture.so and db_postgres.so, or the reason it cannot be used.
 * `explicit` (a path given on the command line) wins over PATH and /usr/sbin/kamailio.
 */
export function findKamailio(explicit?: string): KamailioInstall | { missing: string } {
  const candidates = explicit !== undefined ? [explicit] : [...(process.env['PATH'] ?? '').split(':').filter((d) => d !== '').map((d) => path.join(d, 'kamailio')), '/usr/sbin/kamailio'];
  const bin = candidates.find((c) => {
    try {
      accessSync(c, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (bin === undefined) return { missing: `no kamailio executable (looked in ${explicit ?? 'PATH and /usr/sbin'}); on Debian: apt-get install kamailio kamailio-postgres-modules` };
  const v = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  const version = `${v.stdout}${v.stderr}`.split('\n').find((l) => /kamailio/i.test(l))?.trim() ?? 'unknown version';
  const help = spawnSync(bin, ['--help'], { encoding: 'utf8' });
  const m = /-L path\s+Modules search path \(default: ([^)]+)\)/.exec(`${help.stdout}${help.stderr}`);
  const moduleDir = m?.[1]?.trim() ?? '/usr/lib/x86_64-linux-gnu/kamailio/modules';
  for (const mod of ['sipcapture.so', 'db_postgres.so']) {
    if (!existsSync(path.join(moduleDir, mod))) return { missing: `${bin} (${version}) has no ${mod} in ${moduleDir}; on Debian: apt-get install kamailio kamailio-postgres-modules` };
  }
  return { bin, version, moduleDir };
}

export interface KamailioConfigOptions {
  port: number;
  table: string;
  /** db_postgres URL, postgres://user[:password]@host[:port]/database. */
  dbUrl: string;
  /** UDP worker processes (core `children`); Kamailio's default is 8. */
  children: number;
  moduleDir: string;
  /** Extra core parameter lines (e.g. `maxbuffer=8388608`), written before the modules. */
  coreLines?: readonly string[];
}

/** Kamailio's db_postgres takes `postgres://…`; drop what its URL parser does not know (query strings). */
export function kamailioDbUrl(pgUrl: string): string {
  const u = new URL(pgUrl);
  const auth = u.username !== '' ? `${decodeURIComponent(u.username)}${u.password !== '' ? `:${decodeURIComponent(u.password)}` : ''}@` : '';
  return `postgres://${auth}${u.hostname}${u.port !== '' ? `:${u.port}` : ''}${u.pathname}`;
}

/** The whole kamailio.cfg of a step: Kamailio's defaults except what the benchmark must set. */
export function kamailioConfig(o: KamailioConfigOptions): string {
  return `#!KAMAILIO
# Written by bench/system/kamailio.ts: store every SIP message that arrives as HEP over UDP.
# Core defaults (shm 64 MiB, pkg 8 MiB, UDP buffer probing) except these lines.
# debug=2 (INFO) logs the start-up lines (memory sizes, receive buffer), nothing per packet.
debug=2
children=${o.children}
# HEP over UDP only ("path A"); HEP3 over TCP would need nonsip_hook=1.
disable_tcp=yes
listen=udp:127.0.0.1:${o.port}
${(o.coreLines ?? []).map((l) => `${l}\n`).join('')}mpath="${o.moduleDir}"
loadmodule "db_postgres.so"
loadmodule "sipcapture.so"
modparam("sipcapture", "db_url", "${o.dbUrl}")
modparam("sipcapture", "table_name", "${o.table}")
modparam("sipcapture", "capture_on", 1)
modparam("sipcapture", "hep_capture_on", 1)
# Only silences the ERROR the defaults log at every start; retries stay off (insert_retries 0).
modparam("sipcapture", "insert_retry_timeout", 0)

request_route {
    sip_capture();
    drop;
}

onreply_route {
    sip_capture();
    drop;
}
`;
}

export interface KamailioProcess {
  /** The main (attendant) process. */
  readonly pid: number;
  /** The main process and every worker it forked, read once Kamailio stored its first row. */
  readonly pids: readonly number[];
  /** Spawn → the first probe message stored (every worker forked, database connections open). */
  readonly startupMs: number;
  /** From its start-up log: shm and pkg sizes (bytes), the UDP receive buffer it ended with. */
  readonly memory: { shmBytes: number | null; pkgBytes: number | null; rcvbufBytes: number | null };
  /** Log lines at ERROR or worse since start (or since `markErrors`), and the first few. */
  errorCount(): number;
  errorSamples(): string[];
  markErrors(): void;
  /** SIGTERM to the main process, wait (then SIGKILL every process of the tree that is left). */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The cfg file and the start-up log (first lines). */
  readonly configFile: string;
  log(): string;
}

export interface KamailioStartOptions {
  install: KamailioInstall;
  config: KamailioConfigOptions;
  /** Scratch directory of this instance: cfg, runtime dir (-Y), working dir (-w). */
  dir: string;
  /** Sends one message that Kamailio should store (the readiness probe). */
  probe: () => Promise<void>;
  /** Rows in the table now. */
  count: () => Promise<number>;
  startTimeoutMs?: number;
  /** Registers a clean-up (kill the process tree) while the start is in progress; returns its unregister function. */
  track?: (cleanup: () => Promise<void>) => () => void;
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** SIGKILL one process of our Kamailio tree if it is still a Kamailio process (pids are reused). */
function killIfKamailio(pid: number): void {
  if (comm(pid) !== 'kamailio') return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone in between
  }
}

export async function startKamailio(o: KamailioStartOptions): Promise<KamailioProcess> {
  mkdirSync(path.join(o.dir, 'run'), { recursive: true });
  const configFile = path.join(o.dir, 'kamailio.cfg');
  writeFileSync(configFile, kamailioConfig(o.config));
  const t0 = performance.now();
  // -DD: stay in the foreground (the workers are still forked); -E: log to stderr; -Y: runtime
  // dir (the fifo/ctl files) in the scratch dir, not /run/kamailio; -w: working dir.
  // TZ=UTC: the module writes `date` in local time, the daemon in UTC by default.
  const child = spawn(o.install.bin, ['-DD', '-E', '-f', configFile, '-Y', path.join(o.dir, 'run'), '-w', o.dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TZ: 'UTC' },
  });
  let head = '';
  let errors = 0;
  let errorsMark = 0;
  const samples: string[] = [];
  let partial = '';
  const onText = (d: Buffer): void => {
    // Always drained: a full pipe would block the workers that log.
    const text = partial + d.toString();
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (head.length < 20_000) head += `${line}\n`;
      if (/\b(ERROR|CRITICAL|ALERT|BUG):/.test(line)) {
        errors++;
        if (samples.length < 20) samples.push(line.trim());
      }
    }
  };
  child.stdout.on('data', onText);
  child.stderr.on('data', onText);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  const pid = child.pid!;
  const killTree = (): void => {
    for (const p of processTree(pid)) killIfKamailio(p);
  };
  // Ready = a probe message was stored: the socket is bound, the workers forked and connected.
  const untrack = o.track?.(async () => {
    killTree();
    await exited;
  });
  const deadline = t0 + (o.startTimeoutMs ?? 30_000);
  let ready = false;
  try {
    while (!exitedEarly && performance.now() < deadline) {
      await o.probe().catch(() => undefined);
      const until = performance.now() + 500;
      while (!exitedEarly && performance.now() < until) {
        if ((await o.count()) > 0) {
          ready = true;
          break;
        }
        await sleep(50);
      }
      if (ready) break;
    }
    if (!ready) {
      killTree();
      const why = exitedEarly ? `exited (${JSON.stringify(await exited)})` : 'stored nothing within the start timeout';
      throw new Error(`kamailio ${why}; its log:\n${head.slice(-4000)}${partial}`);
    }
  } finally {
    untrack?.();
  }
  const startupMs = performance.now() - t0;
  const pids = processTree(pid);
  const num = (re: RegExp): number | null => {
    const m = re.exec(head);
    return m ? Number(m[1]) : null;
  };
  const memory = {
    shmBytes: num(/shm size: (\d+)/),
    pkgBytes: num(/pkg size: (\d+)/),
    rcvbufBytes: num(/SO_RCVBUF is finally (\d+)/),
  };
  let stopped: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;
  return {
    pid,
    pids,
    startupMs,
    memory,
    configFile,
    errorCount: () => errors - errorsMark,
    errorSamples: () => samples.slice(),
    markErrors: () => {
      errorsMark = errors;
      samples.length = 0;
    },
    log: () => head,
    stop(timeoutMs = 10_000) {
      stopped ??= (async () => {
        const tree = processTree(pid);
        if (!exitedEarly) child.kill('SIGTERM');
        const killer = setTimeout(killTree, timeoutMs);
        const result = await exited;
        clearTimeout(killer);
        // Workers that outlived the main process (they should not): by pid, only if still Kamailio.
        await sleep(100);
        for (const p of tree) killIfKamailio(p);
        return result;
      })();
      return stopped;
    },
  };
}
