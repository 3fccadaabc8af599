import { MERGE_RULES, type TableSpec } from './effects.ts';
import { IDENTIFIER } from './upsert-sql.ts';

/**
 * Check a decide pipeline's `tables` declaration when it is defined: identifiers Postgres takes unquoted
 * (lower case), a non-empty key, a known rule per column, `maxBy` naming other merged columns, `touch`
 * naming columns that are neither key nor merged. Pure; returns the problems, each with its path.
 */
export function checkTablesSpec(tables: unknown): Array<{ path: string; message: string }> {
  const issues: Array<{ path: string; message: string }> = [];
  const add = (path: string, message: string) => issues.push({ path: `tables.${path}`, message });
  const ident = 'a lower-case SQL identifier: ^[a-z_][a-z0-9_]{0,62}$';
  const entries = Object.entries(tables as Record<string, unknown>);
  if (entries.length === 0) add('', 'declare at least one table');
  for (const [table, raw] of entries) {
    if (!IDENTIFIER.test(table)) add(table, `the table name must be ${ident}`);
    const spec = raw as Partial<TableSpec> | null;
    if (typeof spec !== 'object' || spec === null) {
      add(table, 'must be { key: [...], merge: { column: rule } }');
      continue;
    }
    const unknownKeys = Object.keys(spec).filter((k) => !['key', 'merge', 'touch'].includes(k));
    if (unknownKeys.length > 0) add(table, `unknown field(s) ${unknownKeys.join(', ')} (key, merge, touch)`);
    const key = Array.isArray(spec.key) ? spec.key : [];
    if (key.length === 0) add(`${table}.key`, 'give the conflict key columns: a non-empty array');
    const merge = typeof spec.merge === 'object' && spec.merge !== null ? spec.merge : undefined;
    if (!merge) add(`${table}.merge`, 'give { column: rule } (it may be empty: {})');
    const touch = spec.touch === undefined ? [] : Array.isArray(spec.touch) ? spec.touch : undefined;
    if (!touch) add(`${table}.touch`, 'must be an array of column names');
    const mergeColumns = Object.keys(merge ?? {});
    const seen = new Set<string>();
    for (const [where, column] of [
      ...key.map((c) => ['key', c] as const),
      ...mergeColumns.map((c) => ['merge', c] as const),
      ...(touch ?? []).map((c) => ['touch', c] as const),
    ]) {
      if (typeof column !== 'string' || !IDENTIFIER.test(column))
        add(`${table}.${where}`, `${JSON.stringify(column)} is not ${ident}`);
      else if (seen.has(column)) add(`${table}.${where}`, `column ${column} appears twice`);
      seen.add(column);
    }
    for (const [column, rule] of Object.entries(merge ?? {})) {
      if (typeof rule === 'string' && (MERGE_RULES as readonly string[]).includes(rule)) continue;
      const by = typeof rule === 'object' && rule !== null ? (rule as { maxBy?: unknown }).maxBy : undefined;
      if (Array.isArray(by) && by.length > 0) {
        for (const c of by)
          if (typeof c !== 'string' || c === column || !mergeColumns.includes(c))
            add(`${table}.merge.${column}`, `maxBy: ${JSON.stringify(c)} is not another merged column`);
        continue;
      }
      add(
        `${table}.merge.${column}`,
        `unknown rule ${JSON.stringify(rule)}: one of ${MERGE_RULES.join(', ')} or { maxBy: [columns] }`,
      );
    }
  }
  return issues;
}
