/**
 * The ladder as text for a terminal (`sipcapture show`) and the plain-text export: lanes as
 * columns, one arrow per line with its UTC time and the time since the previous message.
 *
 *                        192.0.2.10:5060        192.0.2.20:5060
 *   12:00:00.000000          |-------INVITE-------->|
 *   12:00:00.010000 +0.010   |<----100 Trying-------|
 */
import type { Ladder } from './ladder.js';
import type { CallFlow } from './types.js';

const TIME_WIDTH = 28;

export function utcTime(microTs: number): string {
  const d = new Date(Math.floor(microTs / 1000));
  const us = String(Math.floor(microTs) % 1_000_000).padStart(6, '0');
  return `${d.toISOString().slice(11, 19)}.${us}`;
}

export function utcDate(microTs: number): string {
  return new Date(Math.floor(microTs / 1000)).toISOString().slice(0, 10);
}

export function formatDelta(us: number): string {
  return `+${(us / 1e6).toFixed(3)}`;
}

/** The ladder diagram, one line per arrow. */
export function ladderText(ladder: Ladder): string[] {
  const labels = ladder.arrows.map((a) => a.label.length + (a.retransmission ? 9 : 0));
  const spacing = Math.max(20, ...ladder.lanes.map((l) => l.length + 3), ...labels.map((n) => n + 8));
  const x = (lane: number): number => TIME_WIDTH + Math.floor(spacing / 2) + lane * spacing;
  const width = x(ladder.lanes.length - 1) + Math.ceil(spacing / 2);
  const blank = (): string[] => {
    const row = Array<string>(width).fill(' ');
    for (let i = 0; i < ladder.lanes.length; i++) row[x(i)] = '|';
    return row;
  };
  const header = Array<string>(width).fill(' ');
  ladder.lanes.forEach((name, i) => {
    const start = Math.max(0, x(i) - Math.floor(name.length / 2));
    for (let k = 0; k < name.length; k++) header[start + k] = name[k]!;
  });
  const lines = [header.join('').trimEnd(), blank().join('').trimEnd()];
  for (const a of ladder.arrows) {
    const row = blank();
    const time = `${utcTime(a.microTs)}${a.deltaUs > 0 || a.message > 0 ? ` ${formatDelta(a.deltaUs)}` : ''}`;
    for (let k = 0; k < time.length; k++) row[k] = time[k]!;
    const label = `${a.label}${a.retransmission ? ' (retrans)' : ''}${a.otherLeg ? ' *' : ''}`;
    if (a.from === a.to) {
      const text = `<-> ${label}`;
      for (let k = 0; k < text.length && x(a.from) + 2 + k < width; k++) row[x(a.from) + 2 + k] = text[k]!;
      lines.push(row.join('').trimEnd());
      continue;
    }
    const left = Math.min(x(a.from), x(a.to));
    const right = Math.max(x(a.from), x(a.to));
    for (let k = left + 1; k < right; k++) row[k] = '-';
    if (a.to > a.from) row[right - 1] = '>';
    else row[left + 1] = '<';
    const start = left + 1 + Math.max(1, Math.floor((right - left - 1 - label.length) / 2));
    for (let k = 0; k < label.length && start + k < right - 1; k++) row[start + k] = label[k]!;
    lines.push(row.join('').trimEnd());
  }
  return lines;
}

/** `sipcapture show` and the text export: a header, the ladder, then (optionally) every message in full. */
export function callText(flow: CallFlow, ladder: Ladder, withMessages: boolean): string {
  const out: string[] = [];
  const first = flow.messages[0];
  out.push(`Call-ID: ${flow.callId}`);
  if (flow.callIds.length > 1) out.push(`legs: ${flow.callIds.slice(1).join(', ')} (arrows marked *)`);
  if (first === undefined) {
    out.push('no messages found');
    return `${out.join('\n')}\n`;
  }
  out.push(`${flow.messages.length} messages from ${utcDate(first.microTs)} ${utcTime(first.microTs)} UTC${flow.truncated ? ' (cut: the call has more)' : ''}`);
  out.push('');
  out.push(...ladderText(ladder));
  if (flow.side.length > 0) {
    out.push('', `${flow.side.length} RTCP / report / log rows:`);
    for (const s of flow.side) out.push(`  ${utcTime(s.microTs)} ${s.kind} ${s.sourceIp}:${s.sourcePort} -> ${s.destinationIp}:${s.destinationPort} ${oneLine(s.msg, 120)}`);
  }
  if (withMessages) {
    flow.messages.forEach((m, i) => {
      out.push('', `---- ${i + 1}/${flow.messages.length} ${utcDate(m.microTs)} ${utcTime(m.microTs)} ${m.sourceIp}:${m.sourcePort} -> ${m.destinationIp}:${m.destinationPort} (${m.table} #${m.id})`);
      out.push(m.msg.replace(/\r\n/g, '\n').trimEnd());
    });
  }
  return `${out.join('\n')}\n`;
}

function oneLine(s: string, max: number): string {
  const t = s.replace(/\s+/g, ' ');
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}
