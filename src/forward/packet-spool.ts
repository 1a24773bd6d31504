/**
 * A forward destination's disk spool: the record log of store/spool.ts (fdatasync'd appends,
 * replay in order, read position persisted after each record) holding batches of HEP packets
 * instead of rows. The only file that knows how packets sit in the spool's row records: each
 * packet is the `msg` of one report-shaped row, every other column empty, so the spool's
 * guarantees (docs/storage.md) carry over unchanged.
 */
import type { ReportRow } from '../capture/rows.js';
import { Spool } from '../store/spool.js';

const TABLE = 'forward';

function rowOf(packet: Buffer): ReportRow {
  return {
    date: '',
    micro_ts: 0,
    correlation_id: '',
    source_ip: '',
    source_port: 0,
    destination_ip: '',
    destination_port: 0,
    proto: 0,
    family: 0,
    type: 0,
    node: '',
    msg: packet,
  };
}

export interface PacketSpoolStats {
  /** Bytes of the spool's files (what spool_max_bytes bounds). */
  bytes: number;
  /** Bytes of records not replayed yet. */
  pendingBytes: number;
}

export class PacketSpool {
  private constructor(private readonly spool: Spool) {}

  static async open(dir: string, maxBytes: number, sync = true): Promise<PacketSpool> {
    return new PacketSpool(await Spool.open({ dir, maxBytes, sync }));
  }

  /** Appends packets as one record, on disk once this resolves true; false: the spool is full. */
  append(packets: readonly Buffer[]): Promise<boolean> {
    return this.spool.append({ table: TABLE, kind: 'logs', rows: packets.map(rowOf) });
  }

  /**
   * Hands every record appended before the call to `send`, oldest first; a record leaves the
   * spool once `send` resolved. A rejection stops the replay, the record stays first in line.
   */
  async replay(send: (packets: Buffer[]) => Promise<void>): Promise<void> {
    await this.spool.replay((batch) => send(batch.rows.map((r) => r.msg)));
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
