/**
 * The switches an operator flips at run time (sipcapture.status, SIGHUP): shared by every
 * listener and the pipeline in this process, read per packet. They live in shared memory so
 * that pipeline threads (pipeline_threads) see a switch at once, without a message.
 */
import type { SipcaptureConfig } from '../config/types.js';
import type { Logger } from '../telemetry/logger.js';

export type CaptureSwitchKey = 'capture_on' | 'hep_capture_on';

const CAPTURE_ON = 0;
const HEP_CAPTURE_ON = 1;
/** Set while the memory guard sheds packets at ingress (control/memory-guard.ts). */
const SHEDDING = 2;
const WORDS = 3;

export class CaptureState {
  /** The words behind the switches; hand it to a thread and build a CaptureState over it there. */
  readonly shared: SharedArrayBuffer;
  private readonly words: Int32Array;

  /** From the config, or over the `shared` memory of another thread's CaptureState. */
  constructor(from: Pick<SipcaptureConfig, 'capture_on' | 'hep_capture_on'> | SharedArrayBuffer) {
    if (from instanceof SharedArrayBuffer) {
      this.shared = from;
      this.words = new Int32Array(from);
      return;
    }
    this.shared = new SharedArrayBuffer(WORDS * 4);
    this.words = new Int32Array(this.shared);
    this.captureOn = from.capture_on !== 0;
    this.hepCaptureOn = from.hep_capture_on !== 0;
  }

  /** capture_on: store SIP (and non-SIP) rows. */
  get captureOn(): boolean {
    return Atomics.load(this.words, CAPTURE_ON) !== 0;
  }
  set captureOn(on: boolean) {
    Atomics.store(this.words, CAPTURE_ON, on ? 1 : 0);
  }

  /** hep_capture_on: accept HEP on the HEP listeners. */
  get hepCaptureOn(): boolean {
    return Atomics.load(this.words, HEP_CAPTURE_ON) !== 0;
  }
  set hepCaptureOn(on: boolean) {
    Atomics.store(this.words, HEP_CAPTURE_ON, on ? 1 : 0);
  }

  /** The memory guard's verdict, mirrored here for pipeline threads (they cannot ask the guard). */
  get shedding(): boolean {
    return Atomics.load(this.words, SHEDDING) !== 0;
  }
  set shedding(on: boolean) {
    Atomics.store(this.words, SHEDDING, on ? 1 : 0);
  }

  get(key: CaptureSwitchKey): boolean {
    return key === 'capture_on' ? this.captureOn : this.hepCaptureOn;
  }

  /**
   * An operator's switch (RPC, MI, reload): applied, and logged with who asked, so a log that
   * goes quiet can be told apart from capture switched off. `by`: e.g. `rpc_socket PATH`,
   * `http ADDRESS:PORT`, `reload (SIGHUP)`.
   */
  switchTo(key: CaptureSwitchKey, on: boolean, by: string, logger: Logger | undefined): void {
    const was = this.get(key);
    if (key === 'capture_on') this.captureOn = on;
    else this.hepCaptureOn = on;
    const what = on ? 'on' : 'off';
    logger?.info({ key, on, was, by }, was === on ? `${key} already ${what} (asked by ${by})` : `${key} switched ${what} by ${by}`);
  }
}
