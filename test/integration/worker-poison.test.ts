import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Envelope } from '../../src/lib/envelope.ts';
import {
  diffState,
  expectedState,
  generatePaymentEvents,
  readState,
  stateMatches,
} from '../helpers/payments-model.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

function dlqField(fields: string[], name: string): string | undefined {
  const i = fields.indexOf(name);
  return i >= 0 && i % 2 === 0 ? fields[i + 1] : undefined;
}

async function outcomes(w: {
  metrics: {
    messages: { get(): Promise<{ values: Array<{ labels: Record<string, unknown>; value: number }> }> };
  };
}) {
  const out: Record<string, number> = {};
  for (const v of (await w.metrics.messages.get()).values) out[String(v.labels.outcome)] = v.value;
  return out;
}

describe('poison inside a batch', () => {
  let payments: WorkerBench;
  let eventLog: WorkerBench;
  beforeAll(async () => {
    [payments, eventLog] = await Promise.all([
      createWorkerBench(inject('redisUrl'), inject('databaseUrl'), { STREAMSINK_BATCH_SIZE: '500' }),
      createWorkerBench(inject('redisUrl'), inject('databaseUrl'), {
        STREAMSINK_BATCH_SIZE: '500',
        STREAMSINK_PIPELINE: 'event-log',
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([payments?.cleanup(), eventLog?.cleanup()]);
  });

  it('an event the pipeline refuses (unsupported currency) is dead-lettered; the other 499 commit', async () => {
    const events = generatePaymentEvents({ count: 500, seed: 31, accounts: 20, prefix: 'poi' });
    const bad = events[250] as (typeof events)[number];
    bad.data = { ...bad.data, currency: 'XYZ' };
    await payments.publish(events);
    const w = await payments.startWorker({ consumer: 'p1' });
    await waitFor(
      async () =>
        (await payments.pendingCount()) === 0 && (await payments.redis.xlen(payments.keys.deadLetter)) === 1,
      {
        timeoutMs: 20_000,
      },
    );
    await w.close();

    expect(await outcomes(w)).toMatchObject({ acked: 499, dead_lettered: 1 });
    const dlq = await payments.redis.xrange(payments.keys.deadLetter, '-', '+');
    const fields = dlq[0]?.[1] ?? [];
    expect(dlqField(fields, 'dlq.reason')).toBe('unsupported_currency');
    expect(dlqField(fields, 'dlq.event_id')).toBe(bad.id);
    const good = events.filter((e) => e !== bad);
    const diff = diffState(expectedState(good), await readState(payments.db, 'poi'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
  });

  it('an event Postgres refuses (a NUL character jsonb cannot store) is isolated by the sink; the other 499 commit', async () => {
    const events: Envelope<unknown>[] = [];
    for (let i = 0; i < 500; i++)
      events.push({
        id: `log-${i}`,
        type: 'thing.happened',
        v: 1,
        key: `k${i % 7}`,
        ts: new Date(Date.UTC(2026, 10, 21, 12, 0, 0, i)).toISOString(),
        data: { n: i, note: i === 321 ? 'nul \u0000 inside' : 'fine' },
      });
    await eventLog.publish(events);
    const w = await eventLog.startWorker({ consumer: 'l1' });
    await waitFor(
      async () =>
        (await eventLog.pendingCount()) === 0 && (await eventLog.redis.xlen(eventLog.keys.deadLetter)) === 1,
      {
        timeoutMs: 20_000,
      },
    );
    await w.close();

    expect(await outcomes(w)).toMatchObject({ acked: 499, dead_lettered: 1 });
    const dlq = await eventLog.redis.xrange(eventLog.keys.deadLetter, '-', '+');
    const fields = dlq[0]?.[1] ?? [];
    expect(dlqField(fields, 'dlq.reason')).toBe('data_error');
    expect(dlqField(fields, 'dlq.event_id')).toBe('log-321');
    const { rows } = await eventLog.db.query('SELECT count(*)::int AS n FROM event_log');
    expect(rows[0].n).toBe(499);
    const batchSizes = await w.metrics.batchSize.get();
    const count = batchSizes.values.find((v) => v.metricName === 'streamsink_batch_size_count')?.value;
    expect(count).toBe(1); // all 500 went to the sink as one batch
  });
});
