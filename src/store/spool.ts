/**
 * On-disk spool for batches the database could not take (outage, retries exhausted).
 *
 * Layout of the spool directory:
 *   seg-<16-digit sequence>.spool  append-only segments: an 8-byte header ("SCSPOOL" + version)
 *                                  then records [magic u32][payload length u32][CRC-32 u32][payload]
 *   offset.a, offset.b             the read position {write counter, segment, byte offset} + CRC,
 *                                  written in place into the older of the two slots (fdatasync) after
 *                                  each replayed record; the valid slot with the higher counter wins.
 *                                  In place, so moving the offset needs no free disk space (a full
 *                                  disk must not stop the replay that frees it); two slots, so a write
 *                                  torn by a crash leaves the previous position. (`offset`, one
 *                                  20-byte file, is read when the slots are missing: older spools.)
 *   id                             32 random hex digits, written once when the directory is created:
 *                                  with segment and byte offset it names a record for good (the
 *                                  stores' marker rows of replayed records, store.ts ReplayMark)
 *   lock                           the pid of the process using the directory
 *
 * A record is one batch: table, kind, its commit token if it has one (store.ts), and its rows,
 * every column in layout order, `msg` as raw bytes. Appends go to the newest segment only, and a segment found at start-up is never
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
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { ReportRow, SipCaptureRow, TableKind } from '../capture/rows.js';
import type { RowBatch } from './store.js';
import { layoutOf } from './columns.js';

export interface SpoolOptions {
  /** Directory for the segment files (created if missing). One process per directory. */
  dir: string;
  /** Upper bound on the total size of all segment files, bytes (default 1 GiB). */
  maxBytes?: number;
  /** A new segment is started when the current one would grow past this, bytes (default 16 MiB). */
  segmentBytes?: number;
  /** fdatasync every append (default true). false is for tests and benchmarks only. */
  sync?: boolean;
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
/** 1: no commit token; 2: a commit token (u16 length + utf8) after the table name. */
const PAYLOAD_VERSION = 1;
const PAYLOAD_VERSION_TOKEN = 2;
const KINDS: readonly TableKind[] = ['sip', 'rtcp', 'report', 'logs'];
const SEGMENT_RE = /^seg-(\d{16})\.spool$/;

const segmentName = (seq: number): string => `seg-${String(seq).padStart(16, '0')}.spool`;

/** append() found the spool full (spool_max_bytes): the caller counts the rows `spool_full`. */
export class SpoolFullError extends Error {
  constructor(dir: string, maxBytes: number, why?: string) {
    super(why === undefined ? `spool ${dir} is full (${maxBytes} bytes)` : `spool ${dir}: ${why}`);
    this.name = 'SpoolFullError';
  }
}

/** The file system holding the spool is out of space or quota: as good as a full spool. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

// ---- batch codec ----

/** Column plan of a layout: which positions are ints, text, and where msg is. */
interface Plan {
  ints: string[];
  texts: string[];
}
const plans = new Map<TableKind, Plan>();
function planOf(kind: TableKind): Plan {
  let p = plans.get(kind);
  if (!p) {
    const layout = layoutOf(kind);
    p = {
      ints: layout.columns.filter((c) => layout.ints.has(c)),
      texts: layout.columns.filter((c) => !layout.ints.has(c) && c !== 'msg'),
    };
    plans.set(kind, p);
  }
  return p;
}

const textOf = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * Serialises a batch. Payload: version u8, kind u8, table (u16 length + utf8), in version 2 the
 * commit token (u16 length + utf8), row count u32,
 * then per row: the int columns as f64; the UTF-16 length of each text column (u32); the byte
 * length (u32) and UTF-8 of all text columns concatenated; msg (u32 length + bytes). One
 * string encode per row keeps this cheap (~5 µs/row). A lone surrogate becomes U+FFFD, which
 * has the same UTF-16 length, so the field boundaries still hold.
 */
