/**
 * Throw-away network namespaces for live raw-capture tests: a veth pair whose host side stays
 * in the test's namespace (where the capture runs) and whose other side lives in a namespace
 * the test creates and deletes. Addresses are only from 198.19.0.0/24, and on the host side
 * only as /32s (no /24 route that could clash with other tests). Traffic goes only to
 * addresses on this veth pair (or to unowned addresses behind static neighbour entries).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PROJECT_ROOT, requireOrSkip } from '../helpers/env.js';
import type { SendAction } from './_ns-sender.js';

/** node:test skip value for live tests: root and the `ip` command are needed. */
export function liveSkip(): string | false {
  const root = process.getuid?.() === 0;
  const ip = spawnSync('ip', ['-V'], { stdio: 'ignore' }).status === 0;
  return requireOrSkip(root && ip, 'root and the `ip` command (live network-namespace capture)');
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface Netns {
  ns: string;
  /** veth end in the test's namespace (capture here). */
  hostIf: string;
  /** veth end inside the namespace (send from here). */
  nsIf: string;
  hostMac: string;
  nsMac: string;
  /** Host-side address (/32), when requested. */
  hostIp: string;
  nsIp: string;
  /** A neighbour inside the namespace with a MAC nobody owns (for promiscuous tests). */
  foreignIp: string;
  foreignMac: string;
  /** Runs the sender inside the namespace; returns its stdout. */
  send(actions: SendAction[]): string;
  destroy(): void;
}

let seq = 0;

/**
 * Creates namespace + veth. `hostAddress`: give the host side a /32 address (IPIP needs the
 * host to own the outer destination); mirror tests do not need one.
 */
export function createNetns(hostAddress: boolean): Netns {
  const n = seq++;
  const id = `${process.pid % 100000}${String.fromCharCode(97 + (n % 26))}`;
  const ns = `sipcap-test-${id}`;
  const hostIf = `sch${id}`;
  const nsIf = `scn${id}`;
  // Last octets from the pid, so parallel runs rarely share them (and then only a /32).
  const base = 10 + ((process.pid * 7 + n * 3) % 80) * 3;
  const hostIp = `198.19.0.${base}`;
  const nsIp = `198.19.0.${base + 1}`;
  const foreignIp = `198.19.0.${base + 2}`;
  const foreignMac = '02:00:5e:10:00:99';
  const destroy = (): void => {
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    if (existsSync(`/sys/class/net/${hostIf}`)) spawnSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' });
  };
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', ns);
    ip('link', 'set', hostIf, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'set', nsIf, 'up');
    ip('-n', ns, 'addr', 'add', `${nsIp}/24`, 'dev', nsIf);
    const hostMac = readFileSync(`/sys/class/net/${hostIf}/address`, 'utf8').trim();
    const nsMac = ip('-n', ns, '-br', 'link', 'show', nsIf).trim().split(/\s+/)[2] ?? '';
    // Static neighbours: no ARP needed in either direction.
    ip('-n', ns, 'neigh', 'replace', hostIp, 'lladdr', hostMac, 'dev', nsIf, 'nud', 'permanent');
    ip('-n', ns, 'neigh', 'replace', foreignIp, 'lladdr', foreignMac, 'dev', nsIf, 'nud', 'permanent');
    if (hostAddress) {
      ip('addr', 'add', `${hostIp}/32`, 'dev', hostIf);
      ip('route', 'add', `${nsIp}/32`, 'dev', hostIf);
      ip('neigh', 'replace', nsIp, 'lladdr', nsMac, 'dev', hostIf, 'nud', 'permanent');
    }
    return { ns, hostIf, nsIf, hostMac, nsMac, hostIp, nsIp, foreignIp, foreignMac, send: (a) => runSender(ns, a), destroy };
  } catch (err) {
    destroy();
    throw err;
  }
}

function runSender(ns: string, actions: SendAction[]): string {
  const ts = fileURLToPath(import.meta.url).endsWith('.ts');
  const script = fileURLToPath(new URL(ts ? './_ns-sender.ts' : './_ns-sender.js', import.meta.url));
  const args = ['netns', 'exec', ns, process.execPath, ...(ts ? ['--import', 'tsx'] : []), script, JSON.stringify(actions)];
  const r = spawnSync('ip', args, { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`sender in ${ns} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** base64 of a Buffer, for SendAction payloads. */
export const b64 = (b: Buffer): string => b.toString('base64');
