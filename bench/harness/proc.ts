/**
 * Linux /proc readers for the throughput benchmark: CPU time and peak RSS of a process, the
 * database server's processes, per-socket and system-wide UDP drops, machine-wide CPU.
 * Everything returns 0 / empty rather than throwing when a process is gone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux we run on). */
export const CLK_TCK = 100;

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Fields after the `(comm)` of /proc/<pid>/stat (field 3 = index 0). */
function statFields(pid: number): { comm: string; fields: string[] } | null {
  const text = read(`/proc/${pid}/stat`);
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  return { comm: text.slice(text.indexOf('(') + 1, close), fields: text.slice(close + 2).split(' ') };
}

/** utime + stime of a process (all threads), in seconds; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  const s = statFields(pid);
  if (s === null) return 0;
  return (Number(s.fields[11]) + Number(s.fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
}

/** A `VmXxx:` line of /proc/<pid>/status in MiB (VmHWM = peak RSS, VmRSS = current). */
export function statusMiB(pid: number, key: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(read(`/proc/${pid}/status`));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Pids whose comm is one of `names` (e.g. postgres, mariadbd). */
export function pidsByComm(names: readonly string[]): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const s = statFields(pid);
    if (s !== null && names.includes(s.comm)) out.push(pid);
  }
  return out;
}

/** A process and all its descendants (by parent pid), e.g. Kamailio's main process and the workers it forks. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = statFields(Number(entry));
    if (s === null) continue;
    const ppid = Number(s.fields[1]); // field 4
    const list = children.get(ppid);
    if (list === undefined) children.set(ppid, [Number(entry)]);
    else list.push(Number(entry));
  }
  if (statFields(root) === null) return [];
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

/**
 * Proportional set size in MiB (/proc/<pid>/smaps_rollup): pages shared by n processes count
 * 1/n in each, so the sum over a process group is its real memory, unlike the sum of VmRSS,
 * which counts shared memory once per process that touched it. 0 when unreadable.
 */
export function pssMiB(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(read(`/proc/${pid}/smaps_rollup`));
  return m ? Number(m[1]) / 1024 : 0;
}

/** CPU seconds per pid, for a later delta. */
export type CpuSnapshot = Map<number, number>;

export function cpuSnapshot(pids: readonly number[]): CpuSnapshot {
  return new Map(pids.map((p) => [p, cpuSeconds(p)]));
}

/**
 * CPU seconds used between two snapshots of a process group. A process that appeared in
 * between counts from zero; one that exited in between is lost (its last ticks are unknown).
 */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot, exclude: ReadonlySet<number> = new Set()): number {
  let sum = 0;
  for (const [pid, t] of after) {
    if (exclude.has(pid)) continue;
    sum += t - (before.get(pid) ?? 0);
  }
  return sum;
}

/** System-wide UDP counters from /proc/net/snmp (InErrors, RcvbufErrors, InDatagrams). */
export function udpSnmp(): { inDatagrams: number; inErrors: number; rcvbufErrors: number } {
  const lines = read('/proc/net/snmp')
    .split('\n')
    .filter((l) => l.startsWith('Udp: '));
  if (lines.length < 2) return { inDatagrams: 0, inErrors: 0, rcvbufErrors: 0 };
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1).map(Number);
  const get = (n: string): number => values[names.indexOf(n)] ?? 0;
  return { inDatagrams: get('InDatagrams'), inErrors: get('InErrors'), rcvbufErrors: get('RcvbufErrors') };
}

/**
 * Drops counted on the UDP socket bound to 127.0.0.1:`port` (the `drops` column of
 * /proc/net/udp: datagrams the kernel discarded because the receive buffer was full), and its
 * current receive queue in bytes. null when no such socket exists.
 */
export function udpSocketDrops(port: number): { drops: number; rxQueue: number } | null {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of read('/proc/net/udp').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== local) continue;
    const rx = parseInt((f[4] ?? '0:0').split(':')[1] ?? '0', 16);
    return { drops: Number(f[12] ?? 0), rxQueue: rx };
  }
  return null;
}

/** Busy and total jiffies of the whole machine (/proc/stat first line). */
export function machineCpu(): { busy: number; total: number } {
  const f = read('/proc/stat').split('\n')[0]?.split(/\s+/).slice(1).map(Number) ?? [];
  const total = f.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** Machine facts for the report. */
export function machineInfo(): { nproc: number; memGiB: number; kernel: string; node: string; cpuModel: string; rmemMax: number; loadavg: string } {
  return {
    nproc: os.availableParallelism(),
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    rmemMax: Number(read('/proc/sys/net/core/rmem_max').trim() || 0),
    loadavg: read('/proc/loadavg').trim(),
  };
}

/** The 1-minute load average. */
export function load1(): number {
  return Number(read('/proc/loadavg').split(' ')[0] ?? 0);
}
