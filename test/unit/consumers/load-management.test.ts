import { CircuitState } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createConcurrencyLimiter } from '../../../src/consumers/concurrency-limiter.ts';
import { definePipeline } from '../../../src/consumers/define-pipeline.ts';
import { createDependencyCaller } from '../../../src/consumers/dependency-caller.ts';
import { toRuntimePipeline } from '../../../src/consumers/pipeline-adapter.ts';
import type { AcceptedItem, BatchSink, SinkResult } from '../../../src/consumers/types.ts';
import { parseConfig } from '../../../src/lib/config.ts';
import {
  DependencyUnavailableError,
  PermanentDependencyError,
  TransientError,
} from '../../../src/lib/errors.ts';
import { createRegistry, createWorkerMetrics } from '../../../src/lib/metrics.ts';
import { isPostgresUnreachable } from '../../../src/lib/pg-errors.ts';

const labels = { stream: 's', group: 'g' };
const empty = (): SinkResult => ({ applied: [], duplicates: [], poison: [], failed: [] });
const items = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    entry: { id: `${i + 1}-0`, fields: [], deliveryCount: 1 },
    envelope: { id: `e${i}`, type: 't', v: 1, key: 'k', ts: '2026-12-01T00:00:00.000Z', data: {} },
  })) as AcceptedItem[];

describe('concurrency limiter (sink middleware, clock injected)', () => {
  function setup(mode: 'adaptive' | 'fixed') {
    let clock = 0;
    const registry = createRegistry({ defaultMetrics: false });
    const metrics = createWorkerMetrics(registry);
    const limiter = createConcurrencyLimiter({
      algorithm: { mode, initialLimit: 8, minLimit: 1, maxLimit: 8, minWindowMs: 100, minSamples: 2 },
      minSampleRows: 10,
      labels,
      metrics,
      now: () => clock,
    });
    const changes: number[] = [];
    limiter.onChange((l) => changes.push(l));
    let behaviour: () => Promise<SinkResult> = async () => empty();
    const sink: BatchSink = {
      write: async () => behaviour(),
    };
    return {
      limiter,
      metrics,
      changes,
      write: (n: number, ms: number, fail?: unknown) => {
        behaviour = async () => {
          clock += ms;
          if (fail) throw fail;
          return empty();
        };
        return limiter.wrap(sink).write(items(n));
      },
    };
  }

  it('each drop (statement timeout, too many connections, pool timeout) cuts the limit and is counted', async () => {
    const { limiter, metrics, changes, write } = setup('adaptive');
    const drop = new TransientError('postgres: canceled', {
      cause: Object.assign(new Error('x'), { code: '57014' }),
    });
    await expect(write(10, 5, drop)).rejects.toBe(drop);
    expect(limiter.limit).toBe(7);
    await expect(write(10, 5, new TransientError('x', { cause: { code: '53300' } }))).rejects.toThrow();
    await expect(write(10, 5, new Error('timeout exceeded when trying to connect'))).rejects.toThrow();
    expect(limiter.limit).toBe(5); // 8 * 0.9^3 = 5.8
    expect(changes).toEqual([7, 6, 5]);
    expect((await metrics.concurrencyDrops.get()).values[0]?.value).toBe(3);
    expect((await metrics.concurrencyLimit.get()).values[0]?.value).toBe(5);
    // A deadlock is retried but is no sign of overload.
    await expect(write(10, 5, new TransientError('x', { cause: { code: '40P01' } }))).rejects.toThrow();
    expect(limiter.limit).toBe(5);
    expect(limiter.inFlight).toBe(0);
  });

  it('slow full batches lower the limit; small batches are not timed', async () => {
    const { limiter, write } = setup('adaptive');
    // Long enough to warm the long RTT average up (10 windows of 100 ms).
    for (let i = 0; i < 200; i++) await write(10, 10, undefined);
    expect(limiter.limit).toBe(8);
    // Eight at once (in flight is counted per write; alone they would be app-limited and ignored anyway).
    const eightAtOnce = async (rows: number, ms: number) => {
      for (let round = 0; round < 10; round++)
        await Promise.all(Array.from({ length: 8 }, () => write(rows, ms, undefined)));
    };
    // Small batches, however slow, say nothing about the limit.
    await eightAtOnce(3, 1000);
    expect(limiter.limit).toBe(8);
    await eightAtOnce(10, 60);
    expect(limiter.limit).toBeLessThan(8);
  });
  it('fixed mode stays at STREAMSINK_CONCURRENCY whatever happens', async () => {
    const { limiter, write } = setup('fixed');
    for (let i = 0; i < 5; i++) await expect(write(10, 5, { code: '57014' })).rejects.toBeDefined();
    expect(limiter.limit).toBe(8);
  });
});

