import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SchemaBehindError } from './errors.ts';
import type { Pool, Queryable } from './pg.ts';
import {
  applyPipelineMigrations,
  type PipelineSchema,
  pendingPipelineMigrations,
} from './pipeline-migrations.ts';

/**
 * Versioned schema migrations. Each one runs once, in its own transaction, and is recorded in
 * `streamsink_schema_migrations`. The whole run holds a session-level advisory lock whose key is derived from
 * the current schema, so many pods starting at once (or `streamsink migrate` next to `STREAMSINK_AUTO_MIGRATE`)
 * apply each migration exactly once, while installations in different schemas never wait for each other.
 *
 * A released migration is never edited; a change is a new file. Most only add; the few that change what an
 * older worker relies on (version 2 moved the inbox) say in their header how they stay safe while older
 * workers run: those fail with a systemic error, roll back and retry until replaced, never acking anything.
 */
export interface MigrationSpec {
  version: number;
  name: string;
  /** SQL file beside this module, under migrations/ (copied into dist by `npm run build`). */
  file: string;
}

export const MIGRATIONS: readonly MigrationSpec[] = [
  { version: 1, name: 'initial', file: '0001-initial.sql' },
  { version: 2, name: 'inbox-per-pipeline', file: '0002-inbox-per-pipeline.sql' },
  { version: 3, name: 'stream-watermarks', file: '0003-stream-watermarks.sql' },
  { version: 4, name: 'pipeline-migrations', file: '0004-pipeline-migrations.sql' },
  { version: 5, name: 'console-audit', file: '0005-console-audit.sql' },
  { version: 6, name: 'inbox-proof', file: '0006-inbox-proof.sql' },
  { version: 7, name: 'partition-owners', file: '0007-partition-owners.sql' },
  { version: 9, name: 'inbox-enrichment', file: '0009-inbox-enrichment.sql' },
];

/** The schema version this build needs; the worker refuses to start below it. */
export const REQUIRED_SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

export const MIGRATIONS_TABLE = 'streamsink_schema_migrations';

export interface MigrateLogger {
  info(obj: object, msg?: string): void;
}

export interface MigrateResult {
  /** Migrations this call applied, in order (empty when the schema was already current). */
  applied: Array<{ version: number; name: string }>;
  /** Schema version after the call. */
  version: number;
  /** The schema migrated (the connection's current_schema()). */
  schema: string;
  /** Pipeline migrations this call applied, in order. */
  pipelineApplied: Array<{ pipeline: string; name: string }>;
}

/**
 * Advisory-lock key for migrating `schema`: the first 8 bytes of a SHA-256, as a signed bigint in decimal
 * (what pg_advisory_lock(bigint) takes). Pure, so every pod derives the same key.
 */
export function migrationLockKey(schema: string): string {
  return createHash('sha256').update(`streamsink:migrate:${schema}`).digest().readBigInt64BE(0).toString();
}

function loadSql(spec: MigrationSpec): string {
  return readFileSync(new URL(`./migrations/${spec.file}`, import.meta.url), 'utf8');
}

export interface MigrateOptions {
  /** Stop after this version (a staged upgrade, or a test that needs an old schema). Default: the latest. */
  toVersion?: number;
  /** Pipelines whose own migrations to apply after streamsink's (pipeline-migrations.ts). */
  pipelines?: readonly PipelineSchema[];
}

/** Apply every migration not yet applied. Safe to call concurrently from many processes. */
export async function migrate(
  pool: Pool,
  logger?: MigrateLogger,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const toVersion = options.toVersion ?? REQUIRED_SCHEMA_VERSION;
  const client = await pool.connect();
  let broken: Error | undefined;
  let locked: string | undefined;
  // Heard while checked out, a dropped connection is an 'error' event that would otherwise crash the process.
  const onError = (error: Error) => {
    broken ??= error;
  };
  client.on('error', onError);
  try {
    const { rows } = await client.query<{ schema: string | null }>('SELECT current_schema() AS schema');
    const schema = rows[0]?.schema;
    if (!schema) {
      throw new Error('no current schema to migrate: check search_path (and that the schema exists)');
    }
    const key = migrationLockKey(schema);
    await client.query('SELECT pg_advisory_lock($1::bigint)', [key]);
    locked = key;
    // Under the lock: CREATE TABLE IF NOT EXISTS is not safe against a concurrent twin without it.
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const done = await client.query<{ version: number }>(`SELECT version FROM ${MIGRATIONS_TABLE}`);
    const have = new Set(done.rows.map((r) => r.version));
    const applied: MigrateResult['applied'] = [];
    for (const spec of MIGRATIONS) {
      if (have.has(spec.version) || spec.version > toVersion) continue;
      const sql = loadSql(spec);
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, name) VALUES ($1, $2)`, [
          spec.version,
          spec.name,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw new Error(`migration ${spec.version} (${spec.name}) failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
      applied.push({ version: spec.version, name: spec.name });
      logger?.info({ schema, version: spec.version, name: spec.name }, 'applied migration');
    }
    const version = Math.max(0, ...have, ...applied.map((a) => a.version));
    const pipelineApplied =
      toVersion >= REQUIRED_SCHEMA_VERSION
        ? await applyPipelineMigrations(client, options.pipelines ?? [], logger)
        : [];
    return { applied, version, schema, pipelineApplied };
  } catch (error) {
    if (!broken && isConnectionGone(error)) broken = error as Error;
    throw error;
  } finally {
    if (locked !== undefined && !broken) {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [locked]).catch((error: Error) => {
        broken = error;
      });
    }
    // A client whose connection broke is discarded by the pool; the server drops its lock with the session.
    client.off('error', onError);
    client.release(broken);
  }
}

function isConnectionGone(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code !== 'string' || code.startsWith('08') || code.startsWith('57P');
}

/** The schema version recorded in the current schema: 0 when streamsink was never migrated there. */
export async function currentSchemaVersion(db: Queryable): Promise<number> {
  const exists = await db.query<{ present: boolean }>(
    `SELECT to_regclass('${MIGRATIONS_TABLE}') IS NOT NULL AS present`,
  );
  if (!exists.rows[0]?.present) return 0;
  const { rows } = await db.query<{ version: number | null }>(
    `SELECT max(version) AS version FROM ${MIGRATIONS_TABLE}`,
  );
  return rows[0]?.version ?? 0;
}

/**
 * Throw {@link SchemaBehindError} when the database is older than this build. A newer schema is accepted, so a
 * rolling upgrade can migrate first; an older worker either keeps working (additive migrations) or stalls
 * safely on a systemic error until replaced (see the migration's header).
 */
export async function assertSchemaCurrent(db: Queryable, pipeline?: PipelineSchema): Promise<number> {
  const version = await currentSchemaVersion(db);
  if (version < REQUIRED_SCHEMA_VERSION) throw new SchemaBehindError(version, REQUIRED_SCHEMA_VERSION);
  if (pipeline) {
    const pending = await pendingPipelineMigrations(db, pipeline);
    if (pending.length > 0)
      throw new SchemaBehindError(
        version,
        REQUIRED_SCHEMA_VERSION,
        `pipeline ${pipeline.name} has migrations not applied yet (${pending.join(', ')}): run ` +
          '`streamsink migrate --pipeline <the same pipeline>` first, or set STREAMSINK_AUTO_MIGRATE=true',
      );
  }
  return version;
}
