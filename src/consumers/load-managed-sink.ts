import type { WorkerConfig } from '../lib/config.ts';
import type { Logger } from '../lib/logger.ts';
import type { WorkerMetrics } from '../lib/metrics.ts';
import type { Pool } from '../lib/pg.ts';
import { breakerSink } from './breaker-sink.ts';
import { createBreaker } from './circuit-breaker.ts';
import { type ConcurrencyLimiter, createConcurrencyLimiter } from './concurrency-limiter.ts';
import { createDependencyCaller, type DependencyCaller } from './dependency-caller.ts';
import { enrichStep } from './enrich-step.ts';
import { isPostgresOutage } from './limits/drops.ts';
import type { BatchSink, Pipeline } from './types.ts';

/**
 * Load management around the Postgres sink (docs/load-management.md), outermost first:
 *
 *   enrich (the pipeline's calls to other services, before any transaction; only with `enrich`)
 *   -> Postgres circuit breaker (open: batches fail fast as transient and wait)
 *   -> concurrency limiter (measures each real write; the worker runs at most `limit` of them)
 *   -> the Postgres sink
 *
 * The limiter sits inside the breaker so it learns only from writes that reached Postgres: fast failures of
 * an open circuit would otherwise cut the limit to 1 during every outage.
 */
export interface LoadManagedSinkOptions {
  config: Pick<
    WorkerConfig,
    | 'concurrency'
    | 'concurrencyMode'
    | 'concurrencyWindowMs'
    | 'batchSize'
    | 'breaker'
    | 'backoffBaseMs'
    | 'backoffMaxMs'
  >;
  pipeline: Pipeline;
  pool: Pool;
  stream: string;
  group: string;
  logger: Logger;
  metrics?: WorkerMetrics;
  random?: () => number;
}

export interface LoadManagedSink {
  sink: BatchSink;
  limiter: ConcurrencyLimiter;
  /** The enrich stage's caller, when the pipeline enriches. */
  caller: DependencyCaller | undefined;
}

/** Netflix's WindowedLimit: an update needs at least 10 samples (and STREAMSINK_CONCURRENCY_WINDOW_MS). */
export const LIMIT_WINDOW_SAMPLES = 10;

export function loadManagedSink(sink: BatchSink, options: LoadManagedSinkOptions): LoadManagedSink {
  const { config, pipeline, metrics, logger } = options;
  const labels = { stream: options.stream, group: options.group };
  const limiter = createConcurrencyLimiter({
    algorithm: {
      mode: config.concurrencyMode,
      initialLimit: config.concurrency,
      minLimit: 1,
      maxLimit: config.concurrency,
      minWindowMs: config.concurrencyWindowMs,
      minSamples: LIMIT_WINDOW_SAMPLES,
    },
    // Only batches at least half full are timed: what a batch costs grows with its rows, and the limit only
    // matters under a backlog, when batches are full. Smaller ones (a quiet stream) would pull the average
    // down and make the next full batches look like an overload.
    minSampleRows: Math.max(1, Math.ceil(config.batchSize / 2)),
    labels,
    logger,
    ...(metrics ? { metrics } : {}),
  });
  const postgres = createBreaker({
    dependency: 'postgres',
    settings: config.breaker,
    isFailure: isPostgresOutage,
    labels,
    logger,
    ...(metrics ? { metrics } : {}),
  });
  let guarded = breakerSink(limiter.wrap(sink), postgres);
  let caller: DependencyCaller | undefined;
  if (pipeline.enrich) {
    caller = createDependencyCaller({
      breaker: config.breaker,
      ...(pipeline.dependencies ? { dependencies: pipeline.dependencies } : {}),
      backoff: { baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs },
      random: options.random ?? Math.random,
      labels,
      logger,
      ...(metrics ? { metrics } : {}),
    });
    guarded = enrichStep(guarded, {
      pipeline,
      caller,
      db: options.pool,
      stream: options.stream,
      group: options.group,
      logger,
    });
  }
  return { sink: guarded, limiter, caller };
}
