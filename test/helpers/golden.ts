/** The golden corpus (test/fixtures/golden/README.md): HEP packets and the rows Kamailio 5.6.3 wrote. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SipRowOptions } from '../../src/capture/sip-row.js';
import { PROJECT_ROOT } from './env.js';

export const GOLDEN_CORPUS = path.join(PROJECT_ROOT, 'test/fixtures/golden/kamailio-5.6.3-corpus.jsonl');

/** One object per packet; `L` names the fields a test reads. */
export function goldenCorpus<L>(): L[] {
  return readFileSync(GOLDEN_CORPUS, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as L);
}

/**
 * Kamailio's configuration for the corpus: capture_node "homer01", TZ UTC, default X-CID,
 * default custom field headers, topoh_unmask 0, capture_bad_msgs 0.
 */
export const GOLDEN_ROW_OPTIONS: SipRowOptions = {
  captureNode: 'homer01',
  callidAlegHeaders: ['X-CID'],
  customFieldHeaders: ['Mac', 'IP', 'Port'],
  topoh: null,
  captureBadMsgs: false,
  dateTimeZone: 'UTC',
};
