import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run as runMigrate } from '../../src/cli/migrate.ts';
import { SchemaBehindError } from '../../src/lib/errors.ts';
import {
  assertSchemaCurrent,
  currentSchemaVersion,
  MIGRATIONS,
  MIGRATIONS_TABLE,
  migrate,
  migrationLockKey,
  REQUIRED_SCHEMA_VERSION,
} from '../../src/lib/migrations.ts';
import { createPool, type Pool } from '../../src/lib/pg.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';

let schema: TestSchema;
let pools: Pool[] = [];

function pool(url = schema.url): Pool {
  const p = createPool({ url, poolSize: 2 });
  pools.push(p);
  return p;
}

beforeAll(async () => {
  schema = await createTestSchema(inject('databaseUrl'), 'mig');
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  pools = [];
  await schema.drop();
});

describe('migrations', () => {
  it('refuses a schema that was never migrated, then accepts it once migrated', async () => {
    const db = pool();
    expect(await currentSchemaVersion(db)).toBe(0);
    await expect(assertSchemaCurrent(db)).rejects.toBeInstanceOf(SchemaBehindError);
    await expect(assertSchemaCurrent(db)).rejects.toThrow(/streamsink migrate/);

    // Five pods starting at once: each migration applied exactly once, no error anywhere.
    const results = await Promise.all(Array.from({ length: 5 }, () => migrate(pool())));
    const applied = results.flatMap((r) => r.applied.map((a) => a.version));
    expect(applied.sort((a, b) => a - b)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(results.every((r) => r.version === REQUIRED_SCHEMA_VERSION && r.schema === schema.name)).toBe(
      true,
    );

    const rows = await db.query(`SELECT version, name, applied_at FROM ${MIGRATIONS_TABLE} ORDER BY version`);
    expect(rows.rows).toHaveLength(MIGRATIONS.length);
    expect(await assertSchemaCurrent(db)).toBe(REQUIRED_SCHEMA_VERSION);

    // Idempotent: running again applies nothing.
    expect((await migrate(db)).applied).toEqual([]);
    const tables = await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
      [schema.name],
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual([
      'account_balances',
      'event_log',
      'payments',
      'streamsink_console_audit',
      'streamsink_inbox',
      'streamsink_inbox_adoptions',
      'streamsink_partition_owners',
      'streamsink_pipeline_migrations',
      'streamsink_processed_v1',
      'streamsink_schema_migrations',
      'streamsink_stream_watermarks',
    ]);
  });

  it('migrates a second schema while the first is locked: the lock is per schema', async () => {
    const other = await createTestSchema(inject('databaseUrl'), 'mig');
    const holder = await pool().connect();
    try {
      // Hold the first schema's migration lock; a migration of another schema must not wait for it.
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [migrationLockKey(schema.name)]);
      const result = await migrate(pool(other.url));
      expect(result.applied.length).toBe(MIGRATIONS.length);
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [migrationLockKey(schema.name)]);
    } finally {
      holder.release();
      await other.drop();
    }
  });

  it('streamsink migrate prints what it applied and exits 0', async () => {
    const fresh = await createTestSchema(inject('databaseUrl'), 'mig');
    try {
      const out = new PassThrough();
      const err = new PassThrough();
      let text = '';
      out.on('data', (c: Buffer) => {
        text += c.toString();
      });
      const ctx = {
        env: { DATABASE_URL: fresh.url },
        stdin: new PassThrough(),
        stdout: out,
        stderr: err,
        interactive: false,
        hostname: 'test',
        readFile: () => '',
        signal: new AbortController().signal,
      };
      expect(await runMigrate([], ctx)).toBe(0);
      expect(text).toContain('applied 1 initial');
      text = '';
      expect(await runMigrate([], ctx)).toBe(0);
      expect(text).toContain(`is current at version ${REQUIRED_SCHEMA_VERSION}`);
    } finally {
      await fresh.drop();
    }
  });
});
