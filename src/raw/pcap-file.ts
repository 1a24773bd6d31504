/**
 * A small reader for capture files: classic pcap (both byte orders, micro- and nanosecond
 * magic, Kuznetzov's modified format) and pcapng (SHB, IDB with if_tsresol / if_tsoffset,
 * EPB, SPB, the obsolete PB; several sections; per-interface link type). Other blocks are skipped.
 * It streams the file in chunks, so a file of any size reads in constant memory.
 */
import { open, type FileHandle } from 'node:fs/promises';

export interface PcapRecord {
  linkType: number;
  /** Captured bytes: a view valid until the next call to next(). */
  data: Buffer;
  /** Length on the wire (≥ data.length when the capture was truncated by the snap length). */
  originalLength: number;
  sec: number;
  usec: number;
  /** False for pcapng Simple Packet Blocks, which carry no time. */
  hasTimestamp: boolean;
  /** pcapng interface id (0 for classic pcap). */
  interfaceId: number;
}

export class PcapFormatError extends Error {
  constructor(file: string, why: string) {
    super(`${file}: ${why}`);
    this.name = 'PcapFormatError';
  }
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;
const BLOCK_IDB = 1;
const BLOCK_PB = 2;
const BLOCK_SPB = 3;
const BLOCK_EPB = 6;
/** Larger blocks or records are treated as a corrupt file rather than allocated. */
const MAX_BLOCK = 64 * 1024 * 1024;
const CHUNK = 1024 * 1024;

interface Interface {
  linkType: number;
  snapLen: number;
  /** Units per second as 10^n (decimal) or 2^n (binary). */
  decimal: boolean;
  exponent: number;
  /** if_tsoffset, seconds. */
  offsetSec: number;
}

export class PcapReader {
  private buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  private len = 0;
  private eof = false;
  private format: 'pcap' | 'pcapng' = 'pcap';
  private little = true;
  // classic pcap
  private linkType = 0;
  private nanos = false;
  private recordHeader = 16;
  // pcapng
  private interfaces: Interface[] = [];

  private constructor(
    private readonly file: string,
    private readonly fh: FileHandle,
  ) {}

  static async open(file: string): Promise<PcapReader> {
    const fh = await open(file, 'r');
    const reader = new PcapReader(file, fh);
    try {
      await reader.readHeader();
    } catch (err) {
      await fh.close();
      throw err;
    }
    return reader;
  }

