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