describe('ctx.call: timeouts, retries, refusals, breaker', () => {
  const caller = (overrides: { minCalls?: number } = {}) => {
    const registry = createRegistry({ defaultMetrics: false });
    const metrics = createWorkerMetrics(registry);
    const sleeps: number[] = [];
    const c = createDependencyCaller({
      breaker: {
        failureRate: 0.5,
        windowMs: 10_000,
        minCalls: overrides.minCalls ?? 100,
        halfOpenAfterMs: 60_000,
      },
      backoff: { baseMs: 100, maxMs: 1000 },
      random: () => 0.5,
      labels,
      metrics,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    const calls = async (dependency: string, result: string) =>
      (await metrics.dependencyCalls.get()).values.find(
        (v) => v.labels.dependency === dependency && v.labels.result === result,
      )?.value ?? 0;
    return { c, sleeps, calls, metrics };
  };

  it('retries failures with jittered backoff and returns the first success', async () => {
    const { c, sleeps, calls } = caller();
    let n = 0;
    const value = await c.call(
      'fx',
      async () => {
        if (n++ < 2) throw new Error('503');
        return 42;
      },
      { retries: 3 },
    );
    expect(value).toBe(42);
    expect(sleeps).toEqual([50, 100]); // full jitter at 0.5 of 100, 200
    expect(await calls('fx', 'failed')).toBe(2);
    expect(await calls('fx', 'ok')).toBe(1);
  });

  it('aborts an attempt that hangs past timeoutMs (its signal fires) and retries it', async () => {
    const { c, calls } = caller();
    const aborted: unknown[] = [];
    let n = 0;
    const value = await c.call(
      'fx',
      (signal) => {
        if (n++ === 0)
          return new Promise<never>(() => {
            signal.addEventListener('abort', () => aborted.push(signal.reason));
          });
        return Promise.resolve('late but fine');
      },
      { timeoutMs: 20, retries: 1 },
    );
    expect(value).toBe('late but fine');
    expect(aborted).toHaveLength(1);
    expect(await calls('fx', 'timeout')).toBe(1);
  });

  it('gives up after the bounded retries with a transient DependencyUnavailableError', async () => {
    const { c } = caller();
    let n = 0;
    const error = await c
      .call(
        'fx',
        async () => {
          n++;
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        },
        { retries: 2 },
      )
      .catch((e: unknown) => e);
    expect(n).toBe(3);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as DependencyUnavailableError).retryable).toBe(true);
    // Another service's refused connection is not Postgres being unreachable.
    expect(isPostgresUnreachable(error)).toBe(false);
  });

  it('does not retry a permanent refusal, and it does not count against the breaker', async () => {
    const { c, calls } = caller({ minCalls: 1 });
    let n = 0;
    for (let i = 0; i < 5; i++)
      await expect(
        c.call('kyc', async () => {
          n++;
          throw new PermanentDependencyError('422');
        }),
      ).rejects.toBeInstanceOf(PermanentDependencyError);
    expect(n).toBe(5);
    expect(await calls('kyc', 'refused')).toBe(5);
    expect(c.breaker('kyc')?.state).toBe(CircuitState.Closed);
  });

  it('opens the circuit after the failure rate; then calls fail fast without reaching the service', async () => {
    const { c, calls, metrics } = caller({ minCalls: 4 });
    let n = 0;
    const failing = async () => {
      n++;
      throw new Error('503');
    };
    for (let i = 0; i < 4; i++) await c.call('fx', failing, { retries: 0 }).catch(() => undefined);
    expect(c.breaker('fx')?.state).toBe(CircuitState.Open);
    const reached = n;
    const error = await c.call('fx', failing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect(n).toBe(reached);
    expect(await calls('fx', 'rejected')).toBe(1);
    const state = (await metrics.circuitState.get()).values.find((v) => v.labels.dependency === 'fx');
    expect(state?.value).toBe(2);
  });
});

describe('the runtime enrich of a defined pipeline', () => {
  const enriching = (enrich: (events: ReadonlyArray<{ id: string }>) => Promise<ReadonlyArray<unknown>>) =>
    toRuntimePipeline(
      definePipeline({
        name: 'orders',
        events: [{ type: 't', v: 1, schema: z.object({}) }],
        enrich: (events) => enrich(events),
        async apply() {},
      }),
    );
  const ctx = { stream: 's', group: 'g', call: (async () => undefined) as never };

  it('maps values and refusals slot by slot', async () => {
    const p = enriching(async (events) =>
      events.map((e) => (e.id === 'e1' ? new PermanentDependencyError('no') : { id: e.id })),
    );
    const out = await p.enrich?.(items(3), ctx);
    expect(out?.map((o) => (o.ok ? o.value : o.error.reason))).toEqual([
      { id: 'e0' },
      'dependency_refused',
      { id: 'e2' },
    ]);
  });

  it('narrows a refusal thrown for the whole batch down to the events refused alone', async () => {
    let calls = 0;
    const p = enriching(async (events) => {
      calls++;
      if (events.some((e) => e.id === 'e2')) throw new PermanentDependencyError('no');
      return events.map((e) => e.id);
    });
    const out = await p.enrich?.(items(4), ctx);
    expect(out?.map((o) => (o.ok ? o.value : 'refused'))).toEqual(['e0', 'e1', 'refused', 'e3']);
    expect(calls).toBe(5);
  });

  it('throws an outage as it is, and a result of the wrong length as a bug', async () => {
    const outage = new DependencyUnavailableError('fx', 'down');
    await expect(enriching(async () => Promise.reject(outage)).enrich?.(items(2), ctx)).rejects.toBe(outage);
    await expect(enriching(async () => [1]).enrich?.(items(2), ctx)).rejects.toThrow(/one value per event/);
  });

  it('definePipeline checks the dependencies block', () => {
    expect(() =>
      definePipeline({
        name: 'x',
        dependencies: { fx: { maxConcurrent: 0, breaker: { failureRate: 2 } } },
        async apply() {},
      }),
    ).toThrow(/dependencies\.fx\.maxConcurrent.*dependencies\.fx\.breaker\.failureRate|maxConcurrent/s);
  });
});

describe('load-management settings', () => {
  it('defaults: adaptive, 1 s windows, breaker at 50% over 10 s with 5 calls, half-open after 5 s', () => {
    const w = parseConfig({}).worker;
    expect(w.concurrencyMode).toBe('adaptive');
    expect(w.concurrencyWindowMs).toBe(1000);
    expect(w.breaker).toEqual({ failureRate: 0.5, windowMs: 10_000, minCalls: 5, halfOpenAfterMs: 5000 });
  });

  it('names every bad value in one error', () => {
    let message = '';
    try {
      parseConfig({
        STREAMSINK_CONCURRENCY_MODE: 'sometimes',
        STREAMSINK_BREAKER_FAILURE_RATE: '1.5',
        STREAMSINK_BREAKER_HALF_OPEN_MS: '0',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    for (const v of [
      'STREAMSINK_CONCURRENCY_MODE',
      'STREAMSINK_BREAKER_FAILURE_RATE',
      'STREAMSINK_BREAKER_HALF_OPEN_MS',
    ])
      expect(message).toContain(v);
  });
});
