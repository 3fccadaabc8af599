import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DataLossVerdict } from '../../src/consumers/data-loss.ts';
import { startMetricsSampler } from '../../src/consumers/metrics-sampler.ts';
import type { StatsRedis } from '../../src/consumers/stream-stats.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createRegistry, createWorkerMetrics } from '../../src/lib/metrics.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';

const keys = streamKeys('ss', 'payments');
const logger = createLogger({ level: 'silent', redactPaths: [] });

/** A pipeline stub whose exec() is answered by `answer` (e.g. never, to mimic ioredis' offline queue). */
function fakeRedis(answer: () => Promise<Array<[Error | null, unknown]>>): StatsRedis & { execs: number } {
  const fake = {
    execs: 0,
    pipeline() {
      const chain = {
        xinfo: () => chain,
        xpending: () => chain,
        xlen: () => chain,
        exec: () => {
          fake.execs += 1;
          return answer();
        },
      };
      return chain;
    },
  };
  return fake as unknown as StatsRedis & { execs: number };
}

async function value(registry: ReturnType<typeof createRegistry>, name: string): Promise<number | undefined> {
  const m = registry.getSingleMetric(name);
  return m ? (await m.get()).values[0]?.value : undefined;
}

describe('metrics sampler', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sets the gauges from one pipelined read', async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const redis = fakeRedis(async () => [
      [
        null,
        [
          [
            'name',
            'g',
            'consumers',
            1,
            'pending',
            2,
            'last-delivered-id',
            '5-0',
            'entries-read',
            5,
            'lag',
            7,
          ],
        ],
      ],
      [null, [2, '1000-0', '2000-0', [['c1', '2']]]],
      [null, 12],
      [null, 3],
    ]);
    const sampler = startMetricsSampler({
      redis,
      keys,
      group: 'g',
      metrics: createWorkerMetrics(registry),
      intervalMs: 60_000,
      logger,
      now: () => 61_000,
    });
    expect(await sampler.sampleNow()).toBe(true);
    expect(await value(registry, 'streamsink_consumer_lag_messages')).toBe(7);
    expect(await value(registry, 'streamsink_pending_messages')).toBe(2);
    expect(await value(registry, 'streamsink_oldest_pending_age_seconds')).toBe(60);
    expect(await value(registry, 'streamsink_stream_length_messages')).toBe(12);
    expect(await value(registry, 'streamsink_dead_letter_messages')).toBe(3);
    await sampler.close();
  });

  it('counts a sample stuck on a dead connection once per missed tick and never queues another', async () => {
    vi.useFakeTimers();
    const registry = createRegistry({ defaultMetrics: false });
    const redis = fakeRedis(() => new Promise(() => {}));
    const sampler = startMetricsSampler({
      redis,
      keys,
      group: 'g',
      metrics: createWorkerMetrics(registry),
      intervalMs: 1000,
      logger,
    });
    await vi.advanceTimersByTimeAsync(5500);
    expect(redis.execs).toBe(1);
    expect(await value(registry, 'streamsink_redis_errors_total')).toBe(5);
    const closing = sampler.close();
    await vi.advanceTimersByTimeAsync(1000);
    await closing;
  });

  it('counts a failed sample and keeps the last values', async () => {
    const registry = createRegistry({ defaultMetrics: false });
    let fail = false;
    const redis = fakeRedis(async () =>
      fail
        ? Promise.reject(new Error('Connection is closed.'))
        : [
            [null, []],
            [null, [0, null, null, null]],
            [null, 4],
            [null, 0],
          ],
    );
    const sampler = startMetricsSampler({
      redis,
      keys,
      group: 'g',
      metrics: createWorkerMetrics(registry),
      intervalMs: 60_000,
      logger,
    });
    expect(await sampler.sampleNow()).toBe(true);
    fail = true;
    expect(await sampler.sampleNow()).toBe(false);
    expect(await value(registry, 'streamsink_redis_errors_total')).toBe(1);
    expect(await value(registry, 'streamsink_stream_length_messages')).toBe(4);
    await sampler.close();
  });

  it('exports the data-loss verdict as a gauge and keeps it when the check fails', async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const redis = fakeRedis(async () => [
      [null, []],
      [null, [0, null, null, null]],
      [null, 0],
      [null, 0],
    ]);
    let answer: () => Promise<DataLossVerdict> = async () => ({ suspected: false, signs: [], details: [] });
    const sampler = startMetricsSampler({
      redis,
      keys,
      group: 'g',
      metrics: createWorkerMetrics(registry),
      intervalMs: 60_000,
      logger,
      checkDataLoss: () => answer(),
    });
    const gauge = () => value(registry, 'streamsink_stream_data_loss_suspected');
    await sampler.sampleNow();
    expect(await gauge()).toBe(0);
    answer = async () => ({ suspected: true, signs: ['last_id_behind'], details: ['behind'] });
    await sampler.sampleNow();
    expect(await gauge()).toBe(1);
    // Postgres unreachable: the warning must not be cleared by a check that could not run.
    answer = () => Promise.reject(new Error('connect ECONNREFUSED'));
    expect(await sampler.sampleNow()).toBe(true);
    expect(await gauge()).toBe(1);
    await sampler.close();
  });

  it('a data-loss check stuck on Postgres does not hold up the Redis gauges', async () => {
    vi.useFakeTimers();
    const registry = createRegistry({ defaultMetrics: false });
    const redis = fakeRedis(async () => [
      [null, []],
      [null, [0, null, null, null]],
      [null, 0],
      [null, 0],
    ]);
    let checks = 0;
    const sampler = startMetricsSampler({
      redis,
      keys,
      group: 'g',
      metrics: createWorkerMetrics(registry),
      intervalMs: 1000,
      logger,
      checkDataLoss: () => {
        checks += 1;
        return new Promise(() => {});
      },
    });
    await vi.advanceTimersByTimeAsync(5500);
    expect(redis.execs).toBe(6); // the first sample and one per tick
    expect(checks).toBe(1); // never a second one queued behind the stuck one
    expect(await value(registry, 'streamsink_redis_errors_total')).toBeUndefined();
    const closing = sampler.close();
    await vi.advanceTimersByTimeAsync(1000);
    await closing;
  });
});
