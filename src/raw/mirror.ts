/**
 * Port-mirroring capture with libpcap through `cap` (runs only inside the capture child: cap is
 * not usable in worker threads and aborts the process when the interface disappears).
 *
 * cap facts that shape this file (measured with cap 0.2.1): it always opens the device
 * promiscuous with a 65535-byte snap length, reports no timestamps and no drop counters, and has
 * no Linux cooked (SLL) decoder — the RawDecoder does the link layers itself. A missing
 * `libpcap.so` (libpcap-dev) silently costs immediate mode.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { linkTypeFromCapName } from './link.js';

/** The part of cap 0.2.1's API we use. */
interface CapHandle {
  /** Returns the link type name (`ETHERNET`, `LINKTYPE_LINUX_SLL`, `RAW`, `NULL`, `Unknown linktype N`). */
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): boolean;
  on(event: 'packet', listener: (nbytes: number, truncated: boolean) => void): this;
  removeAllListeners(event?: string): this;
}

interface CapModule {
  Cap: new () => CapHandle;
}

const require = createRequire(import.meta.url);

function loadCap(): CapModule {
  return require('cap') as CapModule;
}

export type CaptureErrorCode = 'ENODEV' | 'EPERM' | 'EFILTER' | 'ELINKTYPE' | 'EOTHER';

/** A start-up failure with a code the supervisor uses to decide on retries and messages. */
export class CaptureStartError extends Error {
  constructor(
    readonly code: CaptureErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CaptureStartError';
  }
}

export function classifyCaptureError(err: unknown, what: string): CaptureStartError {
  if (err instanceof CaptureStartError) return err;
  const text = err instanceof Error ? err.message : String(err);
  if (/no such device/i.test(text)) return new CaptureStartError('ENODEV', `${what}: no such network interface (${text})`);
  if (/not permitted|permission|EPERM|EACCES/i.test(text)) {
    return new CaptureStartError('EPERM', `${what}: raw capture needs root or CAP_NET_RAW (${text})`);
  }
  if (/filter|syntax/i.test(text)) return new CaptureStartError('EFILTER', `${what}: bad capture filter (${text})`);
  return new CaptureStartError('EOTHER', `${what}: ${text}`);
}

export interface MirrorCaptureOptions {
  /** raw_interface; '' captures on all interfaces (`any`, Linux cooked link type). */
  device: string;
  /** libpcap filter expression ('' = everything). */
  filter: string;
  /** libpcap ring size in bytes (≥ 256 MiB with GSO/TSO offloads on, which hand libpcap 64 KiB super-frames; or turn them off). */
  bufferBytes: number;
  /** One frame: `buf[0, length)`, valid only during the call. */
  onFrame: (linkType: number, buf: Buffer, length: number, truncated: boolean) => void;
}

export class MirrorCapture {
  private cap: CapHandle | null = null;
  private linkTypeValue = -1;
  private readonly buffer = Buffer.alloc(65535);

  constructor(private readonly opts: MirrorCaptureOptions) {}

  get device(): string {
    return this.opts.device === '' ? 'any' : this.opts.device;
  }

  get linkType(): number {
    return this.linkTypeValue;
  }

  /** Opens the device; throws CaptureStartError. */
  open(): void {
    const what = `mirror capture on "${this.device}"`;
    let cap: CapHandle;
    let name: string;
    try {
      cap = new (loadCap().Cap)();
      name = cap.open(this.device, this.opts.filter, this.opts.bufferBytes, this.buffer);
    } catch (err) {
      throw classifyCaptureError(err, what);
    }
    const linkType = linkTypeFromCapName(name);
    if (linkType === null) {
      cap.close();
      throw new CaptureStartError('ELINKTYPE', `${what}: unsupported link type ${name}`);
    }
    this.cap = cap;
    this.linkTypeValue = linkType;
    const buffer = this.buffer;
    const onFrame = this.opts.onFrame;
    cap.on('packet', (nbytes, truncated) => onFrame(linkType, buffer, nbytes, truncated));
  }

  close(): void {
    const cap = this.cap;
    this.cap = null;
    if (cap === null) return;
    cap.removeAllListeners('packet');
    cap.close();
  }
}

/** The interface's MAC address (for the promiscuous_on = 0 emulation), or null. */
export function interfaceMac(device: string): Uint8Array | null {
  if (device === '' || device === 'any' || !/^[\w.:@-]+$/.test(device)) return null;
  try {
    const text = readFileSync(`/sys/class/net/${device}/address`, 'utf8').trim();
    const bytes = text.split(':').map((h) => parseInt(h, 16));
    if (bytes.length !== 6 || bytes.some((b) => Number.isNaN(b))) return null;
    return Uint8Array.from(bytes);
  } catch {
    return null;
  }
}
