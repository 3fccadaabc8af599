import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPgSink } from '../../src/consumers/pg-sink.ts';
import { createPipeline } from '../../src/consumers/pipelines/index.ts';
import type { AcceptedItem } from '../../src/consumers/types.ts';
import { encodeEnvelope } from '../../src/lib/envelope.ts';
import { currentSchemaVersion, migrate, REQUIRED_SCHEMA_VERSION } from '../../src/lib/migrations.ts';
import { createPool, type Pool } from '../../src/lib/pg.ts';
import { classifyPgError } from '../../src/lib/pg-errors.ts';
import { uniqueName } from '../helpers/names.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';

/**
 * Schema 2 (inbox per pipeline) while schema-1 workers run. A schema-1 payments worker is played here by the
 * exact statements it ran (inbox keyed by group, then the balance upsert, one transaction per event) in a loop
 * that does not stop when the migration lands. Every transaction of it must either commit before the migration
 * (and then its event counts as applied for the new worker) or fail with a systemic error (so the old worker
 * pauses, acknowledges nothing and dead-letters nothing); a schema-2 worker then applies the rest exactly once.
 */
const V1_INBOX = `
INSERT INTO streamsink_processed (consumer_group, event_id, stream, entry_id, event_type)
VALUES ($1, $2, $3, $4, 'payment.captured')
ON CONFLICT (consumer_group, event_id) DO NOTHING RETURNING event_id`;
const V1_BALANCE = `
INSERT INTO account_balances (account_id, currency, balance_minor) VALUES ($1, 'EUR', $2)
ON CONFLICT (account_id, currency) DO UPDATE SET balance_minor = account_balances.balance_minor + EXCLUDED.balance_minor`;

let schema: TestSchema;
let db: Pool;

beforeAll(async () => {
  schema = await createTestSchema(inject('databaseUrl'), 'mig2');
  db = createPool({ url: schema.url, poolSize: 6 });
});

afterAll(async () => {
  await db.end();
  await schema.drop();
});

function capture(prefix: string, i: number): AcceptedItem {
  const paymentId = `${prefix}-p${i}`;
  const envelope = {
    id: `${prefix}-e${i}`,
    type: 'payment.captured',
    v: 1,
    key: paymentId,
    ts: '2026-11-21T10:00:00.000Z',
    data: { paymentId, accountId: `${prefix}-acct`, amountMinor: i + 1, currency: 'EUR' },
  };
  return { entry: { id: `${1000 + i}-0`, fields: encodeEnvelope(envelope), deliveryCount: 1 }, envelope };
}

describe('migration to schema 2 while schema-1 workers run', () => {
  it('loses nothing and applies nothing twice: old writers stall on a systemic error, new ones adopt their inbox', async () => {
    await migrate(db, undefined, { toVersion: 1 });
    expect(await currentSchemaVersion(db)).toBe(1);
    const prefix = uniqueName('m');
    const stream = `${prefix}-payments`;
    const events = Array.from({ length: 400 }, (_, i) => capture(prefix, i));
    // The bug schema 2 fixes: an archive group with the same default name recorded one of these ids first.
    await db.query(
      `INSERT INTO streamsink_processed (consumer_group, event_id, stream, entry_id, event_type)
       VALUES ('streamsink', $1, $2, '1-0', 'audit.logged')`,
      [`${prefix}-e399`, `${prefix}-audit`],
    );

    const committed: string[] = [];
    const failures: string[] = [];
    let migrated = false;
    let afterMigration = 0;
    const oldWorker = (async () => {
      const client = await db.connect();
      try {
        for (const item of events) {
          // Keep going a little past the migration, as a real old worker would until it is replaced.
          if (migrated && ++afterMigration > 20) break;
          try {
            await client.query('BEGIN');
            const fresh = await client.query(V1_INBOX, [
              'streamsink',
              item.envelope.id,
              stream,
              item.entry.id,
            ]);
            if (fresh.rows.length > 0) {
              await client.query(V1_BALANCE, [
                `${prefix}-acct`,
                item.envelope.data && (item.envelope.data as { amountMinor: number }).amountMinor,
              ]);
            }
            await client.query('COMMIT');
            if (fresh.rows.length > 0) committed.push(item.envelope.id);
          } catch (error) {
            await client.query('ROLLBACK');
            failures.push(classifyPgError(error));
          }
        }
      } finally {
        client.release();
      }
    })();
    // Migrate while it runs, once it has committed some events.
    while (committed.length < 50) await new Promise((r) => setImmediate(r));
    await migrate(db);
    migrated = true;
    await oldWorker;
    expect(await currentSchemaVersion(db)).toBe(REQUIRED_SCHEMA_VERSION);
    expect(committed.length).toBeGreaterThanOrEqual(50);
    expect(committed.length).toBeLessThan(399);
    expect(failures.length).toBeGreaterThan(0);
    expect(new Set(failures)).toEqual(new Set(['systemic']));

    // A schema-2 payments worker for that group and stream takes over and is handed every event again.
    const sink = createPgSink({
      pool: db,
      pipeline: createPipeline('payments', { currencies: ['EUR'] }),
      stream,
      group: 'streamsink',
    });
    // A second pod starting at the same time: both adopt before their first write, only one adopts rows.
    const twin = createPgSink({
      pool: db,
      pipeline: createPipeline('payments', { currencies: ['EUR'] }),
      stream,
      group: 'streamsink',
    });
    const [result] = await Promise.all([sink.write(events), twin.write([])]);
    expect(result.poison).toHaveLength(0);
    expect(result.duplicates.map((i) => i.envelope.id).sort()).toEqual([...committed].sort());
    // e399 was recorded by the archive group on another stream: not this pipeline's, so it is applied.
    expect(result.applied.map((i) => i.envelope.id)).toContain(`${prefix}-e399`);
    expect(result.applied.length + result.duplicates.length).toBe(events.length);

    const { rows } = await db.query<{ b: string }>(
      'SELECT balance_minor AS b FROM account_balances WHERE account_id = $1',
      [`${prefix}-acct`],
    );
    const expected = events.reduce((sum, _, i) => sum + i + 1, 0);
    expect(Number(rows[0]?.b)).toBe(expected);
    const adoptions = await db.query(
      'SELECT consumer_group, stream, pipeline, adopted_rows FROM streamsink_inbox_adoptions',
    );
    expect(adoptions.rows).toEqual([
      { consumer_group: 'streamsink', stream, pipeline: 'payments', adopted_rows: String(committed.length) },
    ]);
  });
});
