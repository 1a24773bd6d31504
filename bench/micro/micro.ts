/**
 * `npm run bench:micro`: the micro-benchmarks of the hot modules in one go, each in its own
 * process (so one's JIT state and garbage do not colour the next), with their per-op figures.
 *
 *   node dist/bench/micro/micro.js [--all] [--db] [name …]
 *
 * Default: HEP decode + TCP framer, SIP parse + row build, the whole in-process ingest path,
 * COPY encoding, shipping rows to the SQLite worker, and the SQLite store. --db adds the PostgreSQL / MySQL store benchmarks (needs the servers);
 * --all also the hook and the raw-capture decoder (its live part runs only as root). Names pick
 * benchmarks.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Micro {
  name: string;
  file: string;
  what: string;
  env?: Record<string, string>;
  group: 'default' | 'db' | 'all';
}

const MICROS: readonly Micro[] = [
  { name: 'hep-decode', file: 'hep-decode.bench', what: 'HEP v2/v3 decode, HEP3 TCP framer', group: 'default' },
  { name: 'sip-parse', file: 'sip-parse.bench', what: 'SIP parse and parse + row build (INVITE with SDP, 200 OK)', group: 'default' },
  { name: 'ingest', file: 'ingest.bench', what: 'load generator per packet; HEP3 → decode → parse → row → route → writer, null store', group: 'default' },
  { name: 'copy-encode', file: 'copy-encode.bench', what: 'PostgreSQL COPY BINARY encoding per row', group: 'default' },
  { name: 'sqlite-ship', file: 'sqlite-ship.bench', what: 'SQLite: main-thread encode + postMessage per row and worker decode', group: 'default' },
  { name: 'store-sqlite', file: 'store-sqlite.bench', what: 'SQLite: bare better-sqlite3 vs StoreWriter → SqliteStore (worker)', env: { BENCH_ROWS: '50000' }, group: 'default' },
  { name: 'store', file: 'store.bench', what: 'PostgreSQL COPY and MySQL INSERT: store vs bare client', group: 'db' },
  { name: 'store-path', file: 'store-path.bench', what: 'StoreSet → StoreWriter → Store per backend vs bare client', group: 'db' },
  { name: 'pipeline-threads', file: 'pipeline-threads.bench', what: 'capacity of the pipeline threads: 0, 1, 2 threads from memory (npm run bench:threads)', group: 'all' },
  { name: 'hook', file: 'hook.bench', what: 'nonsip_hook worker round trip (off by default)', group: 'all' },
  { name: 'raw-capture', file: 'raw-capture.bench', what: 'raw capture decoder (live part as root only)', group: 'all' },
];

const argv = process.argv.slice(2);
const flags = new Set(argv.filter((a) => a.startsWith('--')));
const names = argv.filter((a) => !a.startsWith('--'));
const here = path.dirname(fileURLToPath(import.meta.url));
const underTsx = import.meta.url.endsWith('.ts');

const chosen = MICROS.filter((m) =>
  names.length > 0 ? names.includes(m.name) : m.group === 'default' || (m.group === 'db' && (flags.has('--db') || flags.has('--all'))) || (m.group === 'all' && flags.has('--all')),
);
let failed = 0;
for (const m of chosen) {
  const file = path.join(here, `${m.file}.${underTsx ? 'ts' : 'js'}`);
  if (!existsSync(file)) {
    console.log(`\n## ${m.name}: ${file} not found, skipped`);
    continue;
  }
  console.log(`\n## ${m.name} — ${m.what}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...(underTsx ? ['--import', 'tsx'] : []), file], {
    stdio: 'inherit',
    env: { ...process.env, ...(m.env ?? {}) },
  });
  if (r.status !== 0) {
    failed++;
    console.log(`## ${m.name}: exited with ${r.status ?? r.signal}`);
  }
  console.log(`## (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
process.exitCode = failed > 0 ? 1 : 0;
