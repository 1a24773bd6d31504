/** Errors as the writer reports and rethrows them (a store may reject with anything). */

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
