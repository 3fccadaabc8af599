import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { definePipeline } from '../../src/consumers/define-pipeline.ts';
import type { Envelope } from '../../src/lib/envelope.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { runReplay } from '../../src/replay/run-replay.ts';
import { uniqueName } from '../helpers/names.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * Issues 14 and 15 together: a `decide` pipeline whose effects depend on what its enrich stage fetched. The
 * "service" answers differently on every call (a counter), so a replay that called it again, or that gave
 * `decide` nothing, would compute other effects than the recorded proofs: replay must pass `decide` the
 * enrichment recorded with each event and report every entry OK.
 */
describe('replay of an enriched decide pipeline', () => {
  let bench: WorkerBench;
  const table = uniqueName('fx').toLowerCase();
  let calls = 0;
  const pipeline = definePipeline({
    name: uniqueName('fxledger').toLowerCase(),
    version: '1',
    events: [
      { type: 'fx.moved', v: 1, schema: z.object({ account: z.string(), amountMinor: z.number().int() }) },
    ],
    migrations: [
      {
        name: '0001-fx',
        sql: `CREATE TABLE ${table} (account text PRIMARY KEY, balance_minor bigint NOT NULL DEFAULT 0)`,
      },
    ],
    tables: { [table]: { key: ['account'], merge: { balance_minor: 'add' } } },
    enrich: (events, ctx) =>
      ctx.settle(events, () =>
        ctx.call('fx', async () => {
          calls += 1;
          return { rate: 1 + (calls % 7) };
        }),
      ),
    decide: (event, ctx) => {
      const { rate } = ctx.enrichment as { rate: number };
      return [
        {
          table,
          key: { account: event.data.account },
          values: { balance_minor: event.data.amountMinor * rate },
        },
      ];
    },
  });

  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), {
      STREAMSINK_BATCH_SIZE: '25',
    });
    await migrate(bench.db, undefined, { pipelines: [pipeline] });
  });
  afterAll(async () => {
    await bench?.cleanup();
  });

  it('reports every entry OK: decide gets the recorded enrichment, the service is not called again', async () => {
    const events: Envelope[] = Array.from({ length: 200 }, (_, i) => ({
      id: `fx-${i}`,
      type: 'fx.moved',
      v: 1,
      key: `acct-${i % 10}`,
      ts: '2026-12-01T10:00:00.000Z',
      data: { account: `acct-${i % 10}`, amountMinor: 100 + i },
    }));
    await bench.publish(events);
    const worker = await bench.startWorker({ pipeline });
    await waitFor(
      async () =>
        Number(
          (
            await bench.db.query(`SELECT count(*) AS n FROM streamsink_inbox WHERE pipeline = $1`, [
              pipeline.name,
            ])
          ).rows[0]?.n,
        ) === 200 && (await bench.pendingCount()) === 0,
      { timeoutMs: 30_000 },
    );
    await worker.close();
    const callsBefore = calls;
    const tally = await runReplay({
      redis: bench.redis,
      db: bench.db,
      pipeline,
      stream: bench.streamName,
      key: bench.keys.stream,
    });
    expect(calls).toBe(callsBefore);
    expect(tally.entries).toBe(200);
    expect(tally.counts.OK, JSON.stringify(tally.examples)).toBe(200);
  });
});
