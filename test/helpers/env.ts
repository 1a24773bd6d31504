/**
 * Test environment rules: a test that needs something the machine lacks (a database server,
 * root, ../shared) skips with a printed reason — except under CI=true, where it must fail.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const IN_CI = process.env['CI'] === 'true';

/** The project root (works from test/ under tsx and from dist/test/ after tsc). */
export const PROJECT_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
})();

/** ../shared beside the project (absent in a fresh clone). */
export const SHARED_DIR = path.resolve(PROJECT_ROOT, '..', 'shared');

/**
 * Returns a skip reason (string) for node:test's `skip` option when `available` is false,
 * or throws under CI so the missing prerequisite fails the run.
 */
export function requireOrSkip(available: boolean, what: string): string | false {
  if (available) return false;
  if (IN_CI) throw new Error(`CI=true but ${what} is not available`);
  const reason = `skipped: ${what} is not available`;
  process.stdout.write(`# ${reason}\n`);
  return reason;
}
