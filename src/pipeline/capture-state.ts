/**
 * The switches an operator flips at run time (sipcapture.status, SIGHUP): shared by every
 * listener and the pipeline in this process, read per packet.
 */
import type { SipcaptureConfig } from '../config/types.js';
import type { Logger } from '../telemetry/logger.js';

export type CaptureSwitchKey = 'capture_on' | 'hep_capture_on';

export class CaptureState {
  /** capture_on: store SIP (and non-SIP) rows. */
  captureOn: boolean;
  /** hep_capture_on: accept HEP on the HEP listeners. */
  hepCaptureOn: boolean;

  constructor(cfg: Pick<SipcaptureConfig, 'capture_on' | 'hep_capture_on'>) {
    this.captureOn = cfg.capture_on !== 0;
    this.hepCaptureOn = cfg.hep_capture_on !== 0;
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
