/**
 * A forward destination's disk spool: the segment log of store/spool/ (fdatasync'd appends,
 * replay in order, read position persisted after each record) holding batches of HEP packets,
 * so a destination's spool has the same guarantees as a database's (docs/storage.md).
 */
import { Spool, type RecordCodec, type Spoolable } from '../store/spool/segment-log.js';

/** One record: the packets handed to the destination together. */
interface PacketBatch extends Spoolable {
  rows: Buffer[];
}

/** Payload: packet count u32, then per packet its length u32 and bytes. */
const packetBatchCodec: RecordCodec<PacketBatch> = {
  encode(batch) {
    let size = 4;
    for (const p of batch.rows) size += 4 + p.length;
    const out = Buffer.allocUnsafe(size);
    out.writeUInt32BE(batch.rows.length, 0);
    let at = 4;
    for (const p of batch.rows) {
      out.writeUInt32BE(p.length, at);
      p.copy(out, at + 4);
      at += 4 + p.length;
    }
    return out;
  },
  decode(payload) {
    if (payload.length < 4) throw new RangeError('packet record shorter than its count');
    const n = payload.readUInt32BE(0);
    const rows: Buffer[] = [];
    let at = 4;
    for (let i = 0; i < n; i++) {
      if (at + 4 > payload.length) throw new RangeError('packet record cut inside a length');
      const len = payload.readUInt32BE(at);
      if (at + 4 + len > payload.length) throw new RangeError('packet record cut inside a packet');
      rows.push(Buffer.from(payload.subarray(at + 4, at + 4 + len)));
      at += 4 + len;
    }
    return { rows };
  },
};

export interface PacketSpoolStats {
  /** Bytes of the spool's files (what spool_max_bytes bounds). */
  bytes: number;
  /** Bytes of records not replayed yet. */
  pendingBytes: number;
}

export class PacketSpool {
  private constructor(private readonly spool: Spool<PacketBatch>) {}

  static async open(dir: string, maxBytes: number, sync = true, label?: string): Promise<PacketSpool> {
    return new PacketSpool(await Spool.open({ dir, codec: packetBatchCodec, maxBytes, sync, ...(label === undefined ? {} : { label }) }));
  }

  /** Appends packets as one record, on disk once this resolves true; false: the spool is full. */
  append(packets: readonly Buffer[]): Promise<boolean> {
    return this.spool.append({ rows: [...packets] });
  }

  /**
   * Hands every record appended before the call to `send`, oldest first; a record leaves the
   * spool once `send` resolved. A rejection stops the replay, the record stays first in line.
   */
  async replay(send: (packets: Buffer[]) => Promise<void>): Promise<void> {
    await this.spool.replay((batch) => send(batch.rows));
  }

  get isEmpty(): boolean {
    return this.spool.isEmpty;
  }

  stats(): PacketSpoolStats {
    const s = this.spool.stats();
    return { bytes: s.bytes, pendingBytes: s.pendingBytes };
  }

  close(): Promise<void> {
    return this.spool.close({ removeIfEmpty: true });
  }
}
