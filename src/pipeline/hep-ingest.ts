/**
 * Bytes from a HEP listener → CapturedMessage. Counts what arrives (per listener and HEP
 * version) and what cannot be decoded, so listeners stay dumb socket readers.
 */
import type { MessageSink } from '../capture/message.js';
import type { CaptureState } from './capture-state.js';
import { DropReason } from '../telemetry/drop-reasons.js';
import type { PacketCounts } from '../telemetry/stats.js';
import { decodeHep } from '../hep/decode.js';
import { hepToCapturedMessage } from '../hep/to-captured.js';
import type { HepError, HepPacket } from '../hep/types.js';
import type { AuthKeys } from '../listeners/access.js';
import { nowMicros } from './clock.js';

/** Label for the received counter, from the first byte(s) without decoding. */
export function hepKind(first: number | undefined): string {
  if (first === 1) return 'hep1';
  if (first === 2) return 'hep2';
  if (first === 0x48 || first === 0x45) return 'hep3';
  return 'unknown';
}

/** Where packets go first when nonsip_hook is on (hook/runner.ts). */
export interface HookSink {
  submit(data: Buffer, listener: string, receivedAtUs: number): void;
}

/** Set while packets must be shed at ingress (control/memory-guard.ts). */
export interface ShedSignal {
  readonly shedding: boolean;
}

export class HepIngest {
  /** The nonsip_hook, or null; set by the daemon (and replaced by a reload). */
  hook: HookSink | null = null;
  /** The memory guard, or null without memory_limit_mb. */
  guard: ShedSignal | null = null;

  constructor(
    private readonly sink: MessageSink,
    private readonly stats: PacketCounts,
    private readonly state: CaptureState,
  ) {}

  /**
   * One HEP packet (UDP datagram or TCP frame) from `listener`. With `keys` (the listener's
   * hep_auth_keys), only packets carrying an accepted key go on, to the hook included.
   */
  handle(data: Buffer, listener: string, keys: AuthKeys | null = null, receivedAtUs = nowMicros()): void {
    this.stats.received(listener, hepKind(data[0]));
    if (!this.state.hepCaptureOn) {
      this.stats.drop(DropReason.HEP_CAPTURE_OFF, `${listener}: hep_capture_on is 0`);
      return;
    }
    if (this.guard?.shedding === true) {
      // Before decoding: under memory pressure a shed packet costs as little as possible.
      this.stats.drop(DropReason.MEMORY_LIMIT, `${listener}: daemon memory above memory_limit_mb`);
      return;
    }
    let decoded: HepPacket | null = null;
    if (keys !== null) {
      const result = decodeHep(data);
      if (!result.ok) {
        this.dropUndecodable(result.error, listener);
        return;
      }
      const failure = keys.check(result.packet.authKey);
      if (failure !== null) {
        const what = result.packet.version !== 3 ? `HEP v${result.packet.version} cannot carry an auth key` : failure === 'missing' ? 'no auth key (chunk 0x000e)' : 'auth key not accepted';
        this.stats.drop(DropReason.AUTH_FAILED, `${listener}: ${what}`);
        return;
      }
      decoded = result.packet;
    }
    if (this.hook !== null) {
      this.hook.submit(data, listener, receivedAtUs);
      return;
    }
    if (decoded !== null) {
      this.sink.accept(hepToCapturedMessage(decoded, listener, receivedAtUs, data));
      return;
    }
    this.decodeAndAccept(data, listener, receivedAtUs);
  }

  private dropUndecodable(error: HepError, listener: string): void {
    const reason = error.code === 'payload_too_large' ? DropReason.PAYLOAD_TOO_LARGE : DropReason.HEP_MALFORMED;
    this.stats.drop(reason, `${listener}: ${error.code}: ${error.message}`);
  }

  /** The default path: decode, then the pipeline (directly, or after the hook returned 1). */
  decodeAndAccept(data: Buffer, listener: string, receivedAtUs: number): void {
    const result = decodeHep(data);
    if (!result.ok) {
      this.dropUndecodable(result.error, listener);
      return;
    }
    this.sink.accept(hepToCapturedMessage(result.packet, listener, receivedAtUs, data));
  }
}
