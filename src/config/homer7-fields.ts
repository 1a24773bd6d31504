/**
 * The `data_header` keys a HOMER 7 SIP row may carry: heplify-server's `SIPHeader` names (its
 * default ten, and the others it knows). The values are filled by store/homer7/row.ts.
 */

/** heplify-server's default `SIPHeader` list. */
export const DEFAULT_DATA_HEADER: readonly string[] = [
  'ruri_user',
  'ruri_domain',
  'from_user',
  'from_tag',
  'to_user',
  'to_tag',
  'callid',
  'cseq',
  'method',
  'user_agent',
];

/** Every name heplify-server accepts in `SIPHeader`. */
export const DATA_HEADER_NAMES: readonly string[] = [
  ...DEFAULT_DATA_HEADER,
  'from_domain',
  'to_domain',
  'via',
  'contact_user',
  'contact_domain',
  'pid_user',
  'auth_user',
  'server',
  'content_type',
  'reason',
  'diversion',
  'expires',
  'callid_aleg',
];

/** Why a `homer7_data_header` list is invalid, or undefined. */
export function checkDataHeaderNames(names: readonly string[]): string | undefined {
  if (names.length === 0) return 'is empty (give at least one name; the default is heplify-server\'s ten)';
  const unknown = names.filter((n) => !DATA_HEADER_NAMES.includes(n));
  if (unknown.length > 0) return `has unknown name(s) ${unknown.map((n) => JSON.stringify(n)).join(', ')} (allowed: ${DATA_HEADER_NAMES.join(', ')})`;
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) return `names "${dup}" twice`;
  return undefined;
}
