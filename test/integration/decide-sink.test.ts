import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import type { Effect } from '../../src/consumers/decide/effects.ts';
import { definePipeline } from '../../src/consumers/define-pipeline.ts';
import { createPgSink } from '../../src/consumers/pg-sink.ts';
import { toRuntimePipeline } from '../../src/consumers/pipeline-adapter.ts';
import type { AcceptedItem } from '../../src/consumers/types.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { uniqueName } from '../helpers/names.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';

/**
 * The decide form through the real sink: effects that do not fit the declared tables are the pipeline's bug
 * but tied to one event, which is isolated as poison `invalid_effects` while its batch-mates commit; nothing
 * crashes and nothing is half-applied. Proof columns are written for every applied event.
 */
const ledger = (bad: (id: string) => Effect[] | undefined) =>
  definePipeline({
    name: 'ledger-sink',
    events: [{ type: 'moved', v: 1, schema: z.object({ account: z.string(), amount: z.number().int() }) }],
    migrations: [
      { name: '0001', sql: 'CREATE TABLE ledger_sink (account text PRIMARY KEY, balance bigint NOT NULL)' },
    ],
    tables: { ledger_sink: { key: ['account'], merge: { balance: 'add' } } },
    decide: (e) =>
      bad(e.id) ?? [
        { table: 'ledger_sink', key: { account: e.data.account }, values: { balance: e.data.amount } },
      ],
  });

function item(i: number): AcceptedItem {
  return {
    entry: { id: `${i + 1}-0`, fields: [], deliveryCount: 1 },
    envelope: {
      id: `e-${i}`,
      type: 'moved',
      v: 1,
      key: 'k',
      ts: '2026-12-01T00:00:00.000Z',
      data: { account: `a${i % 5}`, amount: i },
    },
  };
}

describe('decide through the sink', () => {
  let schema: TestSchema;
  let pool: pg.Pool;
  beforeAll(async () => {
    schema = await createTestSchema(inject('databaseUrl'), 'dk');
    pool = new pg.Pool({ connectionString: schema.url, max: 2 });
    await migrate(pool, undefined, { pipelines: [ledger(() => undefined)] });
  });
  afterAll(async () => {
    await pool?.end();
    await schema?.drop();
  });

  it.each([
    [
      'an undeclared table',
      [{ table: 'nope', key: { account: 'x' }, values: { balance: 1 } }],
      /table "nope" is not declared/,
    ],
    [
      'an undeclared column',
      [{ table: 'ledger_sink', key: { account: 'x' }, values: { balance: 1, other: 2 } }],
      /undeclared column\(s\) other/,
    ],
    [
      'a non-integer sum',
      [{ table: 'ledger_sink', key: { account: 'x' }, values: { balance: 0.5 } }],
      /balance must be an integer/,
    ],
  ])(
    '%s: that event is dead-lettered as invalid_effects, the other 99 commit once',
    async (_name, effects, message) => {
      const bad = 'e-37';
      const pipeline = toRuntimePipeline(
        ledger((id) => (id.endsWith(`-${bad}`) ? (effects as Effect[]) : undefined)),
      );
      const stream = uniqueName('s');
      const sink = createPgSink({ pool, pipeline, stream, group: 'g' });
      await pool.query('TRUNCATE ledger_sink');
      const items = Array.from({ length: 100 }, (_, i) => item(i)).map((it) => ({
        ...it,
        envelope: { ...it.envelope, id: `${stream}-${it.envelope.id}` },
      }));
      const badId = `${stream}-${bad}`;
      const result = await sink.write(items);
      expect(result.applied).toHaveLength(99);
      expect(result.poison.map((p) => [p.item.envelope.id, p.error.reason])).toEqual([
        [badId, 'invalid_effects'],
      ]);
      expect(result.poison[0]?.error.message).toMatch(message);
      const { rows } = await pool.query('SELECT sum(balance)::int AS total FROM ledger_sink');
      expect(rows[0].total).toBe((99 * 100) / 2 - 37);
      const proofs = await pool.query(
        "SELECT count(*)::int AS n FROM streamsink_inbox WHERE pipeline = 'ledger-sink' AND stream = $1 AND octet_length(proof) = 32 AND octet_length(input_hash) = 32 AND pipeline_version = '1'",
        [stream],
      );
      expect(proofs.rows[0].n).toBe(99);
    },
  );
});
