/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per file,
 * as shares of the non-idle samples, so "where does the daemon's time go" fits in a table.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  /** Share of the non-idle time, %. */
  share: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idleMs: number;
  busyMs: number;
  functions: ProfileEntry[];
  files: ProfileEntry[];
}

/** `file:///…/dist/src/sip/parser.js` → `src/sip/parser.js`; node internals and packages stay recognisable. */
export function shortUrl(url: string): string {
  if (url === '') return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const m = /\/(src|bench|test)\/.*$/.exec(url);
  if (m) return m[0].slice(1);
  return url.replace(/^file:\/\//, '');
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfByNode = new Map<number, number>();
  // timeDeltas[i] is the time since the previous sample: attribute it to sample i.
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  let idleMs = 0;
  let totalMs = 0;
  for (const [id, ms] of selfByNode) {
    const cf = byId.get(id)?.callFrame;
    if (!cf) continue;
    totalMs += ms;
    if (cf.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const where = shortUrl(cf.url);
    const name = where === '' ? cf.functionName || '(anonymous)' : `${cf.functionName || '(anonymous)'} ${where}:${cf.lineNumber + 1}`;
    fn.set(name, (fn.get(name) ?? 0) + ms);
    const fileKey = where === '' ? cf.functionName : where;
    files.set(fileKey, (files.get(fileKey) ?? 0) + ms);
  }
  const busyMs = totalMs - idleMs;
  const rank = (m: Map<string, number>): ProfileEntry[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, selfMs]) => ({ name, selfMs, share: busyMs > 0 ? (100 * selfMs) / busyMs : 0 }));
  return { file, totalMs, idleMs, busyMs, functions: rank(fn), files: rank(files) };
}
