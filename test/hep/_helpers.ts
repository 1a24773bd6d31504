/** Shared helpers for the HEP tests: project paths, the golden corpus, the shared-folder skip rule. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: the nearest folder above this file with package.json (works from src and dist). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test', 'fixtures'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('project root not found');
    dir = up;
  }
}

export interface GoldenMeta {
  hep: 1 | 2 | 3;
  family: 2 | 10;
  ip_proto: number;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  ts_sec: number | null;
  ts_usec: number | null;
  capture_id: number | null;
  proto_type: number;
  correlation_id: string | null;
  hep_len: number;
  sip_len: number;
  label: string | null;
}

export interface GoldenRow {
  source_ip: string;
  source_port: number;
  destination_ip: string;
  destination_port: number;
  proto: number;
  family: number;
  node: string;
  micro_ts: number;
  correlation_id: string;
  msg_hex: string;
}

export interface GoldenEntry {
  set: string;
  hep_hex: string;
  meta: GoldenMeta;
  kamailio_row: GoldenRow;
}

export function readGoldenCorpus(): GoldenEntry[] {
  const file = join(projectRoot(), 'test', 'fixtures', 'golden', 'kamailio-5.6.3-corpus.jsonl');
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as GoldenEntry);
}

/**
 * The shared pcaps folder (`../shared/pcaps` beside the project; SIPCAPTURE_SHARED_DIR overrides
 * `../shared`). Returns the path, or a skip reason when it is absent; under CI=true an absent
 * folder is an error, not a skip.
 */
export function sharedPcapsDir(): { dir: string; skip: false } | { dir: null; skip: string } {
  const sharedRoot = process.env.SIPCAPTURE_SHARED_DIR ?? resolve(projectRoot(), '..', 'shared');
  const dir = join(sharedRoot, 'pcaps');
  if (existsSync(dir)) return { dir, skip: false };
  if (process.env.CI === 'true') throw new Error(`CI=true but the shared pcaps folder ${dir} is missing`);
  const reason = `shared pcaps folder ${dir} is absent (fresh clone); set CI=true to make this an error`;
  console.log(`skipping: ${reason}`);
  return { dir: null, skip: reason };
}
