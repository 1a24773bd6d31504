/**
 * The read position of a spool: {write counter, segment, byte offset} + CRC, written in place
 * into the older of two slots (offset.a, offset.b) after each replayed record; the valid slot
 * with the higher counter wins. In place, so moving the offset needs no free disk space (a full
 * disk must not stop the replay that frees it); two slots, so a write torn by a crash leaves the
 * previous position. `offset`, one 20-byte file, is read when the slots are missing: older spools.
 */
import { readFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export interface ReadPos {
  seq: number;
  off: number;
}

const SLOT_BYTES = 28;
const SLOTS = ['offset.a', 'offset.b'] as const;
/** Every file of the read position, for removing an empty spool. */
export const READ_POSITION_FILES = ['offset', ...SLOTS] as const;

/** The newest valid position in `dir` and its write counter, or undefined (plus how many slots exist). */
export function readPosition(dir: string): { pos: (ReadPos & { counter: number }) | undefined; slots: number } {
  const slots = SLOTS.map((f) => readSlot(join(dir, f)));
  const best = slots[0] !== undefined && (slots[1] === undefined || slots[0].counter >= slots[1].counter) ? slots[0] : slots[1];
  const old = best === undefined ? readOffsetFile(join(dir, 'offset')) : undefined;
  return { pos: best ?? (old === undefined ? undefined : { ...old, counter: 0 }), slots: slots.filter((x) => x !== undefined).length };
}

/** Writes `pos` as write number `counter` into its slot (odd: a, even: b). */
export async function writePosition(dir: string, pos: ReadPos, counter: number, sync: boolean): Promise<void> {
  const buf = Buffer.alloc(SLOT_BYTES);
  buf.writeDoubleBE(counter, 0);
  buf.writeDoubleBE(pos.seq, 8);
  buf.writeDoubleBE(pos.off, 16);
  buf.writeUInt32BE(crc32(buf.subarray(0, 24)), 24);
  // Alternate slots: the one not written last keeps the previous position if this write tears.
  const path = join(dir, counter % 2 === 1 ? SLOTS[0] : SLOTS[1]);
  let fh: FileHandle;
  try {
    fh = await open(path, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    fh = await open(path, 'w');
  }
  try {
    await fh.write(buf, 0, buf.length, 0);
    if (sync) await fh.datasync();
  } finally {
    await fh.close();
  }
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
