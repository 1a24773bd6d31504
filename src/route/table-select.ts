/**
 * Picks one table of a capture mode's list: `rand` (uniform), `round_robin` (one
 * counter per mode in this process) or `hash` (CRC-32 of the hash source, modulo n).
 */
import type { CaptureMode, HashSource, MtMode } from '../config/types.js';
// Standard CRC-32 (zlib's) of the UTF-8 bytes. Kamailio XORs a signed char into its table index,
// so for bytes >= 0x80 its result is undefined behaviour; for ASCII both agree.
import { crc32 } from 'node:zlib';

/**
 * The strings `hash_source` can name, as stored in the row (`call_id` = the unmasked Call-ID).
 * Either a plain object or a callback, so a caller can compute only the one that is needed.
 */
export type HashSources = Readonly<Record<HashSource, string>> | ((source: HashSource) => string);

export function hashSourceValue(sources: HashSources, source: HashSource): string {
  return typeof sources === 'function' ? sources(source) : sources[source];
}

/**
 * The hashed string for a hash source. For `call_id` Kamailio skips leading whitespace and cuts
 * at the first whitespace (a Call-ID may keep a trailing space, which is not hashed); user parts
 * are hashed as stored.
 */
export function hashKey(source: HashSource, value: string): string {
  if (source !== 'call_id') return value;
  let start = 0;
  while (start < value.length && isWs(value.charCodeAt(start))) start++;
  let end = start;
  while (end < value.length && !isWs(value.charCodeAt(end))) end++;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** C isspace(): space, \t \n \v \f \r. */
function isWs(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

export interface TableSelectorOptions {
  /** Uniform [0, 1) source for `rand`; Math.random by default (tests pass a seeded one). */
  random?: () => number;
  /** First round-robin index (Kamailio starts worker `rank` at `rank % n`); 0 by default. */
  roundRobinStart?: number;
}

export interface Selection {
  index: number;
  /** mt_mode=hash and the source was empty: Kamailio drops the row, we use index 0 (docs/kamailio-differences.md R6). */
  emptyHashSource: boolean;
}

export class TableSelector {
  readonly mtMode: MtMode;
  readonly hashSource: HashSource;
  readonly size: number;
  private next: number;
  private readonly random: () => number;
  private emptyHashes = 0;

  constructor(mode: Pick<CaptureMode, 'name' | 'table_name' | 'mt_mode' | 'hash_source'>, opts: TableSelectorOptions = {}) {
    if (mode.table_name.length === 0) throw new Error(`capture mode ${mode.name}: table list is empty`);
    this.mtMode = mode.mt_mode;
    this.hashSource = mode.hash_source;
    this.size = mode.table_name.length;
    this.random = opts.random ?? Math.random;
    this.next = (((opts.roundRobinStart ?? 0) % this.size) + this.size) % this.size;
  }

  /** Rows that fell back to index 0 because the hash source was empty. */
  get emptyHashSourceCount(): number {
    return this.emptyHashes;
  }

  /**
   * The index of the table for one row. Round-robin advances here, whether or not the insert
   * later succeeds (as Kamailio does). `sources` is only read for mt_mode=hash.
   */
  select(sources?: HashSources): Selection {
    const n = this.size;
    if (n === 1) {
      if (this.mtMode === 'hash' && sources !== undefined) return this.selectHash(sources, 1);
      return { index: 0, emptyHashSource: false };
    }
    switch (this.mtMode) {
      case 'round_robin': {
        const index = this.next;
        this.next = index + 1 === n ? 0 : index + 1;
        return { index, emptyHashSource: false };
      }
      case 'hash':
        return sources === undefined ? this.emptyHash() : this.selectHash(sources, n);
      case 'rand':
      default:
        // min() guards against a random() that returns exactly 1.
        return { index: Math.min(n - 1, Math.floor(this.random() * n)), emptyHashSource: false };
    }
  }

  private selectHash(sources: HashSources, n: number): Selection {
    const key = hashKey(this.hashSource, hashSourceValue(sources, this.hashSource));
    if (key.length === 0) return this.emptyHash();
    return { index: crc32(key) % n, emptyHashSource: false };
  }

  private emptyHash(): Selection {
    this.emptyHashes++;
    return { index: 0, emptyHashSource: true };
  }
}