  /** 'pcap' or 'pcapng'. */
  get kind(): 'pcap' | 'pcapng' {
    return this.format;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  /** The next packet, or null at the end of the file. */
  async next(): Promise<PcapRecord | null> {
    return this.format === 'pcap' ? this.nextPcap() : this.nextPcapng();
  }

  /** Makes `n` bytes available at `pos`; false at a clean end of file. */
  private async fill(n: number): Promise<boolean> {
    if (this.len - this.pos >= n) return true;
    if (n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
      this.buf.copy(bigger, 0, this.pos, this.len);
      this.buf = bigger;
    } else if (this.pos > 0) {
      this.buf.copy(this.buf, 0, this.pos, this.len);
    }
    this.len -= this.pos;
    this.pos = 0;
    while (this.len < n && !this.eof) {
      const { bytesRead } = await this.fh.read(this.buf, this.len, this.buf.length - this.len, null);
      if (bytesRead === 0) this.eof = true;
      this.len += bytesRead;
    }
    return this.len >= n;
  }

  private u32(at: number): number {
    return this.little ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }

  private u16(at: number): number {
    return this.little ? this.buf.readUInt16LE(at) : this.buf.readUInt16BE(at);
  }

  private async readHeader(): Promise<void> {
    if (!(await this.fill(24))) throw new PcapFormatError(this.file, 'too short for a capture file');
    const le = this.buf.readUInt32LE(0);
    const be = this.buf.readUInt32BE(0);
    if (be === PCAPNG_SHB) {
      this.format = 'pcapng';
      return; // the SHB is read as the first block
    }
    for (const [magic, little] of [
      [le, true],
      [be, false],
    ] as const) {
      if (magic === PCAP_MAGIC_US || magic === PCAP_MAGIC_NS || magic === PCAP_MAGIC_MODIFIED) {
        this.little = little;
        this.nanos = magic === PCAP_MAGIC_NS;
        this.recordHeader = magic === PCAP_MAGIC_MODIFIED ? 24 : 16;
        // The upper bits of the link type field may carry FCS information.
        this.linkType = this.u32(20) & 0x0fffffff & 0xffff;
        this.pos = 24;
        return;
      }
    }
    throw new PcapFormatError(this.file, `not a pcap or pcapng file (magic 0x${be.toString(16)})`);
  }

  private async nextPcap(): Promise<PcapRecord | null> {
    const hdr = this.recordHeader;
    if (!(await this.fill(hdr))) {
      if (this.len > this.pos) throw new PcapFormatError(this.file, 'truncated record header at end of file');
      return null;
    }
    const sec = this.u32(this.pos);
    const frac = this.u32(this.pos + 4);
    const incl = this.u32(this.pos + 8);
    const orig = this.u32(this.pos + 12);
    if (incl > MAX_BLOCK) throw new PcapFormatError(this.file, `record of ${incl} bytes (corrupt file?)`);
    if (!(await this.fill(hdr + incl))) throw new PcapFormatError(this.file, 'truncated record at end of file');
    const start = this.pos + hdr;
    this.pos = start + incl;
    return {
      linkType: this.linkType,
      data: this.buf.subarray(start, start + incl),
      originalLength: orig,
      sec,
      usec: this.nanos ? Math.floor(frac / 1000) : frac,
      hasTimestamp: true,
      interfaceId: 0,
    };
  }

  private async nextPcapng(): Promise<PcapRecord | null> {
    for (;;) {
      if (!(await this.fill(12))) {
        if (this.len > this.pos) throw new PcapFormatError(this.file, 'truncated block header at end of file');
        return null;
      }
      const type = this.buf.readUInt32BE(this.pos) === PCAPNG_SHB ? PCAPNG_SHB : this.u32(this.pos);
      if (type === PCAPNG_SHB) {
        // A new section: byte order from the byte-order magic, interfaces start again.
        const bom = this.buf.readUInt32LE(this.pos + 8);
        if (bom === PCAPNG_BOM) this.little = true;
        else if (this.buf.readUInt32BE(this.pos + 8) === PCAPNG_BOM) this.little = false;
        else throw new PcapFormatError(this.file, 'bad pcapng byte-order magic');
        this.interfaces = [];
      }
      const total = this.u32(this.pos + 4);
      if (total < 12 || total % 4 !== 0 || total > MAX_BLOCK) throw new PcapFormatError(this.file, `bad pcapng block length ${total}`);
      if (!(await this.fill(total))) throw new PcapFormatError(this.file, 'truncated block at end of file');
      const block = this.pos;
      this.pos += total;
      const body = block + 8;
      const bodyEnd = block + total - 4;
      switch (type) {
        case BLOCK_IDB:
          this.interfaces.push(this.parseIdb(body, bodyEnd));
          break;
        case BLOCK_EPB: {
          const ifId = this.u32(body);
          const caplen = this.u32(body + 12);
          const orig = this.u32(body + 16);
          const data = body + 20;
          if (data + caplen > bodyEnd) throw new PcapFormatError(this.file, 'EPB longer than its block');
          return this.packet(ifId, this.u32(body + 4), this.u32(body + 8), data, caplen, orig, true);
        }
        case BLOCK_PB: {
          const ifId = this.u16(body);
          const caplen = this.u32(body + 12);
          const orig = this.u32(body + 16);
          const data = body + 20;
          if (data + caplen > bodyEnd) throw new PcapFormatError(this.file, 'PB longer than its block');
          return this.packet(ifId, this.u32(body + 4), this.u32(body + 8), data, caplen, orig, true);
        }
        case BLOCK_SPB: {
          const orig = this.u32(body);
          const iface = this.interfaces[0];
          let caplen = Math.min(orig, bodyEnd - (body + 4));
          if (iface !== undefined && iface.snapLen > 0) caplen = Math.min(caplen, iface.snapLen);
          return this.packet(0, 0, 0, body + 4, caplen, orig, false);
        }
        default:
          break; // SHB handled above; NRB, ISB, DSB, custom blocks are not needed
      }
    }
  }

  private parseIdb(body: number, bodyEnd: number): Interface {
    const iface: Interface = {
      linkType: this.u16(body),
      snapLen: this.u32(body + 4),
      decimal: true,
      exponent: 6,
      offsetSec: 0,
    };
    let p = body + 8;
    while (p + 4 <= bodyEnd) {
      const code = this.u16(p);
      const len = this.u16(p + 2);
      const value = p + 4;
      if (code === 0) break; // opt_endofopt
      if (code === 9 && len >= 1) {
        const r = this.buf[value] ?? 6;
        iface.decimal = (r & 0x80) === 0;
        iface.exponent = r & 0x7f;
      } else if (code === 14 && len >= 8) {
        const hi = this.u32(this.little ? value + 4 : value);
        const lo = this.u32(this.little ? value : value + 4);
        iface.offsetSec = (hi | 0) * 0x100000000 + lo;
      }
      p = value + ((len + 3) & ~3);
    }
    return iface;
  }

  private packet(ifId: number, tsHigh: number, tsLow: number, data: number, caplen: number, orig: number, hasTs: boolean): PcapRecord {
    const iface = this.interfaces[ifId];
    if (iface === undefined) throw new PcapFormatError(this.file, `packet for undeclared interface ${ifId}`);
    let sec = 0;
    let usec = 0;
    if (hasTs) [sec, usec] = toSecUsec(tsHigh, tsLow, iface);
    return {
      linkType: iface.linkType,
      data: this.buf.subarray(data, data + caplen),
      originalLength: orig,
      sec,
      usec,
      hasTimestamp: hasTs,
      interfaceId: ifId,
    };
  }
}

/** pcapng 64-bit timestamp in the interface's units → seconds and microseconds. */
function toSecUsec(high: number, low: number, iface: Interface): [number, number] {
  const ticks = (BigInt(high) << 32n) | BigInt(low);
  const perSec = iface.decimal ? 10n ** BigInt(iface.exponent) : 1n << BigInt(iface.exponent);
  const sec = ticks / perSec;
  const usec = ((ticks % perSec) * 1_000_000n) / perSec;
  return [Number(sec) + iface.offsetSec, Number(usec)];
}

/** Reads every packet of `file`, calling `onPacket` for each (awaiting between chunks only). */
export async function forEachPacket(file: string, onPacket: (rec: PcapRecord) => void): Promise<number> {
  const reader = await PcapReader.open(file);
  let n = 0;
  try {
    for (let rec = await reader.next(); rec !== null; rec = await reader.next()) {
      onPacket(rec);
      n++;
    }
  } finally {
    await reader.close();
  }
  return n;
}
