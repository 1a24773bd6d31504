/**
 * Listeners turn bytes from the network (or a file) into CapturedMessages and hand them to a
 * MessageSink (capture/message.ts). They know nothing about SIP or storage; what they cannot
 * decode they count through the Stats they were given, under a DropReason.
 */

export interface Listener {
  /** Stable name for logs and metrics, e.g. `udp:127.0.0.1:9060`. */
  readonly name: string;
  /** Resolves once the listener receives (socket bound); rejects with a clear message otherwise. */
  start(): Promise<void>;
  /** Stops receiving; resolves when sockets are closed. */
  stop(): Promise<void>;
}

/**
 * Whether the rest of the daemon can take more right now. Stream listeners stop reading their
 * sockets while it is congested (the kernel's flow control then slows the agents), instead of
 * decoding frames into rows that would be dropped as queue_full; datagrams cannot wait.
 */
export interface IngestFlow {
  /** True while the sinks are too far behind to take more. */
  readonly congested: boolean;
  /** Calls `resume` once, when the congestion is over. */
  onRelief(resume: () => void): void;
  /**
   * Packets (and bytes of them) that can still come before it is congested; ≤ 0 when it is.
   * A reader that cannot look at `congested` before each read (a receive thread) reads at most this far ahead.
   */
  room?(): { packets: number; bytes: number };
}
