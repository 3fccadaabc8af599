import { type TrimResult, trimStreamKey } from '../admin/stream-trim.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import type { RetentionMetrics } from '../lib/retention-metrics.ts';

/**
 * The worker's periodic safe trim (STREAMSINK_TRIM_INTERVAL_MS): the same step as `streamsink stream trim`,
 * per stream key, so a partitioned stream runs one trimmer per partition key. Every worker that has it on may
 * run it: each step is one atomic script, so concurrent trims only repeat each other's no-op.
 */
export interface StreamTrimmerOptions {
  redis: Redis;
  /** The Redis key to trim (a stream, or one partition of it). */
  key: string;
  /** The `stream` label of the metrics. */
  stream: string;
  keepMs: number;
  intervalMs: number;
  metrics?: RetentionMetrics;
  logger: Logger;
}

export interface StreamTrimmer {
  /** One trim now (also what the timer runs). Errors are logged and rethrown. */
  runOnce(): Promise<TrimResult>;
  /** Stop the timer and wait for a running trim. Safe to call twice. */
  close(): Promise<void>;
}

export function startStreamTrimmer(options: StreamTrimmerOptions): StreamTrimmer {
  const { redis, key, stream, keepMs, metrics, logger } = options;
  const abort = new AbortController();
  let running: Promise<unknown> = Promise.resolve();
  metrics?.keep.set({ stream }, keepMs / 1000);
  metrics?.trimmed.inc({ stream }, 0);

  const runOnce = async (): Promise<TrimResult> => {
    try {
      const result = await trimStreamKey(redis, key, { keepMs, signal: abort.signal });
      if (metrics) {
        metrics.trimmed.inc({ stream }, result.removed);
        metrics.trimmedAt.set({ stream }, Date.now() / 1000);
        // Only the groups that exist now: a destroyed group must stop holding the alert.
        metrics.floorAge.reset();
        if (result.status === 'ok')
          for (const g of result.groups)
            metrics.floorAge.set({ stream, group: g.group }, g.neededAgeMs / 1000);
      }
      if (result.removed > 0) logger.info({ stream, removed: result.removed }, 'trimmed stream');
      if (result.status === 'ok' && result.pinnedBy !== undefined)
        logger.debug(
          { stream, group: result.pinnedBy },
          'trim held back by a group that has not acknowledged',
        );
      return result;
    } catch (error) {
      logger.warn({ stream, err: describeError(error) }, 'stream trim failed; retrying at the next interval');
      throw error;
    }
  };

  let busy = false;
  const timer = setInterval(() => {
    if (busy) return; // a long trim is still going: skip this tick rather than overlap
    busy = true;
    running = runOnce()
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, options.intervalMs);
  timer.unref();

  let closing: Promise<void> | undefined;
  return {
    runOnce,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        abort.abort();
        await running;
      })();
      return closing;
    },
  };
}
