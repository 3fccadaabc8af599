import type { TableSpec } from '../consumers/decide/effects.ts';
import { quoteIdent } from '../consumers/decide/upsert-sql.ts';
import type { AnyPipeline } from '../consumers/define-pipeline.ts';
import { UsageError } from '../lib/errors.ts';
import type { Queryable } from '../lib/pg.ts';

/**
 * `replay --into-schema NAME` (docs/proof.md#shadow-rebuild): the pipeline's tables rebuilt from the events in a
 * schema of their own, then compared with the live tables both ways. The blue/green check of a new version
 * before it takes over.
 */

/** A schema name as Postgres stores it, quoted. */
export function quoteSchema(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Create `schema` (refused when it exists: a rebuild starts empty and never writes over someone's tables)
 * and run the pipeline's migrations in it, on `db`, whose search_path must be that schema alone.
 */
export async function createShadow(db: Queryable, schema: string, pipeline: AnyPipeline): Promise<void> {
  const exists = await db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (exists.rows.length > 0)
    throw new UsageError(
      `schema ${schema} exists: a shadow rebuild starts from an empty schema (DROP SCHEMA ${quoteSchema(schema)} CASCADE, or pick another name)`,
    );
  await db.query(`CREATE SCHEMA ${quoteSchema(schema)}`);
  await db.query('BEGIN');
  try {
    await db.query(`SET LOCAL search_path TO ${quoteSchema(schema)}`);
    for (const m of pipeline.migrations ?? []) await db.query(m.sql);
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK');
    throw error;
  }
}

export interface TableDiff {
  table: string;
  /** Keys in the shadow only: the events say this row should exist, live has none. */
  missing: number;
  /** Keys in live only. */
  extra: number;
  /** Keys in both with other values. */
  different: number;
  examples: Array<{ kind: 'missing' | 'extra' | 'different'; live: unknown; shadow: unknown }>;
}

/**
 * Compare each declared table, live against shadow, on its key and merged columns (`touch` columns hold the
 * clock, so they are left out): `EXCEPT` both ways, joined on the key to tell missing, extra and different.
 */
export async function diffTables(
  db: Queryable,
  live: string,
  shadow: string,
  tables: Readonly<Record<string, TableSpec>>,
  maxExamples: number,
): Promise<TableDiff[]> {
  const out: TableDiff[] = [];
  for (const [table, spec] of Object.entries(tables)) {
    const columns = [...spec.key, ...Object.keys(spec.merge)].map(quoteIdent).join(', ');
    const t = quoteIdent(table);
    const k = spec.key.map(quoteIdent);
    const join = k.map((c) => `l.${c} = s.${c}`).join(' AND ');
    const cte = `WITH l AS (SELECT ${columns} FROM ${quoteSchema(live)}.${t} EXCEPT SELECT ${columns} FROM ${quoteSchema(shadow)}.${t}),
      s AS (SELECT ${columns} FROM ${quoteSchema(shadow)}.${t} EXCEPT SELECT ${columns} FROM ${quoteSchema(live)}.${t}),
      d AS (SELECT CASE WHEN l.${k[0]} IS NULL THEN 'missing' WHEN s.${k[0]} IS NULL THEN 'extra' ELSE 'different' END AS kind,
                   CASE WHEN l.${k[0]} IS NULL THEN NULL ELSE row_to_json(l) END AS live,
                   CASE WHEN s.${k[0]} IS NULL THEN NULL ELSE row_to_json(s) END AS shadow
            FROM l FULL JOIN s ON ${join})`;
    const counts = await db.query<{ kind: string; n: string }>(
      `${cte} SELECT kind, count(*) AS n FROM d GROUP BY kind`,
    );
    const n = (kind: string) => Number(counts.rows.find((r) => r.kind === kind)?.n ?? 0);
    const examples = await db.query<{
      kind: TableDiff['examples'][number]['kind'];
      live: unknown;
      shadow: unknown;
    }>(`${cte} SELECT kind, live, shadow FROM d ORDER BY kind LIMIT ${Math.max(0, Math.floor(maxExamples))}`);
    out.push({
      table,
      missing: n('missing'),
      extra: n('extra'),
      different: n('different'),
      examples: examples.rows,
    });
  }
  return out;
}
