import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  diffState,
  expectedState,
  generatePaymentEvents,
  readState,
  stateMatches,
} from '../helpers/payments-model.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

describe('workers racing on the same accounts', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    // Small batches and high concurrency: many transactions touch the same few balance rows at once.
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), {
      STREAMSINK_BATCH_SIZE: '50',
      STREAMSINK_CONCURRENCY: '6',
      STREAMSINK_MAX_IN_FLIGHT: '600',
    });
  });
  afterAll(async () => {
    await bench?.cleanup();
  });

  it('two workers on 6 overlapping accounts: no deadlock or retry surfaces, final state exact', async () => {
    const events = generatePaymentEvents({ count: 10_000, seed: 41, accounts: 6, prefix: 'race' });
    await bench.publish(events);
    const workers = await Promise.all([
      bench.startWorker({ consumer: 'r1' }),
      bench.startWorker({ consumer: 'r2' }),
    ]);
    await waitFor(
      async () => {
        const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
        return rows[0].n === events.length && (await bench.pendingCount()) === 0;
      },
      { timeoutMs: 60_000 },
    );
    for (const w of workers) await w.close();

    for (const w of workers) {
      const pgErrors = (await w.metrics.postgresErrors.get()).values.reduce((a, v) => a + v.value, 0);
      expect(pgErrors).toBe(0);
      const retried = (await w.metrics.messages.get()).values.find((v) => v.labels.outcome === 'retried');
      expect(retried?.value ?? 0).toBe(0);
      const acked = (await w.metrics.messages.get()).values.find((v) => v.labels.outcome === 'acked');
      expect(acked?.value ?? 0).toBeGreaterThan(0);
    }
    const diff = diffState(expectedState(events), await readState(bench.db, 'race'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
  });
});
