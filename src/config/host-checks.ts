/**
 * Checks of a valid configuration against the host it runs on: the things `run` would trip
 * over at start-up that the values alone cannot tell. `check-config` and `run` both call
 * `hostProblems`, so check-config refuses whatever run would (and run refuses them before it
 * opens a database or a socket, naming the key):
 *
 * - a listen (or http_listen) IP that is not an address of this host;
 * - a spool_dir that cannot be used (not a directory, not writable, a read-only file system);
 * - a sqlite:// file or rpc_socket whose directory does not exist (sipcapture does not create
 *   directories for them: a typo must not make a tree, as root, anywhere);
 * - a hook_module JavaScript file with a syntax error (found with `node --check`, which parses
 *   without running it).
 *
 * Nothing here changes the host: addresses are probed by binding port 0 and closing at once, so a
 * daemon already running on the configured port does not make check-config fail.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { dbUrlKind, sqliteFilePath } from './db-url.js';
import type { ConfigProblem } from './errors.js';
import type { SipcaptureConfig } from './types.js';

/** Every problem found, in the order of the keys; empty when run can start. */
export async function hostProblems(cfg: SipcaptureConfig): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  for (const address of cfg.listenAddresses) {
    const why = await bindProblem(address.protocol === 'udp' ? 'udp' : 'tcp', address.host);
    if (why !== undefined) problems.push({ key: 'listen', message: `"${address.spec}": ${why}` });
  }
  if (cfg.http_listen !== '') {
    const host = httpHost(cfg.http_listen);
    const why = host === undefined ? undefined : await bindProblem('tcp', host);
    if (why !== undefined) problems.push({ key: 'http_listen', message: `"${cfg.http_listen}": ${why}` });
  }
  if (cfg.spool_max_bytes > 0) {
    const why = directoryProblem(cfg.spool_dir, true);
    if (why !== undefined) problems.push({ key: 'spool_dir', message: `"${cfg.spool_dir}": ${why}` });
  }
  for (const [key, url] of sqliteUrls(cfg)) {
    const file = sqliteFilePath(url);
    if (file === ':memory:') continue;
    // SQLite writes its -wal and -shm files beside the database: the folder must be writable too.
    const why = directoryProblem(path.dirname(file), false) ?? fileProblem(file);
    if (why !== undefined) problems.push({ key, message: `the SQLite file ${file}: ${why}` });
  }
  if (cfg.rpc_socket !== '') {
    const why = directoryProblem(path.dirname(cfg.rpc_socket), false);
    if (why !== undefined) problems.push({ key: 'rpc_socket', message: `"${cfg.rpc_socket}": ${why}` });
  }
  if (cfg.nonsip_hook === 1 && cfg.hook_module !== '') {
    const why = javascriptSyntaxProblem(cfg.hook_module);
    if (why !== undefined) problems.push({ key: 'hook_module', message: why });
  }
  return problems;
}

/** The default db_url and each capture mode's, with the key to name. */
function sqliteUrls(cfg: SipcaptureConfig): [string, string][] {
  const out: [string, string][] = [];
  if (dbUrlKind(cfg.db_url) === 'sqlite') out.push(['db_url', cfg.db_url]);
  for (const mode of cfg.captureModes.values()) {
    if (mode.db_url !== cfg.db_url && dbUrlKind(mode.db_url) === 'sqlite') out.push([`capture_mode ${mode.name}`, mode.db_url]);
  }
  return out;
}

/** The host of `HOST:PORT` / `[V6]:PORT`. */
function httpHost(listen: string): string | undefined {
  const m = /^\[([^\]]+)\]:\d+$/.exec(listen) ?? /^([^:]+):\d+$/.exec(listen);
  return m?.[1];
}

/** Binds port 0 on `host` and closes: undefined when the address is usable, else why not. */
function bindProblem(protocol: 'udp' | 'tcp', host: string): Promise<string | undefined> {
  const explain = (err: NodeJS.ErrnoException): string =>
    err.code === 'EADDRNOTAVAIL'
      ? `${host} is not an address of this host (EADDRNOTAVAIL); use one of its addresses, or 0.0.0.0 / :: for all`
      : `cannot bind ${host} (${err.code ?? err.message})`;
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      socket.once('error', (err) => {
        socket.close();
        resolve(explain(err));
      });
      socket.bind({ address: host, port: 0, exclusive: true }, () => socket.close(() => resolve(undefined)));
    } else {
      const server = net.createServer();
      server.once('error', (err) => resolve(explain(err)));
      server.listen({ host, port: 0, exclusive: true }, () => server.close(() => resolve(undefined)));
    }
  });
}

/**
 * Why `dir` cannot hold files, or undefined. With `mayCreate` a missing directory is fine when
 * its nearest existing parent is a writable directory (sipcapture creates the spool's own folders).
 */
export function directoryProblem(dir: string, mayCreate: boolean): string | undefined {
  let existing = dir;
  for (;;) {
    try {
      const st = statSync(existing);
      if (!st.isDirectory()) return existing === dir ? 'is not a directory' : `${existing} is not a directory`;
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') {
        existing = path.dirname(existing); // a file on the way: found as not a directory above
        continue;
      }
      if (code !== 'ENOENT') return `${existing}: ${code ?? String(err)}`;
      if (!mayCreate) return `the directory ${dir} does not exist (create it; sipcapture does not create directories for it)`;
      const parent = path.dirname(existing);
      if (parent === existing) return `no part of ${dir} exists`;
      existing = parent;
    }
  }
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === 'EROFS' ? 'is on a read-only file system (EROFS)' : code === 'EACCES' ? 'is not writable for this user (EACCES)' : `cannot be written (${code ?? String(err)})`;
    return existing === dir ? what : `${existing}, where it would be created, ${what}`;
  }
  return undefined;
}

/** Why an existing file cannot be written by this user, or undefined (also when it does not exist yet). */
function fileProblem(file: string): string | undefined {
  try {
    accessSync(file, constants.W_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    return code === 'EACCES' ? 'is not writable for this user (EACCES)' : `cannot be written (${code ?? String(err)})`;
  }
}

/**
 * For a JavaScript module that does not parse: `FILE does not parse: node's message (at FILE:LINE)`;
 * undefined when it parses (or is TypeScript, checked when the hook loads).
 */
export function javascriptSyntaxProblem(file: string): string | undefined {
  if (!/\.(?:c|m)?js$/.test(file)) return undefined;
  const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
  if (r.status === 0) return undefined;
  const lines = (r.stderr || r.error?.message || 'node --check failed').trim().split('\n');
  const message = lines.find((l) => /^\w*Error: /.test(l)) ?? lines.at(-1) ?? '';
  const where = lines[0] !== undefined && lines[0].startsWith(file) ? lines[0] : file;
  return `${file} does not parse: ${message} (at ${where})`;
}
