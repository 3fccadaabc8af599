import { createHash } from 'node:crypto';
import type { Queryable } from './pg.ts';

/**
 * A pipeline's own migrations (`definePipeline({ migrations })`): applied after streamsink's schema, in list
 * order, each once and in its own transaction, recorded per pipeline in `streamsink_pipeline_migrations` with
 * a checksum of its SQL. Runs under the same per-schema advisory lock as streamsink's migrations (migrations.ts),
 * so many pods may run it at once. An applied migration whose SQL changed is refused: editing a released
 * migration would leave installations that ran the old text and ones that ran the new one.
 */
export interface PipelineSchema {
  name: string;
  migrations?: ReadonlyArray<{ name: string; sql: string }>;
}

export const PIPELINE_MIGRATIONS_TABLE = 'streamsink_pipeline_migrations';

export interface PipelineMigrationsLogger {
  info(obj: object, msg?: string): void;
}

function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

async function recorded(db: Queryable, pipeline: string): Promise<Map<string, string>> {
  const exists = await db.query<{ present: boolean }>(
    `SELECT to_regclass('${PIPELINE_MIGRATIONS_TABLE}') IS NOT NULL AS present`,
  );
  if (!exists.rows[0]?.present) return new Map();
  const { rows } = await db.query<{ name: string; checksum: string }>(
    `SELECT name, checksum FROM ${PIPELINE_MIGRATIONS_TABLE} WHERE pipeline = $1`,
    [pipeline],
  );
  return new Map(rows.map((r) => [r.name, r.checksum]));
}

/** Names of `pipeline`'s migrations not applied yet; throws when an applied one was edited since. */
export async function pendingPipelineMigrations(db: Queryable, pipeline: PipelineSchema): Promise<string[]> {
  const have = await recorded(db, pipeline.name);
  const pending: string[] = [];
  for (const m of pipeline.migrations ?? []) {
    const sum = have.get(m.name);
    if (sum === undefined) pending.push(m.name);
    else if (sum !== checksum(m.sql))
      throw new Error(
        `migration ${m.name} of pipeline ${pipeline.name} was edited after it was applied: ` +
          'add a new migration instead of changing a released one',
      );
  }
  return pending;
}

/** Apply what is pending of each pipeline's migrations. The caller holds the migration lock. */
export async function applyPipelineMigrations(
  client: Queryable,
  pipelines: readonly PipelineSchema[],
  logger?: PipelineMigrationsLogger,
): Promise<Array<{ pipeline: string; name: string }>> {
  if (pipelines.length === 0) return [];
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${PIPELINE_MIGRATIONS_TABLE} (
       pipeline text NOT NULL,
       name text NOT NULL,
       checksum text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (pipeline, name)
     )`,
  );
  const applied: Array<{ pipeline: string; name: string }> = [];
  for (const pipeline of pipelines) {
    const pending = new Set(await pendingPipelineMigrations(client, pipeline));
    for (const m of pipeline.migrations ?? []) {
      if (!pending.has(m.name)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query(
          `INSERT INTO ${PIPELINE_MIGRATIONS_TABLE} (pipeline, name, checksum) VALUES ($1, $2, $3)`,
          [pipeline.name, m.name, checksum(m.sql)],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(
          `migration ${m.name} of pipeline ${pipeline.name} failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
      applied.push({ pipeline: pipeline.name, name: m.name });
      logger?.info({ pipeline: pipeline.name, migration: m.name }, 'applied pipeline migration');
    }
  }
  return applied;
}
