/**
 * On-disk spool for batches an output could not take (outage, retries exhausted): an
 * append-only log of records, replayed in order. What a record holds is the codec's business
 * (record-codec.ts for row batches); any output whose batches have `rows` can have a spool.
 *
 * Layout of the spool directory:
 *   seg-<16-digit sequence>.spool  append-only segments: an 8-byte header ("SCSPOOL" + version)
 *                                  then records [magic u32][payload length u32][CRC-32 u32][payload]
 *   offset.a, offset.b             the read position (read-position.ts)
 *   id                             32 random hex digits (dir-id.ts): with segment and byte offset it
 *                                  names a record for good (the stores' marker rows, store.ts ReplayMark)
 *   lock                           the lock of the process using the directory (lock.ts)
 *
 * A record is one batch, as the codec encodes it. Appends go to the newest segment only, and a segment found at start-up is never
 * appended to again, so a record torn by a crash can only be the last one of its segment.
 *
 * Guarantees:
 *   * append() resolves true only after the record is written and fdatasync'd: it survives a
 *     crash or power loss. It resolves false, writing nothing, when the record would push the
 *     spool past maxBytes (the caller counts the drop). An I/O error (e.g. ENOSPC) rejects, and
 *     the partial record is cut off again.
 *   * replay(handler) hands every acknowledged record to the handler once, in append order. A
 *     record whose CRC or framing is wrong (a torn tail, or bit rot) is never handed over: it and
 *     the rest of its segment are skipped and counted (corruptRecords, corruptBytes).
 *   * The read offset is persisted after each handler call resolves and before the next record
 *     is read. So a crash never loses an acknowledged batch; a crash after the handler committed
 *     but before the new offset reached the disk hands that one batch over again on restart.
 *     Each batch handed over carries `replayMark` (spool id, segment:offset), which the stores
 *     commit with the rows, so the writer recognises that batch and does not write it twice.
 *     A segment file is deleted only after all its records were committed and the offset moved
 *     past it.
 *   * replay() reads the segments that existed when it started; the one still being appended
 *     to is sealed only when the replay reaches it, so a replay that stops at its first record
 *     (database still down) leaves the files as they were. Appends made after that go to a new
 *     segment and are replayed by the next replay().
 *
 * Pure node:fs; CRC-32 is zlib's.
 */
