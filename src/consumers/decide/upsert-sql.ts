import { hash } from 'node:crypto';
import type { Queryable } from '../../lib/pg.ts';
import type { EffectValue, FoldedRow, FoldedTable, MergeRule, TableSpec } from './effects.ts';

/**
 * The one set-based statement per table that writes a folded batch (effects.ts):
 *
 *   INSERT INTO "t" ("k", "c1", ...)
 *   SELECT "k", "c1", ... FROM unnest($1::text[], $2::bigint[], ...) WITH ORDINALITY AS s("k", "c1", ..., ord)
 *   ORDER BY ord                                   -- the fold's key order: locks taken in one order
 *   ON CONFLICT ("k") DO UPDATE SET "c1" = <rule>, ..., "updated_at" = now()
 *
 * Usually sent in its text form (upsertTextSql: the rows as one text parameter, each field cast to its column's
 * type), the array form above when a value holds a separator character.
 *
 * Identifiers come from the pipeline's declaration: checked against a strict pattern when it is defined
 * (define-pipeline.ts) and quoted here anyway. Column types are read from the catalog once per table (the
 * arrays need a cast), so the declaration does not repeat the migrations.
 */

export const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function quoteIdent(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`not a valid identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** `column = expression` for one rule; `t` is the stored row, EXCLUDED the folded incoming one. */
export function ruleExpression(table: string, column: string, rule: MergeRule): string {
  const t = quoteIdent(table);
  const c = quoteIdent(column);
  switch (rule) {
    case 'set':
      return `${c} = EXCLUDED.${c}`;
    case 'keep-first':
      return `${c} = ${t}.${c}`;
    case 'add':
      return `${c} = ${t}.${c} + EXCLUDED.${c}`;
    case 'max':
      return `${c} = GREATEST(${t}.${c}, EXCLUDED.${c})`;
    case 'min':
      return `${c} = LEAST(${t}.${c}, EXCLUDED.${c})`;
    default: {
      const cols = [...rule.maxBy.map(quoteIdent), c];
      return `${c} = CASE WHEN (${cols.map((x) => `EXCLUDED.${x}`).join(', ')}) > (${cols.map((x) => `${t}.${x}`).join(', ')}) THEN EXCLUDED.${c} ELSE ${t}.${c} END`;
    }
  }
}

/** The upsert for `table`, given each column's SQL type. Pure. */
export function upsertSql(table: string, spec: TableSpec, types: ReadonlyMap<string, string>): string {
  const columns = [...spec.key, ...Object.keys(spec.merge)];
  const casts = columns.map((c, i) => {
    const type = types.get(c);
    if (type === undefined) throw missingColumn(table, c);
    return `$${i + 1}::${type}[]`;
  });
  const names = columns.map(quoteIdent).join(', ');
  const updates = [
    ...Object.entries(spec.merge).map(([c, rule]) => ruleExpression(table, c, rule)),
    ...(spec.touch ?? []).map((c) => `${quoteIdent(c)} = now()`),
  ];
  const conflict = `ON CONFLICT (${spec.key.map(quoteIdent).join(', ')})`;
  return [
    `INSERT INTO ${quoteIdent(table)} AS ${quoteIdent(table)} (${names})`,
    `SELECT ${names} FROM unnest(${casts.join(', ')}) WITH ORDINALITY AS s(${names}, streamsink_ord)`,
    'ORDER BY streamsink_ord',
    updates.length > 0 ? `${conflict} DO UPDATE SET ${updates.join(', ')}` : `${conflict} DO NOTHING`,
  ].join('\n');
}

/**
 * The same statement taking the rows as ONE text parameter, rows separated by U+0002, fields by U+0001, U+0003
 * for null, split by string_to_array and each field cast to its column's type (what the array form's element
 * input does): node-postgres escapes every element of an array parameter, which costs more worker CPU than
 * the rest of the write. Undefined for a table with an array-typed column (its text would need array syntax).
 */
export function upsertTextSql(
  table: string,
  spec: TableSpec,
  types: ReadonlyMap<string, string>,
): string | undefined {
  const columns = [...spec.key, ...Object.keys(spec.merge)];
  const fields = columns.map((c, i) => {
    const type = types.get(c);
    if (type === undefined) throw missingColumn(table, c);
    return `f[${i + 1}]::${type} AS ${quoteIdent(c)}`;
  });
  if (columns.some((c) => (types.get(c) as string).endsWith(']'))) return undefined;
  const [insert, , order, conflict] = upsertSql(table, spec, types).split('\n');
  return [
    insert,
    `SELECT ${fields.join(', ')}`,
    'FROM unnest(string_to_array($1, chr(2))) WITH ORDINALITY AS r(line, streamsink_ord),',
    '  string_to_array(r.line, chr(1), chr(3)) AS s(f)',
    order,
    conflict,
  ].join('\n');
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the separators are exactly what is looked for
const SEPARATOR = /[\u0001-\u0003]/;

/**
 * The rows of a folded table as upsertTextSql's parameter, or undefined when a string value holds a separator
 * (or a row would be the empty string, which string_to_array reads as no field at all): then the array form.
 */
export function upsertText(folded: FoldedTable): string | undefined {
  let text = '';
  const { rows } = folded;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as FoldedRow;
    let line = '';
    const { key, values } = row;
    for (let i = 0; i < key.length + values.length; i++) {
      const field = fieldText((i < key.length ? key[i] : values[i - key.length]) as EffectValue);
      if (field === undefined) return undefined;
      line += i === 0 ? field : `\u0001${field}`;
    }
    if (line === '') return undefined;
    text += r === 0 ? line : `\u0002${line}`;
  }
  return text;
}

function fieldText(v: EffectValue): string | undefined {
  if (v === null) return '\u0003';
  if (typeof v === 'string') return SEPARATOR.test(v) ? undefined : v;
  return String(v); // numbers and bigints as decimal text, booleans as true/false (what the array form sends)
}

/** A value as node-postgres sends it in an array: bigints as decimal text. */
function param(v: EffectValue): string | number | boolean | null {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** The statement's parameters: one array per column, rows in the fold's order. */
export function upsertParams(folded: FoldedTable): Array<Array<string | number | boolean | null>> {
  const keys = folded.keyColumns.map((_, i) => folded.rows.map((r) => param(r.key[i] as EffectValue)));
  const values = folded.valueColumns.map((_, i) => folded.rows.map((r) => param(r.values[i] as EffectValue)));
  return [...keys, ...values];
}

/** A missing table or column is systemic (a migration not applied): SQLSTATE 42P01 / 42703, retried. */
function missingColumn(table: string, column: string): Error {
  return Object.assign(
    new Error(`column ${column} of table ${table} does not exist (is a migration missing?)`),
    {
      code: '42703',
    },
  );
}

const COLUMN_TYPES = `
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
FROM pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`;

/** Column types of `table` as resolved by the connection's search_path. */
export async function readColumnTypes(tx: Queryable, table: string): Promise<Map<string, string>> {
  const { rows } = await tx.query<{ name: string; type: string }>(COLUMN_TYPES, [quoteIdent(table)]);
  if (rows.length === 0)
    throw Object.assign(new Error(`relation ${table} does not exist (is a migration missing?)`), {
      code: '42P01',
    });
  return new Map(rows.map((r) => [r.name, r.type]));
}

/** A table's two statements, built once per (search_path, table) from its column types. */
export interface TableStatements {
  /** upsertSql: the array form. */
  arrays: string;
  /** upsertTextSql, or undefined for a table without a text form. */
  text: string | undefined;
  /** The prepared statements' name stem, unique per (scope, statement text). */
  name: string;
}

/**
 * Write folded tables, one statement each, in the fold's table order. Statements are built once per
 * (search_path, table) and cached in `cache` (the caller's, per sink): a shadow schema gets its own entry.
 *
 * They are named prepared statements, so each connection parses and plans them once, not on every batch (that
 * was a good part of Postgres' CPU per event for a batch's upsert). Behind PgBouncer in transaction mode this
 * needs PgBouncer 1.21+ with `max_prepared_statements` (docs/postgres.md), as the event-log pipeline does.
 */
export async function writeFolded(
  tx: Queryable,
  folded: readonly FoldedTable[],
  cache: Map<string, TableStatements>,
  scope = '',
): Promise<void> {
  for (const table of folded) {
    if (table.rows.length === 0) continue;
    const id = `${scope}\u0000${table.table}`;
    let statements = cache.get(id);
    if (statements === undefined) {
      const types = await readColumnTypes(tx, table.table);
      const arrays = upsertSql(table.table, table.spec, types);
      const text = upsertTextSql(table.table, table.spec, types);
      // Named after what they say (and where): a statement changed by a migration gets a new name.
      const name = `streamsink-decide-${hash('sha256', `${scope}\u0000${arrays}`, 'hex').slice(0, 24)}`;
      statements = { arrays, text, name };
      cache.set(id, statements);
    }
    const text = statements.text === undefined ? undefined : upsertText(table);
    if (statements.text !== undefined && text !== undefined)
      await tx.query({ name: `${statements.name}-t`, text: statements.text, values: [text] });
    else
      await tx.query({ name: `${statements.name}-a`, text: statements.arrays, values: upsertParams(table) });
  }
}
