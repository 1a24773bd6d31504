/**
 * What the tests comparing rows with Kamailio 5.6.3's share (the golden corpus, the edge corpus):
 * the row options the corpora were recorded with, reading a JSON-lines corpus, and the one byte
 * Kamailio's X-OIP code writes into the stored message (docs/kamailio-differences.md, R1).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SipRowOptions } from '../../src/capture/sip-row.js';
import { PROJECT_ROOT } from './env.js';

/** capture_node "homer01", TZ UTC, default X-CID and custom field headers, no topoh, capture_bad_msgs 0. */
export const KAMAILIO_CORPUS_OPTIONS: SipRowOptions = {
  captureNode: 'homer01',
  callidAlegHeaders: ['X-CID'],
  customFieldHeaders: ['Mac', 'IP', 'Port'],
  topoh: null,
  captureBadMsgs: false,
  dateTimeZone: 'UTC',
};

/** One JSON value per non-empty line. */
export function readJsonLines<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** The golden corpus (test/fixtures/golden/README.md): HEP packets and the rows Kamailio 5.6.3 wrote. */
export const GOLDEN_CORPUS = path.join(PROJECT_ROOT, 'test/fixtures/golden/kamailio-5.6.3-corpus.jsonl');

/** The golden corpus, one object per packet; `L` names the fields a test reads. */
export function goldenCorpus<L>(): L[] {
  return readJsonLines<L>(GOLDEN_CORPUS);
}

/**
 * Kamailio's `msg` differs from ours only by a NUL over the first ':' at or after `from` (the
 * X-OIP body start). Returns the offset of that byte.
 */
export function assertXoipNul(ours: Buffer, theirs: Buffer, from: number): number {
  assert.equal(theirs.length, ours.length);
  const diffAt: number[] = [];
  for (let i = 0; i < theirs.length; i++) if (theirs[i] !== ours[i]) diffAt.push(i);
  assert.equal(diffAt.length, 1, 'exactly one byte differs');
  const at = diffAt[0] as number;
  assert.deepEqual([theirs[at], ours[at]], [0, 0x3a]);
  assert.equal(ours.indexOf(0x3a, from), at, "the first ':' at or after the X-OIP body");
  return at;
}
