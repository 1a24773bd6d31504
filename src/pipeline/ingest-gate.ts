/**
 * The IngestFlow of a running daemon: congested when any database's writer holds three quarters
 * of `queue_max_rows` or `queue_max_bytes` (or the pipeline threads hold three quarters of
 * their bound), relieved when every writer is back under half (the
 * gap keeps sockets from flapping between paused and reading). While congested, TCP/TLS
 * listeners stop reading (listeners/tcp.ts): the agents wait in their own buffers and the
 * kernel's, and the CPU goes to the rows that can be stored instead of building rows that the
 * full queue would drop. Relief is looked for every `pollMs` while anyone waits for it.
 */
import type { IngestFlow } from '../listeners/types.js';
import { ReliefPoll } from '../listeners/relief.js';

/** What the gate reads of one writer (StoreWriter has these getters). */
export interface QueueLevel {
  readonly queueDepth: number;
  readonly queueBytes: number;
}

export interface IngestGateOptions {
  writers: () => Iterable<QueueLevel>;
  maxRows: number;
  maxBytes: number;
  /**
   * The pipeline threads' backlog (pool.ts): its packets will be rows soon, so they count as
   * rows of every writer's queue; and the threads' own bound, by the same fractions.
   */
  threads?: { readonly queuedBytes: number; readonly maxQueuedBytes: number; readonly queuedPackets: number } | null;
  pollMs?: number;
}

const CONGESTED_AT = 0.75;
const RELIEVED_AT = 0.5;

export class IngestGate implements IngestFlow {
  private closed = false;
  private readonly relief: ReliefPoll;
  /** Times the gate closed, for stats. */
  episodes = 0;

  constructor(private readonly opts: IngestGateOptions) {
    this.relief = new ReliefPoll(() => this.congested, opts.pollMs ?? 10);
  }

  get congested(): boolean {
    if (this.closed) {
      if (this.below(RELIEVED_AT)) this.closed = false;
    } else if (!this.below(CONGESTED_AT)) {
      this.closed = true;
      this.episodes++;
    }
    return this.closed;
  }

  onRelief(resume: () => void): void {
    this.relief.add(resume);
  }

  /** Packets (and bytes, of the threads' bound) until the gate closes, as the writers stand now. */
  room(): { packets: number; bytes: number } {
    const { packets, bytes } = this.headroom(CONGESTED_AT);
    return { packets: Math.floor(packets), bytes: Math.floor(bytes) };
  }

  private below(fraction: number): boolean {
    const { packets, bytes } = this.headroom(fraction);
    return packets > 0 && bytes > 0;
  }

  /**
   * How far every queue is from `fraction` of its bound: packets before the fullest writer's
   * rows (with the threads' packets counted as rows to come) reach it, 0 when a writer's bytes
   * already have; bytes before the threads' bound does. ≤ 0 means at or past the mark.
   */
  private headroom(fraction: number): { packets: number; bytes: number } {
    const { maxRows, maxBytes, threads } = this.opts;
    let packets = Number.MAX_SAFE_INTEGER;
    const bytes = threads == null ? Number.MAX_SAFE_INTEGER : threads.maxQueuedBytes * fraction - threads.queuedBytes;
    const coming = threads?.queuedPackets ?? 0;
    for (const w of this.opts.writers()) {
      packets = Math.min(packets, w.queueBytes >= maxBytes * fraction ? 0 : maxRows * fraction - w.queueDepth - coming);
    }
    return { packets, bytes };
  }
}
