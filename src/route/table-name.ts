/**
 * The last check before a name reaches SQL. Kamailio reads the name as a C string and
 * PostgreSQL's driver does not quote it (docs/kamailio-differences.md C4), so a header value or a bad template
 * could end up inside a statement. Every backend also quotes identifiers; this check makes
 * quoting a second line of defence, not the only one.
 */

/** A letter or `_`, then up to 62 letters, digits or `_` (63 = PostgreSQL's identifier limit). */
export const TABLE_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function isValidTableName(name: string): boolean {
  return TABLE_NAME_PATTERN.test(name);
}

/** Why a name is rejected, or undefined when it is valid. */
export function tableNameProblem(name: string): string | undefined {
  if (TABLE_NAME_PATTERN.test(name)) return undefined;
  if (name.length === 0) return 'table name is empty';
  if (name.length > 63) return `table name is ${name.length} characters long (at most 63)`;
  if (/^[0-9]/.test(name)) return `table name ${JSON.stringify(name)} starts with a digit`;
  return `table name ${JSON.stringify(name)} has characters other than A-Z a-z 0-9 _`;
}

/**
 * Throws a TypeError with the reason when the name is not a safe identifier. Every store calls
 * it before a name reaches SQL, index names or logs.
 */
export function assertValidTableName(name: string): void {
  const problem = tableNameProblem(name);
  if (problem !== undefined) throw new TypeError(problem);
}
