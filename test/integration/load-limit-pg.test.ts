import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  diffState,
  expectedState,
  generatePaymentEvents,
  readState,
  stateMatches,
} from '../helpers/payments-model.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type InProcessWorker, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * Adaptive concurrency against a Postgres slowed by a latency proxy (+40 ms per chunk, each way): the limit
 * falls below STREAMSINK_CONCURRENCY while commits are slow, climbs again once the latency is removed, and the
 * final state is exact (nothing lost, nothing doubled, nothing dead-lettered). Throughput and p99 are measured
 * by `npm run bench:load`, not asserted here.
 */
const MAX = 8;

describe('adaptive concurrency limit with a slow Postgres', () => {
  let bench: WorkerBench;
  let proxy: TcpProxy;

  beforeAll(async () => {
    const databaseUrl = inject('databaseUrl');
    bench = await createWorkerBench(inject('redisUrl'), databaseUrl, {
      STREAMSINK_CONCURRENCY: String(MAX),
      STREAMSINK_CONCURRENCY_MODE: 'adaptive',
      STREAMSINK_BATCH_SIZE: '50',
      STREAMSINK_MAX_IN_FLIGHT: String(MAX * 50),
      STREAMSINK_MAX_DELIVERIES: '2',
      // Short windows, so the long RTT average is warmed up (10 windows) within the healthy phase.
      STREAMSINK_CONCURRENCY_WINDOW_MS: '200',
    });
    const target = new URL(databaseUrl);
    proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
  });
  afterAll(async () => {
    await bench?.cleanup();
    await proxy?.close();
  });

  async function processed(): Promise<number> {
    const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
    return rows[0].n;
  }
  const gauge = async (w: InProcessWorker, name: string) =>
    ((await w.registry.getSingleMetric(name)?.get()) as { values: Array<{ value: number }> } | undefined)
      ?.values[0]?.value ?? Number.NaN;
  const limit = (w: InProcessWorker) => gauge(w, 'streamsink_concurrency_limit');

  it('the limit falls while commits are slow and rises again once they are fast; state exact', async () => {
    const events = generatePaymentEvents({ count: 40_000, seed: 15, accounts: 300, prefix: 'lim' });
    await bench.publish(events);
    const url = new URL(bench.schema.url);
    url.host = `${proxy.host}:${proxy.port}`;
    const w = await bench.startWorker({ consumer: 'lim', databaseUrl: url.toString() });
    expect(await limit(w)).toBe(MAX);
    await waitFor(async () => (await processed()) >= 6000, { timeoutMs: 30_000 });

    // +40 ms per chunk each way (the bench uses 20): a clear slowdown even when the machine is busy.
    proxy.setLatency(40);
    await waitFor(async () => (await limit(w)) < MAX, {
      timeoutMs: 30_000,
      describe: async () => `limit ${await limit(w)}`,
    });
    // At a lower limit the worker holds only what that many batches take (the rest waits in the stream):
    // a second in a row of samples with the limit below MAX and no more pending than its batches hold. Checked
    // while the slowdown is fresh: Gradient2's long average takes a sustained latency as the new normal and
    // lets the limit climb back (docs/load-management.md), so later the limit may be MAX again.
    let streak = 0;
    await waitFor(
      async () => {
        const l = await limit(w);
        const pending = await bench.pendingCount();
        streak = l < MAX && pending <= l * 50 && l === (await limit(w)) ? streak + 1 : 0;
        return streak >= 10;
      },
      {
        timeoutMs: 40_000,
        intervalMs: 100,
        describe: async () => `pending ${await bench.pendingCount()}, limit ${await limit(w)}`,
      },
    );

    // Slow for a while longer: the worker keeps committing, at the lower limit.
    let lowest = await limit(w);
    const slowFrom = await processed();
    await waitFor(
      async () => {
        lowest = Math.min(lowest, await limit(w));
        expect(await gauge(w, 'streamsink_batches_in_flight')).toBeLessThanOrEqual(MAX);
        return (await processed()) >= slowFrom + 3000;
      },
      { timeoutMs: 60_000, intervalMs: 100, describe: async () => `limit ${await limit(w)}` },
    );
    expect(lowest).toBeLessThan(MAX);
    proxy.setLatency(0);
    await waitFor(async () => (await limit(w)) > lowest, {
      timeoutMs: 30_000,
      describe: async () => `limit ${await limit(w)}, lowest ${lowest}`,
    });
    await waitFor(async () => (await processed()) === events.length && (await bench.pendingCount()) === 0, {
      timeoutMs: 90_000,
      intervalMs: 250,
      describe: async () => `processed ${await processed()}`,
    });
    await w.close();

    expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);
    const diff = diffState(expectedState(events), await readState(bench.db, 'lim'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
  });
});
