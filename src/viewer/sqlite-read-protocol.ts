/** Messages between the viewer's SQLite reader (sql-runner.ts) and its thread (sqlite-read-worker.ts). */
export interface ReadRequest {
  id: number;
  sql: string;
  params: (string | number)[];
  /** Date.now() after which the statement is aborted (by the deadline function). */
  deadlineMs: number;
}

/**
 * The SQL function the reader thread defines: 1 until the running request's deadline, then it
 * throws, which aborts the statement. Queries call it in their WHERE (SqlRunner.guard).
 */
export const SQLITE_DEADLINE_FUNCTION = 'sipcapture_deadline';

export interface ReadResponse {
  id: number;
  rows?: Record<string, unknown>[];
  error?: string;
}

export interface ReadWorkerInit {
  file: string;
}
