/**
 * What a failed connection or query says about the database as a whole, in words an operator
 * acts on: the password or user was refused, the database does not exist, or the host cannot be
 * reached. Reads the error codes of pg (SQLSTATE), mysql2 (server errno) and Node's sockets.
 */
export type ConnectProblemKind = 'authentication' | 'unknown_database' | 'unreachable' | 'other';

export interface ConnectProblem {
  kind: ConnectProblemKind;
  /** e.g. `authentication failed (28P01: password authentication failed for user "capture")`. */
  text: string;
}

/** PostgreSQL SQLSTATEs: invalid_password, invalid_authorization_specification; invalid_catalog_name. */
const PG_AUTH = new Set(['28P01', '28000']);
const PG_UNKNOWN_DB = '3D000';
/** MySQL/MariaDB errnos: ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR; ER_BAD_DB_ERROR. */
const MYSQL_AUTH = new Set([1045, 1044, 1698]);
const MYSQL_UNKNOWN_DB = 1049;
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET']);

export function connectProblem(err: unknown): ConnectProblem {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; errno?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const errno = typeof e.errno === 'number' ? e.errno : -1;
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
  const detail = code !== '' ? `${code}: ${message}` : message;
  if (PG_AUTH.has(code) || MYSQL_AUTH.has(errno)) return { kind: 'authentication', text: `refused the user or password (${detail})` };
  if (code === PG_UNKNOWN_DB || errno === MYSQL_UNKNOWN_DB) return { kind: 'unknown_database', text: `does not exist (${detail})` };
  if (UNREACHABLE.has(code) || /timeout|timed out/i.test(message)) return { kind: 'unreachable', text: `cannot be reached (${detail})` };
  return { kind: 'other', text: `does not answer (${detail})` };
}
