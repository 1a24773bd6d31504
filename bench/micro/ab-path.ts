/**
 * Same-process A/B of the per-message receive path against another build of this project:
 * HEP3 decode, and SIP parse + row build, on the load generator's mixed traffic. Both builds run
 * alternately in one process, so a loaded machine slows both alike; the ratio is the result.
 *
 *   git worktree add /tmp/old <commit> && (cd /tmp/old && npm ci && npx tsc -p . --outDir /tmp/old-dist)
 *   node dist/bench/micro/ab-path.js /tmp/old-dist
 *
 * µs/op is process CPU time (user + system) per message, median of alternating rounds.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { validateConfig } from '../../src/config/load.js';
import { rowOptionsFrom, type SipRowOptions } from '../../src/capture/sip-row.js';
import * as newDecode from '../../src/hep/decode.js';
import { hepToCapturedMessage } from '../../src/hep/to-captured.js';
import * as newRow from '../../src/capture/sip-row.js';
import * as newSip from '../../src/sip/parser.js';
import { PacketFactory } from '../../src/loadgen/packets.js';

type DecodeModule = typeof newDecode;
type RowModule = typeof newRow;
type SipModule = typeof newSip;

const oldDir = process.argv[2];
if (oldDir === undefined) {
  console.error('usage: node dist/bench/micro/ab-path.js OLD_BUILD_DIR   (the outDir of tsc for the other build)');
  process.exit(2);
}
const load = async <T>(rel: string): Promise<T> => (await import(pathToFileURL(path.resolve(oldDir, rel)).href)) as T;
const oldDecode = await load<DecodeModule>('src/hep/decode.js');
const oldRow = await load<RowModule>('src/capture/sip-row.js');
const oldSip = await load<SipModule>('src/sip/parser.js');

const opts: SipRowOptions = rowOptionsFrom(validateConfig({ db_url: 'sqlite://unused.sqlite', capture_on: 1, hep_capture_on: 1 }, '/tmp/bench-ab.json5'));
const factory = new PacketFactory({ mix: 'mixed', versions: [3] });
const ts0 = Math.round(Date.now() * 1000);
const packets = Array.from({ length: 5000 }, (_, i) => factory.next(3, ts0 + i));
const messages = packets.map((p) => {
  const d = newDecode.decodeHep(p);
  if (!d.ok) throw new Error(d.error.message);
  return hepToCapturedMessage(d.packet, 'bench', ts0);
});

let sink = 0;
const REPEAT = 10;
function cpu(fn: () => void): number {
  const t = process.cpuUsage();
  fn();
  const u = process.cpuUsage(t);
  return (u.user + u.system) / (REPEAT * packets.length);
}
const decodeWith = (m: DecodeModule) => (): void => {
  for (let r = 0; r < REPEAT; r++) for (const p of packets) sink += m.decodeHep(p).ok ? 1 : 0;
};
const rowWith = (s: SipModule, b: RowModule) => (): void => {
  for (let r = 0; r < REPEAT; r++) {
    for (const m of messages) {
      const parsed = s.parseSip(m.payload);
      if (parsed.ok && b.buildSipRow(m, parsed.message, opts).ok) sink++;
    }
  }
};

function ab(name: string, oldFn: () => void, newFn: () => void): void {
  for (let i = 0; i < 6; i++) {
    oldFn();
    newFn();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < 15; i++) {
    if (i % 2 === 0) {
      a.push(cpu(oldFn));
      b.push(cpu(newFn));
    } else {
      b.push(cpu(newFn));
      a.push(cpu(oldFn));
    }
  }
  const med = (x: number[]): number => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)]!;
  console.log(`${name.padEnd(34)} other build ${med(a).toFixed(2).padStart(6)} µs   this build ${med(b).toFixed(2).padStart(6)} µs   ratio ${(med(b) / med(a)).toFixed(2)}`);
}

console.log(`A/B against ${oldDir}: ${packets.length} packets (mixed traffic) × ${REPEAT}, median of 15 alternating rounds, CPU µs per message`);
ab('HEP3 decode', decodeWith(oldDecode), decodeWith(newDecode));
ab('SIP parse + 44-column row', rowWith(oldSip, oldRow), rowWith(newSip, newRow));
if (sink === 0) console.log('(sink)');