export function encodeBatch(batch: RowBatch): Buffer {
  const kind = KINDS.indexOf(batch.kind);
  if (kind < 0) throw new TypeError(`unknown table kind ${String(batch.kind)}`);
  const { ints, texts } = planOf(batch.kind);
  const table = Buffer.from(batch.table, 'utf8');
  const token = batch.commitToken === undefined ? null : Buffer.from(batch.commitToken, 'utf8');
  const joined: string[] = new Array<string>(batch.rows.length);
  const joinedBytes = new Float64Array(batch.rows.length);
  let size = 1 + 1 + 2 + table.length + (token === null ? 0 : 2 + token.length) + 4;
  const perRowFixed = ints.length * 8 + texts.length * 4 + 4 + 4;
  for (let r = 0; r < batch.rows.length; r++) {
    const rec = batch.rows[r] as unknown as Record<string, unknown>;
    let j = '';
    for (const c of texts) j += textOf(rec[c]);
    joined[r] = j;
    const n = Buffer.byteLength(j);
    joinedBytes[r] = n;
    const msg = rec['msg'];
    size += perRowFixed + n + (Buffer.isBuffer(msg) ? msg.length : 0);
  }
  const buf = Buffer.allocUnsafe(size);
  let off = buf.writeUInt8(token === null ? PAYLOAD_VERSION : PAYLOAD_VERSION_TOKEN, 0);
  off = buf.writeUInt8(kind, off);
  off = buf.writeUInt16BE(table.length, off);
  off += table.copy(buf, off);
  if (token !== null) {
    off = buf.writeUInt16BE(token.length, off);
    off += token.copy(buf, off);
  }
  off = buf.writeUInt32BE(batch.rows.length, off);
  for (let r = 0; r < batch.rows.length; r++) {
    const rec = batch.rows[r] as unknown as Record<string, unknown>;
    for (const c of ints) {
      const v = rec[c];
      off = buf.writeDoubleBE(typeof v === 'number' ? v : 0, off);
    }
    for (const c of texts) off = buf.writeUInt32BE(textOf(rec[c]).length, off);
    const n = joinedBytes[r]!;
    off = buf.writeUInt32BE(n, off);
    off += buf.write(joined[r]!, off, n, 'utf8');
    const msg = rec['msg'];
    const b = Buffer.isBuffer(msg) ? msg : EMPTY;
    off = buf.writeUInt32BE(b.length, off);
    off += b.copy(buf, off);
  }
  if (off !== size) throw new Error('spool: encoded size mismatch');
  return buf;
}

const EMPTY = Buffer.alloc(0);

export function decodeBatch(buf: Buffer): RowBatch {
  let off = 0;
  const need = (n: number): void => {
    if (off + n > buf.length) throw new RangeError('spool record: truncated payload');
  };
  need(4);
  const version = buf.readUInt8(off++);
  if (version !== PAYLOAD_VERSION && version !== PAYLOAD_VERSION_TOKEN) throw new RangeError(`spool record: unknown payload version ${version}`);
  const kind = KINDS[buf.readUInt8(off++)];
  if (!kind) throw new RangeError('spool record: unknown table kind');
  const tlen = buf.readUInt16BE(off);
  off += 2;
  need(tlen + 4);
  const table = buf.toString('utf8', off, off + tlen);
  off += tlen;
  let commitToken: string | undefined;
  if (version === PAYLOAD_VERSION_TOKEN) {
    const klen = buf.readUInt16BE(off);
    off += 2;
    need(klen + 4);
    commitToken = buf.toString('utf8', off, off + klen);
    off += klen;
  }
  const count = buf.readUInt32BE(off);
  off += 4;
  const { ints, texts } = planOf(kind);
  const lens = new Array<number>(texts.length);
  const rows: (SipCaptureRow | ReportRow)[] = [];
  for (let r = 0; r < count; r++) {
    const rec: Record<string, unknown> = {};
    need(ints.length * 8 + texts.length * 4 + 4);
    for (const c of ints) {
      rec[c] = buf.readDoubleBE(off);
      off += 8;
    }
    let total = 0;
    for (let k = 0; k < texts.length; k++) {
      lens[k] = buf.readUInt32BE(off);
      total += lens[k]!;
      off += 4;
    }
    const n = buf.readUInt32BE(off);
    off += 4;
    need(n + 4);
    const joined = buf.toString('utf8', off, off + n);
    off += n;
    if (joined.length !== total) throw new RangeError('spool record: text lengths do not add up');
    let p = 0;
    for (let k = 0; k < texts.length; k++) {
      rec[texts[k]!] = joined.slice(p, p + lens[k]!);
      p += lens[k]!;
    }
    const m = buf.readUInt32BE(off);
    off += 4;
    need(m);
    // Copied out so rows never pin the whole record buffer.
    rec['msg'] = Buffer.from(buf.subarray(off, off + m));
    off += m;
    rows.push(rec as unknown as SipCaptureRow | ReportRow);
  }
  if (off !== buf.length) throw new RangeError('spool record: trailing bytes');
  return commitToken === undefined ? { table, kind, rows } : { table, kind, rows, commitToken };
}

// ---- directory lock ----

/** Directories opened by this process: a second open in-process is refused like another pid's. */
const openDirs = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function takeLock(dir: string): void {
  if (openDirs.has(dir)) throw new Error(`spool ${dir} is already open in this process`);
  const path = join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let pid = NaN;
      try {
        pid = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // unreadable lock: treat as stale
      }
      // Our own pid here means a previous instance of this process that never closed (crash
      // simulation in tests); any other live pid owns the directory.
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
        throw new Error(`spool ${dir} is locked by running process ${pid}`, { cause: err });
      }
      unlinkSync(path);
      continue;
    }
    writeSync(fd, String(process.pid));
    closeSync(fd);
    openDirs.add(dir);
    return;
  }
  throw new Error(`spool ${dir}: could not take the lock`);
}

// ---- the spool ----

interface ReadPos {
  seq: number;
  off: number;
}

interface Segment {
  seq: number;
  size: number;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class Spool {
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
  };