import { mkdir, open, readdir, readFile, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import type { ReplayMark } from '../store.js';
import { spoolId, writeSpoolId } from './dir-id.js';
import { lockLost, releaseLock, takeLock } from './lock.js';
import { READ_POSITION_FILES, readPosition, writePosition, type ReadPos } from './read-position.js';

/** What the spool needs of a batch: its rows (counted), and a place for the replay mark. */
export interface Spoolable {
  rows: readonly unknown[];
  replayMark?: ReplayMark;
}

/** Turns a batch into one record's payload and back; decode throws on a payload it cannot read. */
export interface RecordCodec<B> {
  encode(batch: B): Buffer;
  decode(payload: Buffer): B;
}

export interface SpoolOptions<B> {
  /** Directory for the segment files (created if missing). One process per directory. */
  dir: string;
  /** How a batch becomes a record. */
  codec: RecordCodec<B>;
  /** Upper bound on the total size of all segment files, bytes (default 1 GiB). */
  maxBytes?: number;
  /** A new segment is started when the current one would grow past this, bytes (default 16 MiB). */
  segmentBytes?: number;
  /** fdatasync every append (default true). false is for tests and benchmarks only. */
  sync?: boolean;
  /**
   * What the spool is for, in words without secrets (e.g. the database it holds rows for):
   * written to the file `label`, for people and for finding the spools of an earlier configuration.
   */
  label?: string;
  /** Told when the directory was deleted while open and made again, with what was lost with it. */
  onRecreated?: (lost: { bytes: number; rows: number }) => void;
}

export interface SpoolStats {
  /** Bytes of all segment files (what maxBytes bounds). */
  bytes: number;
  /** Bytes of records not yet replayed. */
  pendingBytes: number;
  segments: number;
  appendedBatches: number;
  appendedRows: number;
  /** append() calls answered false because the spool was full. */
  rejectedFull: number;
  replayedBatches: number;
  replayedRows: number;
  corruptRecords: number;
  corruptBytes: number;
  /** Bytes of records not yet replayed that were lost with a directory deleted while open. */
  lostBytes: number;
  /** Their rows, where known (segments appended by this process). */
  lostRows: number;
}

export interface ReplayResult {
  batches: number;
  rows: number;
  corruptRecords: number;
  corruptBytes: number;
}

const SEGMENT_MAGIC = Buffer.from('SCSPOOL\x01', 'latin1');
const HEADER_BYTES = SEGMENT_MAGIC.length;
const RECORD_MAGIC = 0x53435231; // "SCR1"
const RECORD_HEADER = 12;
const SEGMENT_RE = /^seg-(\d{16})\.spool$/;

const LABEL_FILE = 'label';

/** The label a spool directory was opened with (SpoolOptions.label), or undefined. */
export async function spoolLabel(dir: string): Promise<string | undefined> {
  return readFile(join(dir, LABEL_FILE), 'utf8').then(
    (t) => t.trim(),
    () => undefined,
  );
}

const segmentName = (seq: number): string => `seg-${String(seq).padStart(16, '0')}.spool`;

interface Segment {
  seq: number;
  size: number;
  /** Rows in the segment, when known (appended by this process). */
  rows?: number;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class Spool<B extends Spoolable> {
  readonly dir: string;
  /** This spool directory's random id (file `id`): part of every record's ReplayMark. */
  readonly id: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly sync: boolean;
  /** Segments on disk, oldest first; the last may be the active one. */
  private readonly segments: Segment[];
  private active: { seq: number; fh: FileHandle; size: number } | undefined;
  private nextSeq: number;
  private readPos: ReadPos;
  /** Writes of the read position so far (picks the slot; the higher valid one wins at open). */
  private offsetCounter = 0;
  private totalBytes: number;
  private chain: Promise<unknown> = Promise.resolve();
  private replaying = false;
  private closed = false;
  private readonly counters = {
    appendedBatches: 0,
    appendedRows: 0,
    rejectedFull: 0,
    replayedBatches: 0,
    replayedRows: 0,
    corruptRecords: 0,
    corruptBytes: 0,
    lostBytes: 0,
    lostRows: 0,
  };

  private readonly codec: RecordCodec<B>;
  private readonly onRecreated: ((lost: { bytes: number; rows: number }) => void) | undefined;
  private readonly label: string | undefined;

  private constructor(opts: SpoolOptions<B>, segments: Segment[], readPos: ReadPos, id: string) {
    this.dir = opts.dir;
    this.id = id;
    this.codec = opts.codec;
    this.onRecreated = opts.onRecreated;
    this.label = opts.label;
    this.maxBytes = opts.maxBytes ?? 1024 ** 3;
    this.segmentBytes = opts.segmentBytes ?? 16 * 1024 ** 2;
    this.sync = opts.sync ?? true;
    this.segments = segments;
    // A read position inside a segment that is gone (removed by hand) must not skip into a new one.
    this.readPos = segments.some((x) => x.seq === readPos.seq) ? readPos : { seq: readPos.seq, off: HEADER_BYTES };
    this.totalBytes = segments.reduce((n, s) => n + s.size, 0);
    // Never below the read position: a new segment numbered below it would count as replayed.
    this.nextSeq = Math.max((segments.at(-1)?.seq ?? 0) + 1, readPos.seq, 1);
  }

  static async open<B extends Spoolable>(options: SpoolOptions<B>): Promise<Spool<B>> {
    const opts = { ...options, dir: resolve(options.dir) };
    await mkdir(opts.dir, { recursive: true });
    takeLock(opts.dir);
    try {
      const segments: Segment[] = [];
      for (const name of await readdir(opts.dir)) {
        const m = SEGMENT_RE.exec(name);
        if (m) segments.push({ seq: Number(m[1]), size: (await stat(join(opts.dir, name))).size });
      }
      segments.sort((a, b) => a.seq - b.seq);
      const found = readPosition(opts.dir);
      const pos = found.pos ?? { seq: segments[0]?.seq ?? 0, off: HEADER_BYTES };
      const spool = new Spool(opts, segments, pos, spoolId(opts.dir, opts.sync ?? true));
      spool.offsetCounter = found.pos?.counter ?? 0;
      // Both slots exist from the start, so later offset writes only overwrite: they work on a
      // full disk. Best effort: a disk already full now only delays this to the first replay.
      for (let i = found.slots; i < 2; i++) await spool.persistOffset().catch(() => {});
      if (opts.label !== undefined) await writeFile(join(opts.dir, LABEL_FILE), `${opts.label}\n`).catch(() => {});
      return spool;
    } catch (err) {
      releaseLock(opts.dir);
      throw err;
    }
  }

  /** Runs `fn` after every earlier append/seal/close: the file position is never shared. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => {});
    return p;
  }

  /**
   * Appends a batch durably. true: on disk (fdatasync'd). false: the spool is full, nothing
   * written. Rejects on I/O errors.
   */
  append(batch: B): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error('spool is closed'));
    let payload: Buffer;
    try {
      payload = this.codec.encode(batch);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const header = Buffer.allocUnsafe(RECORD_HEADER);
    header.writeUInt32BE(RECORD_MAGIC, 0);
    header.writeUInt32BE(payload.length, 4);
    header.writeUInt32BE(crc32(payload), 8);
    const len = RECORD_HEADER + payload.length;
    return this.serial(async () => {
      // The directory was deleted (or its lock file) while open: appends would go to files no
      // longer in any directory, lost at close. Make it again and go on in new segments.
      if (lockLost(this.dir)) await this.recreate();
      const newSegment = !this.active || (this.active.size + len > this.segmentBytes && this.active.size > HEADER_BYTES);
      const projected = this.totalBytes + len + (newSegment ? HEADER_BYTES : 0);
      if (projected > this.maxBytes) {
        this.counters.rejectedFull++;
        return false;
      }
      if (newSegment) await this.startSegment();
      const a = this.active!;
      try {
        const { bytesWritten } = await a.fh.writev([header, payload], a.size);
        // A file system that runs out of space mid-record answers with a short write, not an
        // error: the rest must not be appended behind a hole (replay would skip it as corrupt).
        if (bytesWritten !== len) throw Object.assign(new Error(`short write to the spool (${bytesWritten} of ${len} bytes): no space left on device`), { code: 'ENOSPC' });
        if (this.sync) await a.fh.datasync();
      } catch (err) {
        // Cut the partial record off; if even that fails, seal the segment so nothing is ever
        // appended behind garbage (replay then skips the torn tail).
        await a.fh.truncate(a.size).catch(async () => {
          await this.sealActive().catch(() => {});
        });
        throw err;
      }
      a.size += len;
      const seg = this.segments.at(-1)!;
      seg.size = a.size;
      seg.rows = (seg.rows ?? 0) + batch.rows.length;
      this.totalBytes += len;
      this.counters.appendedBatches++;
      this.counters.appendedRows += batch.rows.length;
      return true;
    });
  }

  /**
   * Makes the directory again after it was deleted while open: lock, id (the same one) and read
   * position are written anew; segments whose files went with it are forgotten, and what they
   * held is counted (`lostBytes`, `lostRows` where known) and logged by the caller's stats.
   */
  private async recreate(): Promise<void> {
    await this.sealActive().catch(() => {});
    releaseLock(this.dir);
    await mkdir(this.dir, { recursive: true });
    takeLock(this.dir);
    writeSpoolId(this.dir, this.id, this.sync);
    if (this.label !== undefined) await writeFile(join(this.dir, LABEL_FILE), `${this.label}\n`).catch(() => {});
    const kept: Segment[] = [];
    const lostBefore = { bytes: this.counters.lostBytes, rows: this.counters.lostRows };
    for (const seg of this.segments) {
      const there = await stat(join(this.dir, segmentName(seg.seq))).then(
        () => true,
        () => false,
      );
      if (there) {
        kept.push(seg);
        continue;
      }
      if (seg.seq < this.readPos.seq) continue;
      const start = seg.seq === this.readPos.seq ? Math.max(this.readPos.off, HEADER_BYTES) : HEADER_BYTES;
      this.counters.lostBytes += Math.max(0, seg.size - start);
      // Rows of a segment found at start are not known; of a partly replayed one, an upper bound.
      this.counters.lostRows += seg.rows ?? 0;
    }
    this.segments.splice(0, this.segments.length, ...kept);
    this.totalBytes = kept.reduce((n, x) => n + x.size, 0);
    if (!kept.some((x) => x.seq === this.readPos.seq)) {
      this.readPos = { seq: kept.find((x) => x.seq > this.readPos.seq)?.seq ?? this.nextSeq, off: HEADER_BYTES };
    }
    for (let i = 0; i < 2; i++) await this.persistOffset();
    if (this.sync) await fsyncDir(this.dir);
    this.onRecreated?.({ bytes: this.counters.lostBytes - lostBefore.bytes, rows: this.counters.lostRows - lostBefore.rows });
  }

  private async startSegment(): Promise<void> {
    await this.sealActive();
    const seq = this.nextSeq++;
    const fh = await open(join(this.dir, segmentName(seq)), 'wx');
    try {
      const { bytesWritten } = await fh.write(SEGMENT_MAGIC, 0, HEADER_BYTES, 0);
      if (bytesWritten !== HEADER_BYTES) throw Object.assign(new Error('short write of a spool segment header: no space left on device'), { code: 'ENOSPC' });
      if (this.sync) {
        await fh.datasync();
        await fsyncDir(this.dir);
      }
    } catch (err) {
      await fh.close().catch(() => {});
      // No segment half-born: the next append starts a new one (a new number, never this file).
      await unlink(join(this.dir, segmentName(seq))).catch(() => {});
      throw err;
    }
    this.active = { seq, fh, size: HEADER_BYTES };
    this.segments.push({ seq, size: HEADER_BYTES, rows: 0 });
    this.totalBytes += HEADER_BYTES;
  }

  private async sealActive(): Promise<void> {
    const a = this.active;
    if (!a) return;
    this.active = undefined;
    await a.fh.close();
  }

  /**
   * Hands every record appended before this call to `handler`, oldest first, one at a time. The
   * handler must resolve only once the batch is committed. If it rejects, replay stops and
   * rejects with that error; the record stays first in line for the next replay().
   */
  async replay(handler: (batch: B) => Promise<void>): Promise<ReplayResult> {
    if (this.closed) throw new Error('spool is closed');
    if (this.replaying) throw new Error('spool replay already running');
    this.replaying = true;
    const result: ReplayResult = { batches: 0, rows: 0, corruptRecords: 0, corruptBytes: 0 };
    try {
      const lastSeq = this.segments.at(-1)?.seq ?? -1;
      while (this.segments.length > 0 && this.segments[0]!.seq <= lastSeq) {
        const seg = this.segments[0]!;
        // Seal the active segment only now: appends from here on go to a new one, read by the
        // next replay, and a replay that fails early leaves the files alone.
        if (this.active?.seq === seg.seq) await this.serial(() => this.sealActive());
        await this.replaySegment(seg, handler, result);
        await this.dropSegment(seg);
      }
      return result;
    } finally {
      this.replaying = false;
    }
  }

  private async replaySegment(seg: Segment, handler: (batch: B) => Promise<void>, result: ReplayResult): Promise<void> {
    if (seg.seq < this.readPos.seq) return; // fully consumed before a crash; only the delete was missing
    const fh = await open(join(this.dir, segmentName(seg.seq)), 'r');
    try {
      const size = (await fh.stat()).size;
      let pos = seg.seq === this.readPos.seq ? Math.max(this.readPos.off, HEADER_BYTES) : HEADER_BYTES;
      const corrupt = (at: number): void => {
        result.corruptRecords++;
        result.corruptBytes += size - at;
        this.counters.corruptRecords++;
        this.counters.corruptBytes += size - at;
      };
      const magic = Buffer.alloc(HEADER_BYTES);
      const { bytesRead: mr } = await fh.read(magic, 0, HEADER_BYTES, 0);
      if (mr < HEADER_BYTES || !magic.equals(SEGMENT_MAGIC)) {
        if (size > 0) corrupt(0);
        return;
      }
      const head = Buffer.alloc(RECORD_HEADER);
      while (pos < size) {
        const { bytesRead } = await fh.read(head, 0, RECORD_HEADER, pos);
        const len = head.readUInt32BE(4);
        if (bytesRead < RECORD_HEADER || head.readUInt32BE(0) !== RECORD_MAGIC || len > size - pos - RECORD_HEADER) {
          corrupt(pos);
          return;
        }
        const payload = Buffer.allocUnsafe(len);
        const { bytesRead: pr } = await fh.read(payload, 0, len, pos + RECORD_HEADER);
        if (pr < len || crc32(payload) !== head.readUInt32BE(8)) {
          corrupt(pos);
          return;
        }
        let batch: B;
        try {
          batch = this.codec.decode(payload);
        } catch {
          corrupt(pos);
          return;
        }
        batch.replayMark = { spool: this.id, record: `${seg.seq}:${pos}`, piece: '' };
        await handler(batch);
        pos += RECORD_HEADER + len;
        this.readPos = { seq: seg.seq, off: pos };
        await this.persistOffset();
        result.batches++;
        result.rows += batch.rows.length;
        this.counters.replayedBatches++;
        this.counters.replayedRows += batch.rows.length;
      }
    } finally {
      await fh.close();
    }
  }

  /** Moves the read position past `seg` (persisted), then deletes the file. */
  private async dropSegment(seg: Segment): Promise<void> {
    this.readPos = { seq: seg.seq + 1, off: HEADER_BYTES };
    await this.persistOffset();
    await unlink(join(this.dir, segmentName(seg.seq))).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    this.segments.shift();
    this.totalBytes -= seg.size;
    if (this.sync) await fsyncDir(this.dir);
  }

  private async persistOffset(): Promise<void> {
    const counter = this.offsetCounter + 1;
    await writePosition(this.dir, this.readPos, counter, this.sync);
    this.offsetCounter = counter;
  }

  /** True when no record waits for replay. */
  get isEmpty(): boolean {
    return this.pendingBytes() === 0;
  }

  private pendingBytes(): number {
    let n = 0;
    for (const s of this.segments) {
      if (s.seq < this.readPos.seq) continue;
      const start = s.seq === this.readPos.seq ? Math.max(this.readPos.off, HEADER_BYTES) : HEADER_BYTES;
      n += Math.max(0, s.size - start);
    }
    return n;
  }

  stats(): SpoolStats {
    return { bytes: this.totalBytes, pendingBytes: this.pendingBytes(), segments: this.segments.length, ...this.counters };
  }

  /** The configured upper bound, bytes. */
  get capacityBytes(): number {
    return this.maxBytes;
  }

  /**
   * Closes the spool. With `removeIfEmpty`, a spool holding nothing to replay leaves no trace:
   * its segment files, offset and directory are removed (a daemon that never spooled leaves no
   * empty directories behind).
   */
  async close(opts: { removeIfEmpty?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.serial(() => this.sealActive());
    const remove = opts.removeIfEmpty === true && this.pendingBytes() === 0;
    if (remove) {
      for (const seg of this.segments) await unlink(join(this.dir, segmentName(seg.seq))).catch(() => {});
      for (const f of [...READ_POSITION_FILES, 'id', LABEL_FILE]) await unlink(join(this.dir, f)).catch(() => {});
    }
    releaseLock(this.dir, remove);
    if (remove) await rmdir(this.dir).catch(() => {});
  }
}
