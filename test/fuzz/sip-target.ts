/**
 * `sip`: the path a SIP payload takes in the pipeline: parseSip → buildSipRow (with and without
 * capture_bad_msgs, topoh unmasking) → routeFactsOf → Router (Homer 5 rules, hash over two
 * tables, strftime on the packet time) — on mutated and random payloads.
 */
import type { CapturedMessage } from '../../src/capture/message.js';
import { SIP_CAPTURE_COLUMNS, SIP_CAPTURE_INT_COLUMNS, type SipCaptureRow } from '../../src/capture/rows.js';
import { buildSipRow, hashSourcesOf, type SipRowOptions, type SipRowRejectReason } from '../../src/capture/sip-row.js';
import { HOMER5_RULES } from '../../src/config/routes.js';
import type { CaptureMode } from '../../src/config/types.js';
import { DropReason } from '../../src/telemetry/drop-reasons.js';
import { Router } from '../../src/route/router.js';
import { parseSip, type SipErrorCode } from '../../src/sip/parser.js';
import { routeFactsOf } from '../../src/route/facts.js';
import { captured as fixtureMessage } from '../sip/fixtures.js';
import { check, type FuzzInput, type FuzzTarget, type Outcome } from './harness.js';
import { mutate, SIP_MUTATORS } from './mutate.js';
import type { Seeds } from './seeds.js';

const PARSE_CODES: Record<SipErrorCode, true> = { too_short: true, bad_first_line: true, not_sip: true, bad_header: true, missing_required_header: true };
const ROW_REASONS: Record<SipRowRejectReason, true> = { bad_headers: true, bad_ruri: true, bad_from: true, bad_to: true, bad_contact: true };
const ROUTE_DROPS = [DropReason.FILTERED, DropReason.BAD_TABLE_NAME];
const REASONS = [
  ...Object.keys(PARSE_CODES).map((c) => `${DropReason.SIP_MALFORMED}/parse:${c}`),
  ...Object.keys(ROW_REASONS).map((c) => `${DropReason.SIP_MALFORMED}/row:${c}`),
  ...ROUTE_DROPS.map((d) => `${d}/route`),
];

/** param bits. */
const BAD_MSGS = 1;
const TOPOH = 2;

const MODES = new Map<string, CaptureMode>([
  ['default', { name: 'default', db_url: 'sqlite://:memory:', table_name: ['sip_capture_a_%Y%m%d', 'sip_capture_b_%Y%m%d'], mt_mode: 'hash', hash_source: 'from_user' }],
]);
const ROUTER = new Router(HOMER5_RULES, MODES);

const BASE_OPTS: SipRowOptions = {
  captureNode: 'homer01',
  callidAlegHeaders: ['X-CID', 'X-CID1'],
  customFieldHeaders: ['Mac', 'IP', 'Port'],
  topoh: null,
  captureBadMsgs: false,
  dateTimeZone: 'UTC',
};
const OPTS: readonly SipRowOptions[] = [
  BASE_OPTS,
  { ...BASE_OPTS, captureBadMsgs: true },
  { ...BASE_OPTS, topoh: { key: 'aL1fuzzKey', prefix: 'DLGCH_' } },
  { ...BASE_OPTS, captureBadMsgs: true, topoh: { key: 'aL1fuzzKey', prefix: 'DLGCH_' }, dateTimeZone: 'local' },
];

const TIMES = [0, 1, 1_700_000_000, 0x7fffffff, 0xffffffff];

/** The fixtures' HEP3 message with a fuzzed time (0 = no HEP time). */
function captured(payload: Buffer, sec: number, usec: number): CapturedMessage {
  return fixtureMessage(payload, { hepTime: sec === 0 ? null : { sec, usec, captureId: 2001 }, receivedAtUs: 1_700_000_000_000_000, listener: 'fuzz' });
}

function checkRow(row: SipCaptureRow, payload: Buffer): void {
  for (const col of SIP_CAPTURE_COLUMNS) {
    const v = row[col];
    if (col === 'msg') check(Buffer.isBuffer(v) && v.equals(payload), 'msg column is not the payload byte for byte');
    else if (SIP_CAPTURE_INT_COLUMNS.has(col)) check(typeof v === 'number' && Number.isFinite(v), () => `column ${col} = ${String(v)} is not a finite number`);
    else check(typeof v === 'string', () => `column ${col} is not a string`);
  }
}

export function sipTarget(seeds: Seeds): FuzzTarget {
  return {
    name: 'sip',
    what: 'parseSip + buildSipRow + routeFactsOf + Router (homer5)',
    reasons: new Set(REASONS),
    generate(rng) {
      let payload: Buffer;
      if (rng.chance(0.08)) {
        // random bytes, sometimes behind a valid first line
        const head = rng.pick(['', 'INVITE sip:a@b SIP/2.0\r\n', 'SIP/2.0 200 OK\r\n', 'REGISTER sip:x SIP/2.0\n']);
        payload = Buffer.concat([Buffer.from(head), rng.bytes(rng.smallLength(800))]);
      } else {
        payload = mutate(rng, rng.pick(seeds.sip), seeds.sip, SIP_MUTATORS, 5);
      }
      const sec = rng.chance(0.8) ? 1_700_000_000 + rng.int(86400 * 30) : rng.pick(TIMES);
      return { param: rng.int(OPTS.length), parts: [payload], nums: [sec, rng.chance(0.95) ? rng.int(1_000_000) : 0xffffffff] };
    },
    execute(input: FuzzInput): Outcome {
      const outcome: Outcome = { rejections: [], accepted: 0 };
      const payload = input.parts[0] ?? Buffer.alloc(0);
      const before = Buffer.from(payload);
      const parsed = parseSip(payload);
      if (!parsed.ok) {
        check(parsed.error.message.length > 0, 'parse error without a message');
        outcome.rejections.push(`${DropReason.SIP_MALFORMED}/parse:${parsed.error.code}`);
        return outcome;
      }
      const msg = parsed.message;
      const facts = routeFactsOf(msg);
      check(facts.type === 1 || facts.type === 2, `type ${facts.type}`);
      const opts = OPTS[input.param & (BAD_MSGS | TOPOH)] ?? BASE_OPTS;
      const built = buildSipRow(captured(payload, input.nums[0] ?? 0, input.nums[1] ?? 0), msg, opts);
      check(payload.equals(before), 'the payload was modified');
      if (!built.ok) {
        check(built.message.length > 0, 'row rejection without a message');
        outcome.rejections.push(`${DropReason.SIP_MALFORMED}/row:${built.reason}`);
        return outcome;
      }
      checkRow(built.row, payload);
      const dest = ROUTER.route(facts, hashSourcesOf(built.row), Math.floor(built.row.micro_ts / 1e6));
      if ('drop' in dest) {
        outcome.rejections.push(`${dest.drop}/route`);
        return outcome;
      }
      check(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(dest.table), () => `table name ${dest.table}`);
      outcome.accepted++;
      return outcome;
    },
    fresh() {
      return sipTarget(seeds);
    },
  };
}
