/** Row fixtures for the store tests: every column filled, awkward values on purpose. */
import type { ReportRow, SipCaptureRow } from '../../src/capture/rows.js';

const AWKWARD = ['', "O'Brien \"quoted\"", 'ünïcødé', '😀 non-BMP', 'tab\there', 'semi;colon', 'back\\slash', '%s %d'];

/** A SIP row whose every value depends on i; msg holds NUL and 0xff bytes. */
export function sipRow(i: number, over: Partial<SipCaptureRow> = {}): SipCaptureRow {
  const s = (name: string): string => `${name}-${i}${AWKWARD[i % AWKWARD.length] ?? ''}`;
  const msg = Buffer.alloc(200 + (i % 300));
  for (let k = 0; k < msg.length; k++) msg[k] = (i * 31 + k * 7) & 0xff;
  msg[0] = 0x00;
  msg[1] = 0xff;
  return {
    date: `2026-11-22 ${String(i % 24).padStart(2, '0')}:13:20`,
    micro_ts: 1795000000000000 + i * 1000 + 7,
    method: i % 2 ? 'INVITE' : '200',
    reply_reason: i % 2 ? '' : 'OK',
    ruri: `sip:bob${i}@example.com`,
    ruri_user: s('ruri_user'),
    ruri_domain: 'example.com',
    from_user: s('from_user'),
    from_domain: s('from_domain'),
    from_tag: s('from_tag'),
    to_user: s('to_user'),
    to_domain: s('to_domain'),
    to_tag: s('to_tag'),
    pid_user: s('pid_user'),
    contact_user: s('contact_user'),
    auth_user: s('auth_user'),
    callid: `cid-${i}@10.0.0.1 `,
    callid_aleg: s('callid_aleg'),
    via_1: `SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-${i}`,
    via_1_branch: `z9hG4bK-${i}`,
    cseq: `${i} INVITE`,
    diversion: s('diversion'),
    reason: s('reason'),
    content_type: 'application/sdp',
    auth: '',
    user_agent: s('user_agent'),
    source_ip: `10.0.${(i >> 8) & 0xff}.${i & 0xff}`,
    source_port: 5060 + (i % 1000),
    destination_ip: '2001:db8::1',
    destination_port: 65535,
    contact_ip: '1.1.1.1',
    contact_port: i % 7,
    originator_ip: '',
    originator_port: 0,
    correlation_id: `cid-${i}@10.0.0.1`,
    custom_field1: s('cf1'),
    custom_field2: s('cf2'),
    custom_field3: s('cf3'),
    proto: 1 + (i % 4),
    family: i % 3 ? 2 : 10,
    rtp_stat: s('rtp'),
    type: 1 + (i % 2),
    node: `homer01:${2000 + (i % 5)}`,
    msg,
    ...over,
  };
}

export function reportRow(i: number, over: Partial<ReportRow> = {}): ReportRow {
  return {
    date: '2026-11-22 10:00:00',
    micro_ts: 1795000000000000 + i,
    correlation_id: `cid-${i}`,
    source_ip: '10.0.0.1',
    source_port: 5060,
    destination_ip: '10.0.0.2',
    destination_port: 5080,
    proto: 1,
    family: 2,
    type: 5,
    node: 'homer01:2001',
    msg: Buffer.from([0, 1, 2, 0xff, i & 0xff]),
    ...over,
  };
}
