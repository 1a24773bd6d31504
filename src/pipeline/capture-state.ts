/**
 * The switches an operator flips at run time (sipcapture.status, SIGHUP): shared by every
 * listener and the pipeline in this process, read per packet.
 */
import type { SipcaptureConfig } from '../config/types.js';

export class CaptureState {
  /** capture_on: store SIP (and non-SIP) rows. */
  captureOn: boolean;
  /** hep_capture_on: accept HEP on the HEP listeners. */
  hepCaptureOn: boolean;

  constructor(cfg: Pick<SipcaptureConfig, 'capture_on' | 'hep_capture_on'>) {
    this.captureOn = cfg.capture_on !== 0;
    this.hepCaptureOn = cfg.hep_capture_on !== 0;
  }
}
