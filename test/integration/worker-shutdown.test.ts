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

const SHUTDOWN_TIMEOUT_MS = 10_000;

async function processedCount(bench: WorkerBench): Promise<number> {
  const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_processed');
  return rows[0].n;
}

describe('graceful shutdown', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
  });
  afterAll(async () => {
    await bench?.cleanup();
  });

  it('SIGTERM under load: exit 0 within the timeout, everything committed was acknowledged, nothing lost', async () => {
    const events = generatePaymentEvents({ count: 40_000, seed: 21, accounts: 400, prefix: 'term' });
    await bench.publish(events);
    const child = bench.spawnWorker('terminated', {
      STREAMSINK_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      STREAMSINK_BATCH_SIZE: '200',
      STREAMSINK_MAX_IN_FLIGHT: '1000',
      LOG_LEVEL: 'info',
    });
    await waitFor(async () => (await processedCount(bench)) >= 3000, {
      timeoutMs: 30_000,
      describe: () => child.output().slice(-2000),
    });
    child.child.kill('SIGTERM');
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void child.exited.then((e) => {
      exit = e;
    });
    await waitFor(() => exit, {
      timeoutMs: SHUTDOWN_TIMEOUT_MS + 5000,
      describe: () => child.output().slice(-2000),
    });
    expect(exit).toEqual({ code: 0, signal: null });
    expect(child.output()).toContain('worker stopped');

    const committedByChild = await processedCount(bench);
    expect(committedByChild).toBeLessThan(events.length); // it really was stopped under load
    // Drained: the stopped worker holds nothing pending.
    expect(await bench.pendingOf('terminated')).toBe(0);

    const next = await bench.startWorker({ consumer: 'after' });
    await waitFor(
      async () => (await processedCount(bench)) === events.length && (await bench.pendingCount()) === 0,
      { timeoutMs: 30_000 },
    );
    await next.close();
    const values = (await next.metrics.messages.get()).values;
    const count = (o: string) => values.find((v) => v.labels.outcome === o)?.value ?? 0;
    // Nothing the first worker committed came back: every commit of it was acknowledged before it exited.
    expect(count('duplicate')).toBe(0);
    expect(count('acked')).toBe(events.length - committedByChild);

    const diff = diffState(expectedState(events), await readState(bench.db, 'term'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
  });
});