  private constructor(opts: SpoolOptions, segments: Segment[], readPos: ReadPos, id: string) {
    this.dir = opts.dir;
    this.id = id;
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

  static async open(options: SpoolOptions): Promise<Spool> {
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
      const slots = [readSlot(join(opts.dir, 'offset.a')), readSlot(join(opts.dir, 'offset.b'))];
      const best = slots[0] !== undefined && (slots[1] === undefined || slots[0].counter >= slots[1].counter) ? slots[0] : slots[1];
      const pos = best ?? readOffsetFile(join(opts.dir, 'offset')) ?? { seq: segments[0]?.seq ?? 0, off: HEADER_BYTES };
      const spool = new Spool(opts, segments, pos, spoolId(opts.dir, opts.sync ?? true));
      spool.offsetCounter = best?.counter ?? 0;
      // Both slots exist from the start, so later offset writes only overwrite: they work on a
      // full disk. Best effort: a disk already full now only delays this to the first replay.
      for (let i = slots.filter((x) => x !== undefined).length; i < 2; i++) await spool.persistOffset().catch(() => {});
      return spool;
    } catch (err) {
      openDirs.delete(opts.dir);
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
  append(batch: RowBatch): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error('spool is closed'));
    let payload: Buffer;
    try {
      payload = encodeBatch(batch);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const header = Buffer.allocUnsafe(RECORD_HEADER);
    header.writeUInt32BE(RECORD_MAGIC, 0);
    header.writeUInt32BE(payload.length, 4);
    header.writeUInt32BE(crc32(payload), 8);
    const len = RECORD_HEADER + payload.length;
    return this.serial(async () => {
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
      this.segments.at(-1)!.size = a.size;
      this.totalBytes += len;
      this.counters.appendedBatches++;
      this.counters.appendedRows += batch.rows.length;
      return true;
    });
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
    this.segments.push({ seq, size: HEADER_BYTES });
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
  async replay(handler: (batch: RowBatch) => Promise<void>): Promise<ReplayResult> {
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

  private async replaySegment(seg: Segment, handler: (batch: RowBatch) => Promise<void>, result: ReplayResult): Promise<void> {
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
        let batch: RowBatch;
        try {
          batch = decodeBatch(payload);
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
    const buf = Buffer.alloc(SLOT_BYTES);
    buf.writeDoubleBE(counter, 0);
    buf.writeDoubleBE(this.readPos.seq, 8);
    buf.writeDoubleBE(this.readPos.off, 16);
    buf.writeUInt32BE(crc32(buf.subarray(0, 24)), 24);
    // Alternate slots: the one not written last keeps the previous position if this write tears.
    const path = join(this.dir, counter % 2 === 1 ? 'offset.a' : 'offset.b');
    let fh: FileHandle;
    try {
      fh = await open(path, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fh = await open(path, 'w');
    }
    try {
      await fh.write(buf, 0, buf.length, 0);
      if (this.sync) await fh.datasync();
    } finally {
      await fh.close();
    }
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
      for (const f of ['offset', 'offset.a', 'offset.b', 'id']) await unlink(join(this.dir, f)).catch(() => {});
    }
    await unlink(join(this.dir, 'lock')).catch(() => {});
    openDirs.delete(this.dir);
    if (remove) await rmdir(this.dir).catch(() => {});
  }
}

const SLOT_BYTES = 28;
const ID_RE = /^[0-9a-f]{32}$/;

/**
 * The directory's id, created on first open (before any record can be appended, so every record
 * is named under the id it keeps). Written to a temporary file and renamed: never half there.
 * If it cannot be written (disk full) the id lives in memory only; a crash before it is written
 * then loses the duplicate protection of that run's records, nothing else.
 */
function spoolId(dir: string, sync: boolean): string {
  const path = join(dir, 'id');
  try {
    const old = readFileSync(path, 'utf8').trim();
    if (ID_RE.test(old)) return old;
  } catch {
    // missing: a new spool directory (or one written before ids)
  }
  const id = randomBytes(16).toString('hex');
  const tmp = `${path}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, id);
      if (sync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    if (sync) {
      const d = openSync(dir, 'r');
      try {
        fsyncSync(d);
      } finally {
        closeSync(d);
      }
    }
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean up
    }
  }
  return id;
}

function readSlot(path: string): (ReadPos & { counter: number }) | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    return undefined;
  }
  if (buf.length !== SLOT_BYTES || crc32(buf.subarray(0, 24)) !== buf.readUInt32BE(24)) return undefined;
  return { counter: buf.readDoubleBE(0), seq: buf.readDoubleBE(8), off: buf.readDoubleBE(16) };
}

/** The single offset file of spools written before the two slots. */
function readOffsetFile(path: string): ReadPos | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    return undefined;
  }
  if (buf.length !== 20 || crc32(buf.subarray(0, 16)) !== buf.readUInt32BE(16)) return undefined;
  return { seq: buf.readDoubleBE(0), off: buf.readDoubleBE(8) };
}
