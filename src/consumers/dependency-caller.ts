import { performance } from 'node:perf_hooks';
import { BrokenCircuitError, type BulkheadPolicy, bulkhead } from 'cockatiel';
import type { BreakerSettings } from '../lib/config.ts';
import { DependencyUnavailableError, isPoisonError } from '../lib/errors.ts';
import type { CallResult, LoadMetrics } from '../lib/load-metrics.ts';
import type { Logger } from '../lib/logger.ts';
import { backoffDelay } from './backoff.ts';
import { type Breaker, createBreaker } from './circuit-breaker.ts';
import { sleep as abortableSleep } from './wakeup.ts';

/**
 * `ctx.call(dependency, fn, { timeoutMs, retries })` for a pipeline's `enrich` stage: each dependency (a name
 * the pipeline picks, e.g. `fraud`) gets a bulkhead (at most `maxConcurrent` calls at once, the rest wait)
 * and a circuit breaker (circuit-breaker.ts). Each attempt runs under a timeout that aborts `fn`'s signal;
 * failures are retried `retries` times with full-jitter backoff (backoff.ts).
 *
 *   fn throws PermanentDependencyError (or any poison)  -> rethrown at once: the event is dead-lettered
 *   timeout / any other error                             -> retried; after the last, DependencyUnavailableError
 *   circuit open                                          -> DependencyUnavailableError at once
 *
 * DependencyUnavailableError is transient: the batch waits and retries, reading pauses, nothing is
 * dead-lettered for it.
 */
export interface CallOptions {
  /** Abort an attempt after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Further attempts after the first (default 2). */
  retries?: number;
}

/** Per-dependency settings a pipeline may declare (`definePipeline({ dependencies })`). */
export interface DependencySettings {
  /** Calls in flight at once (the bulkhead); more wait their turn. Default 16. */
  maxConcurrent?: number;
  /** Overrides of the worker's breaker settings (STREAMSINK_BREAKER_*). */
  breaker?: Partial<BreakerSettings>;
}

export interface DependencyCaller {
  call<T>(dependency: string, fn: (signal: AbortSignal) => Promise<T>, options?: CallOptions): Promise<T>;
  /** The breaker of a dependency, once it was called. */
  breaker(dependency: string): Breaker | undefined;
}

export interface DependencyCallerOptions {
  breaker: BreakerSettings;
  dependencies?: Readonly<Record<string, DependencySettings>>;
  backoff: { baseMs: number; maxMs: number };
  random: () => number;
  metrics?: Pick<
    LoadMetrics,
    'circuitState' | 'circuitTransitions' | 'dependencyCalls' | 'dependencyCallDuration'
  >;
  labels: { stream: string; group: string };
  logger?: Pick<Logger, 'warn' | 'info'>;
  /** Waits between attempts; the real timer by default. */
  sleep?: (ms: number) => Promise<void>;
}

/** What a timed-out attempt rejects with (and aborts `fn`'s signal with). */
export class DependencyTimeoutError extends Error {
  constructor(dependency: string, ms: number) {
    super(`${dependency}: no answer within ${ms} ms`);
    this.name = 'DependencyTimeoutError';
  }
}

interface Guard {
  breaker: Breaker;
  bulkhead: BulkheadPolicy;
}

export function createDependencyCaller(options: DependencyCallerOptions): DependencyCaller {
  const { metrics, labels } = options;
  const sleep = options.sleep ?? ((ms: number) => abortableSleep(ms, new AbortController().signal));
  const guards = new Map<string, Guard>();

  function guard(dependency: string): Guard {
    let g = guards.get(dependency);
    if (!g) {
      const declared = options.dependencies?.[dependency];
      g = {
        breaker: createBreaker({
          dependency,
          settings: { ...options.breaker, ...declared?.breaker },
          isFailure: (error) => !isPoisonError(error),
          labels,
          ...(metrics ? { metrics } : {}),
          ...(options.logger ? { logger: options.logger } : {}),
        }),
        bulkhead: bulkhead(declared?.maxConcurrent ?? 16, Number.MAX_SAFE_INTEGER),
      };
      for (const result of ['ok', 'failed', 'timeout', 'refused', 'rejected'] satisfies CallResult[])
        metrics?.dependencyCalls.inc({ ...labels, dependency, result }, 0);
      guards.set(dependency, g);
    }
    return g;
  }

  return {
    breaker: (dependency) => guards.get(dependency)?.breaker,
    async call(dependency, fn, callOptions = {}) {
      const timeoutMs = callOptions.timeoutMs ?? 5000;
      const retries = callOptions.retries ?? 2;
      const g = guard(dependency);
      const observe = (result: CallResult, startedAt: number) => {
        metrics?.dependencyCalls.inc({ ...labels, dependency, result });
        if (result !== 'rejected')
          metrics?.dependencyCallDuration.observe(
            { ...labels, dependency },
            (performance.now() - startedAt) / 1000,
          );
      };
      for (let attempt = 0; ; attempt++) {
        const startedAt = performance.now();
        try {
          const value = await g.bulkhead.execute(() =>
            g.breaker.execute(() => withTimeout(dependency, fn, timeoutMs)),
          );
          observe('ok', startedAt);
          return value;
        } catch (error) {
          if (error instanceof BrokenCircuitError) {
            observe('rejected', startedAt);
            throw new DependencyUnavailableError(dependency, `${dependency}: circuit open`, {
              cause:
                g.breaker.lastFailure && 'error' in g.breaker.lastFailure
                  ? g.breaker.lastFailure.error
                  : error,
            });
          }
          if (isPoisonError(error)) {
            observe('refused', startedAt);
            throw error;
          }
          observe(error instanceof DependencyTimeoutError ? 'timeout' : 'failed', startedAt);
          if (attempt >= retries)
            throw new DependencyUnavailableError(
              dependency,
              `${dependency}: failed after ${attempt + 1} attempts: ${error instanceof Error ? error.message : String(error)}`,
              { cause: error },
            );
          await sleep(backoffDelay(attempt, { ...options.backoff, random: options.random }));
        }
      }
    },
  };
}

/** Run `fn` with a signal that aborts after `ms`; reject at that moment even if `fn` ignores its signal. */
async function withTimeout<T>(
  dependency: string,
  fn: (signal: AbortSignal) => Promise<T>,
  ms: number,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new DependencyTimeoutError(dependency, ms);
      controller.abort(error);
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([fn(controller.signal), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
