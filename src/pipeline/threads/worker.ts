/**
 * One pipeline thread: HEP decode, the capture switches, auth keys, dedup keys, SIP parse, the
 * row, routing and (for PostgreSQL Homer 5 tables) the COPY encoding, for the batches the main
 * thread posts. It answers every batch with one message: the rows by table, and what it dropped
 * and why. The main thread keeps what must be one per process: the dedup table, the writers,
 * the counters and their logs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { rowOptionsFrom } from '../../capture/sip-row.js';
import type { SipcaptureConfig } from '../../config/types.js';
import { authKeys, type AuthKeys } from '../../listeners/access.js';
import { routerFrom, type Router } from '../../route/router.js';
import { DropReason, type DropReasonValue } from '../../telemetry/drop-reasons.js';
import { HeplifyCounters } from '../../telemetry/heplify-counters.js';
import type { PacketCounts } from '../../telemetry/stats.js';
import { CaptureState } from '../capture-state.js';
import { dedupFrom, type DuplicateCheck } from '../dedup.js';
import { HepIngest } from '../hep-ingest.js';
import { Pipeline } from '../pipeline.js';
import type { BatchMessage, DoneMessage, HeplifyDelta, MainMessage, ThreadInit, ThreadMessage } from './protocol.js';
import { RowCollector, type CurrentKey } from './row-collector.js';

const init = workerData as ThreadInit;
const port = parentPort!;
const state = new CaptureState(init.state);

/** Drops by reason with the last detail; `received` is counted by the main thread when it posts. */
class ThreadCounts implements PacketCounts {
  private readonly drops = new Map<DropReasonValue, [number, string]>();
  received(): void {}
  drop(reason: DropReasonValue, detail: string, count = 1): void {
    const d = this.drops.get(reason);
    if (d === undefined) this.drops.set(reason, [count, detail]);
    else {
      d[0] += count;
      d[1] = detail;
    }
  }
  take(): DoneMessage['drops'] {
    const out: DoneMessage['drops'] = [];
    for (const [reason, [n, detail]] of this.drops) out.push([reason, n, detail]);
    this.drops.clear();
    return out;
  }
}

/** heplify counts; SIP messages are only listed, the main thread counts them once per Call-ID. */
class ThreadHeplify extends HeplifyCounters {
  sips: string[] = [];
  override sip(nodeId: string, callId: string, response: string, method: string): void {
    this.sips.push(nodeId, callId, response, method);
  }
}

/** Everything built from the configuration; a reload builds it again. */
interface Setup {
  router: Router;
  ingest: HepIngest;
  pipeline: Pipeline;
  collector: RowCollector;
  keysByListener: Map<string, AuthKeys | null>;
  heplify: ThreadHeplify | null;
  current: CurrentKey | null;
  routingSent: [number, number];
}

const counts = new ThreadCounts();

function setUp(cfg: SipcaptureConfig): Setup {
  const router = routerFrom(cfg);
  const table = dedupFrom(cfg);
  const current: CurrentKey | null = table === null ? null : { key: -1, atMs: 0 };
  // Dedup needs one table for the process (copies may reach different threads): here only the key.
  const dedup: DuplicateCheck | null =
    table === null || current === null
      ? null
      : {
          mode: table.mode,
          windowMs: table.windowMs,
          isDuplicate(msg) {
            current.key = table.keyOf(msg);
            current.atMs = msg.receivedAtUs / 1000;
            return false;
          },
        };
  const collector = new RowCollector(cfg, current);
  const heplify = cfg.heplify_metrics === 1 ? new ThreadHeplify() : null;
  const pipeline = new Pipeline({
    stats: counts,
    state,
    router,
    rowOptions: rowOptionsFrom(cfg),
    writerFor: (dbUrl) => collector.sinkFor(dbUrl),
    defaultDbUrl: cfg.captureModes.get('default')?.db_url ?? null,
    dedup,
    guard: state,
    heplify,
  });
  const ingest = new HepIngest(pipeline, counts, state);
  ingest.guard = state;
  const keysByListener = new Map(cfg.listenAddresses.map((a) => [a.spec, authKeys(a.access.authKeys)]));
  return { router, ingest, pipeline, collector, keysByListener, heplify, current, routingSent: [0, 0] };
}

let setup = setUp(init.cfg);

function heplifyDelta(h: ThreadHeplify | null): HeplifyDelta | null {
  if (h === null || h.packets.size === 0) return null;
  const delta: HeplifyDelta = {
    packets: [...h.packets],
    lastSize: [...h.lastSize],
    methodResponses: [...h.methodResponses],
    rtcp: [...h.rtcp].map(([metric, byNode]) => [metric, [...byNode]]),
    sips: h.sips,
  };
  h.sips = [];
  h.packets.clear();
  h.lastSize.clear();
  h.methodResponses.clear();
  h.rtcp.clear();
  return delta;
}

function run(m: BatchMessage): void {
  const s = setup;
  const { ends, listener } = m;
  const keys = s.keysByListener.get(listener) ?? null;
  // A tuple is its message and ~500 bytes of columns and lengths, about twice a typical HEP packet.
  const used = ends.length > 0 ? ends[ends.length - 1]! : 0;
  s.collector.sizeHint = 2 * used + 4096;
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i]!;
    const data = Buffer.from(m.buf, start, end - start);
    start = end;
    const at = m.receivedAtUs[i]!;
    // A dedup key belongs to its own packet only (a dropped SIP message must not lend it on).
    if (s.current !== null) s.current.key = -1;
    try {
      if (m.decoded) s.ingest.decodeAndAccept(data, listener, at);
      else s.ingest.handle(data, listener, keys, at);
    } catch (err) {
      // A defect must cost this packet only, and be seen.
      counts.drop(DropReason.HEP_MALFORMED, `${listener}: pipeline thread: ${(err as Error).message}`);
    }
  }
  const transfer: ArrayBuffer[] = [];
  const groups = s.collector.take(transfer);
  const clamped = s.router.tableDateClampedCount;
  const empty = s.router.emptyHashSourceCount;
  const done: DoneMessage = {
    op: 'done',
    id: m.id,
    groups,
    drops: counts.take(),
    routing: [clamped - s.routingSent[0], empty - s.routingSent[1]],
    heplify: heplifyDelta(s.heplify),
  };
  s.routingSent = [clamped, empty];
  port.postMessage(done satisfies ThreadMessage, transfer);
}

port.on('message', (m: MainMessage) => {
  switch (m.op) {
    case 'batch':
      run(m);
      break;
    case 'config':
      setup = setUp(m.cfg);
      break;
    case 'stop':
      port.close();
      break;
  }
});
port.postMessage({ op: 'ready' } satisfies ThreadMessage);
