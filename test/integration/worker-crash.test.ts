import pg from 'pg';
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

async function processedCount(bench: WorkerBench): Promise<number> {
  const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
  return rows[0].n;
}

async function outcome(
  w: {
    metrics: {
      messages: { get(): Promise<{ values: Array<{ labels: Record<string, unknown>; value: number }> }> };
    };
  },
  name: string,
) {
  return (await w.metrics.messages.get()).values.find((v) => v.labels.outcome === name)?.value ?? 0;
}

describe('worker crash safety and duplicates', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
  });
  afterAll(async () => {
    await bench?.cleanup();
  });

  it('a worker SIGKILLed in the middle of a batch: its entries are reclaimed by another, balances exact', async () => {
    const events = generatePaymentEvents({ count: 6000, seed: 11, accounts: 100, prefix: 'crash' });
    const first = events.slice(0, 2000);
    const rest = events.slice(2000);
    const victim = bench.spawnWorker('victim', {
      STREAMSINK_BATCH_SIZE: '250',
      STREAMSINK_MAX_IN_FLIGHT: '1000',
    });

    // The victim commits a first part normally...
    await bench.publish(first);
    await waitFor(async () => (await processedCount(bench)) === first.length, {
      timeoutMs: 30_000,
      describe: () => victim.output().slice(-2000),
    });

    // ...then, with the balance table locked, its next batches hang inside their transactions.
    const locker = new pg.Client({ connectionString: bench.schema.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE account_balances IN EXCLUSIVE MODE');
      await bench.publish(rest);
      await waitFor(async () => (await bench.pendingOf('victim')) >= 500, { timeoutMs: 20_000 });
      await waitFor(async () => {
        const { rows } = await locker.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND application_name LIKE 'streamsink:victim%'",
        );
        return rows[0].n > 0;
      });
      const heldAtKill = await bench.pendingOf('victim');
      victim.child.kill('SIGKILL');
      expect((await victim.exited).signal).toBe('SIGKILL');
      expect(heldAtKill).toBeGreaterThan(0);
    } finally {
      await locker.query('COMMIT');
      await locker.end();
    }

    // A fresh worker reclaims the victim's entries once they are idle and reads the rest.
    const rescuer = await bench.startWorker({ consumer: 'rescuer' });
    await waitFor(
      async () => (await processedCount(bench)) === events.length && (await bench.pendingCount()) === 0,
      { timeoutMs: 30_000, describe: async () => `pending ${await bench.pendingCount()}` },
    );
    expect((await rescuer.metrics.claimed.get()).values[0]?.value ?? 0).toBeGreaterThan(0);
    await rescuer.close();

    const diff = diffState(expectedState(events), await readState(bench.db, 'crash'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
    expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);
  });

  it('the same events published twice with the same ids, and redelivered, change nothing the second time', async () => {
    const events = generatePaymentEvents({ count: 3000, seed: 12, accounts: 50, prefix: 'dup' });
    await bench.publish(events);
    await bench.publish(events.slice(0, 1500)); // re-published with the same event ids
    const w = await bench.startWorker({ consumer: 'dup-1' });
    await waitFor(
      async () => (await bench.pendingCount()) === 0 && (await outcome(w, 'acked')) === events.length,
      {
        timeoutMs: 30_000,
      },
    );
    expect(await outcome(w, 'duplicate')).toBe(1500);

    // Redelivery: make the group hand every entry out again, as after a crash before XACK.
    // (The stream also holds the earlier test's entries: all of them come back, all as duplicates.)
    const total = await bench.redis.xlen(bench.keys.stream);
    await bench.redis.xgroup('SETID', bench.keys.stream, bench.group, '0');
    await waitFor(
      async () => (await outcome(w, 'duplicate')) === 1500 + total && (await bench.pendingCount()) === 0,
      {
        timeoutMs: 30_000,
      },
    );
    expect(await outcome(w, 'acked')).toBe(events.length);
    await w.close();

    const diff = diffState(expectedState(events), await readState(bench.db, 'dup'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
  });
});
