import { performance } from 'node:perf_hooks';
import type { LoadMetrics } from '../lib/load-metrics.ts';
import type { Logger } from '../lib/logger.ts';
import {
  type AdaptiveLimitOptions,
  type AdaptiveLimitState,
  initialLimitState,
  limitOf,
  onLimitSample,
} from './limits/adaptive-limit.ts';
import { isDrop } from './limits/drops.ts';
import type { BatchSink } from './types.ts';

/**
 * The live concurrency limit of one worker: how many batch transactions it may have in flight. A sink
 * middleware (`wrap`) measures every batch write of at least `minSampleRows` (the RTT is the write's whole
 * time: a slow network or a loaded server adds to each round trip, not to each row) and classifies failures
 * as drops; the pure algorithm (limits/adaptive-limit.ts) turns the
 * samples into a limit. The worker sets its batch queue's concurrency to `limit` and reads only what that many
 * batches hold, so at the limit the backlog stays in the stream, not in the pending list.
 */
export interface ConcurrencyLimit {
  /** Batch transactions allowed in flight now: 1 .. STREAMSINK_CONCURRENCY. */
  readonly limit: number;
  /** Called whenever `limit` changes. */
  onChange(listener: (limit: number) => void): void;
}

export interface ConcurrencyLimiter extends ConcurrencyLimit {
  /** Batch writes in flight now. */
  readonly inFlight: number;
  /** The sink middleware that feeds the limit. */
  wrap(sink: BatchSink): BatchSink;
}

export interface ConcurrencyLimiterOptions {
  algorithm: AdaptiveLimitOptions;
  /** Writes of fewer rows give no RTT sample (drops always count). Default 1. */
  minSampleRows?: number;
  metrics?: Pick<LoadMetrics, 'concurrencyLimit' | 'batchesInFlight' | 'concurrencyDrops'>;
  labels: { stream: string; group: string };
  logger?: Pick<Logger, 'info'>;
  /** Milliseconds, sub-millisecond precision; performance.now by default. */
  now?: () => number;
}

export function createConcurrencyLimiter(options: ConcurrencyLimiterOptions): ConcurrencyLimiter {
  const { algorithm, metrics, labels, logger } = options;
  const now = options.now ?? (() => performance.now());
  const minSampleRows = options.minSampleRows ?? 1;
  let state: AdaptiveLimitState = initialLimitState(algorithm, now());
  let limit = limitOf(state, algorithm);
  let inFlight = 0;
  const listeners: Array<(limit: number) => void> = [];
  metrics?.concurrencyLimit.set(labels, limit);
  metrics?.batchesInFlight.set(labels, 0);
  metrics?.concurrencyDrops.inc(labels, 0);

  function sample(rtt: number, sampledInFlight: number, dropped: boolean): void {
    state = onLimitSample(state, { at: now(), rtt, inFlight: sampledInFlight, dropped }, algorithm);
    const next = limitOf(state, algorithm);
    if (next === limit) return;
    logger?.info(
      { from: limit, to: next, dropped, rttMs: Number(rtt.toFixed(2)) },
      'concurrency limit changed',
    );
    limit = next;
    metrics?.concurrencyLimit.set(labels, limit);
    for (const listener of listeners) listener(limit);
  }

  return {
    get limit() {
      return limit;
    },
    get inFlight() {
      return inFlight;
    },
    onChange(listener) {
      listeners.push(listener);
    },
    wrap(sink) {
      return {
        async write(items) {
          inFlight += 1;
          metrics?.batchesInFlight.set(labels, inFlight);
          const sampledInFlight = inFlight;
          const startedAt = now();
          try {
            const result = await sink.write(items);
            // Never 0: the algorithm divides by it.
            if (items.length >= minSampleRows)
              sample(Math.max(1e-6, now() - startedAt), sampledInFlight, false);
            return result;
          } catch (error) {
            if (isDrop(error)) {
              metrics?.concurrencyDrops.inc(labels);
              sample(0, sampledInFlight, true);
            }
            throw error;
          } finally {
            inFlight -= 1;
            metrics?.batchesInFlight.set(labels, inFlight);
          }
        },
      };
    },
  };
}
