/** Configuration problems: collected, never thrown one at a time, so the operator sees them all. */
import { maskPasswords } from './db-url.js';

export interface ConfigProblem {
  /** The key the problem is about, e.g. `insert_retries`, `routes[2].method`, `capture_mode[0]`. */
  key: string;
  /** What is wrong, naming the value given and what is allowed. */
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.key}: ${p.message}`;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    /** The config file (or a description of where the values came from). */
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    const n = problems.length;
    super(`${source}: ${n} configuration problem${n === 1 ? '' : 's'}:\n` + problems.map((p) => '  - ' + formatProblem(p)).join('\n'));
  }
}

/**
 * A value as shown in a message: strings quoted, passwords masked (keeping their length, so the
 * offsets in capture_mode messages still match), long values cut.
 */
export function show(value: unknown, maxLength = 120): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(maskPasswords(value, true));
  else if (value === undefined) text = 'undefined';
  else if (typeof value === 'number' || typeof value === 'boolean' || value === null) text = String(value);
  else text = maskPasswords(JSON.stringify(value) ?? typeName(value), true);
  return text.length > maxLength ? text.slice(0, maxLength - 3) + '…' : text;
}

/** The JSON type of a value, for "expected an integer, got a string" messages. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a non-integer number';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value;
}

/**
 * A file system error without the path Node appends (`ENOENT: no such file or directory, open
 * '/x'`), for messages that already name the file: `ENOENT: no such file or directory`.
 */
export function fsErrorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/, \w+ '[^']*'(?: -> '[^']*')?$/, '');
}
