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

/** Three independent workers in one group share 20,000 payment events; the projections must be exact. */
describe('worker group', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
  });
  afterAll(async () => {
    await bench?.cleanup();
  });

  it('3 workers process 20,000 payment events exactly once, leaving nothing pending', async () => {
    const events = generatePaymentEvents({ count: 20_000, seed: 7, accounts: 300, prefix: 'grp' });
    await bench.publish(events);
    const workers = await Promise.all([1, 2, 3].map((i) => bench.startWorker({ consumer: `w${i}` })));

    await waitFor(
      async () => {
        const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
        return rows[0].n === events.length && (await bench.pendingCount()) === 0;
      },
      { timeoutMs: 60_000, intervalMs: 200, describe: async () => `pending ${await bench.pendingCount()}` },
    );
    for (const w of workers) await w.close();

    const diff = diffState(expectedState(events), await readState(bench.db, 'grp'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
    expect(await bench.pendingCount()).toBe(0);
    expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);
    // Every worker took a share: the group really spread the work.
    const acked = await Promise.all(
      workers.map(
        async (w) =>
          (await w.metrics.messages.get()).values.find((v) => v.labels.outcome === 'acked')?.value ?? 0,
      ),
    );
    expect(acked.reduce((a, b) => a + b, 0)).toBe(events.length);
    for (const n of acked) expect(n).toBeGreaterThan(0);
  });
});
