/** Messages between the viewer's SQLite reader (sql-runner.ts) and its thread (sqlite-read-worker.ts). */
export interface ReadRequest {
  id: number;
  sql: string;
  params: (string | number)[];
}

export interface ReadResponse {
  id: number;
  rows?: Record<string, unknown>[];
  error?: string;
}

export interface ReadWorkerInit {
  file: string;
}
