import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { WorkerMetrics } from '../lib/metrics.ts';
import type { StreamKeys } from '../lib/redis/keys.ts';
import type { DataLossVerdict } from './data-loss.ts';
import { readStreamStats, type StatsRedis, toGauges } from './stream-stats.ts';

/**
 * Samples the Redis side of the group (lag, pending, oldest pending age, stream and dead-letter length) into
 * gauges every `intervalMs`. Every worker of a group reports the same group-level values, so dashboards
 * aggregate them with `max` (docs/metrics.md). A failed sample counts in
 * `streamsink_redis_errors_total{kind="stats"}` (so does a tick missed because the previous sample still
 * waits for Redis) and never throws; the gauges keep their last value and
 * `streamsink_stats_sampled_timestamp_seconds` shows how old it is.
 *
 * With `checkDataLoss`, each sample then also records the group's watermark in Postgres and compares it with
 * the stream (src/consumers/stream-watermarks.ts) into `streamsink_stream_data_loss_suspected`: a low-frequency
 * write of one row, so batches never touch a shared row themselves.
 */
export interface MetricsSamplerOptions {
  /** A non-blocking connection (not the XREADGROUP one). */
  redis: StatsRedis;
  keys: StreamKeys;
  group: string;
  metrics: Pick<
    WorkerMetrics,
    | 'consumerLag'
    | 'pending'
    | 'oldestPendingAge'
    | 'deadLetter'
    | 'streamLength'
    | 'statsSampledAt'
    | 'redisErrors'
    | 'dataLossSuspected'
  >;
  /** Record the watermark and say whether Redis lost committed entries; omitted, no check runs. */
  checkDataLoss?: () => Promise<DataLossVerdict>;
  intervalMs: number;
  logger: Logger;
  now?: () => number;
}

export interface MetricsSampler {
  /** Take one sample now (tests, and the first sample at start). Resolves true when it succeeded. */
  sampleNow(): Promise<boolean>;
  /** Stop the timer and wait for a running sample. Safe to call twice. */
  close(): Promise<void>;
}

export function startMetricsSampler(options: MetricsSamplerOptions): MetricsSampler {
  const now = options.now ?? Date.now;
  const { metrics, keys, group } = options;
  const streamLabels = { stream: keys.name };
  const groupLabels = { stream: keys.name, group };
  let running: Promise<boolean> | undefined;
  let failing = false;
  let closed = false;
  let lossCheckFailing = false;
  let lossSuspected = false;

  let lossRunning: Promise<void> | undefined;

  // On its own chain: a Postgres outage that holds the check up must not stall the Redis gauges (and make
  // them look stale), and a tick meanwhile simply skips the check, which is no error of Redis.
  const startLossCheck = (): Promise<void> => {
    const check = options.checkDataLoss;
    if (!check) return Promise.resolve();
    lossRunning ??= checkLoss(check).finally(() => {
      lossRunning = undefined;
    });
    return lossRunning;
  };

  const checkLoss = async (check: () => Promise<DataLossVerdict>): Promise<void> => {
    try {
      const verdict = await check();
      metrics.dataLossSuspected.set(groupLabels, verdict.suspected ? 1 : 0);
      if (lossCheckFailing) options.logger.info('data-loss check recovered');
      lossCheckFailing = false;
      // Loud once per change; the gauge (and its alert) carries it meanwhile.
      if (verdict.suspected && !lossSuspected)
        options.logger.error(
          { signs: verdict.signs, details: verdict.details },
          'REDIS LOST DATA: the stream is behind what streamsink committed; see docs/operations.md',
        );
      else if (!verdict.suspected && lossSuspected) options.logger.warn('data-loss signs cleared');
      lossSuspected = verdict.suspected;
    } catch (error) {
      // The gauge keeps its last value: an unreachable Postgres must not clear a warning.
      if (!lossCheckFailing)
        options.logger.warn(
          { err: describeError(error) },
          'data-loss check failed; gauge keeps its last value',
        );
      lossCheckFailing = true;
    }
  };

  const sampleStats = async (): Promise<boolean> => {
    try {
      const stats = await readStreamStats(options.redis, keys, group);
      const t = now();
      const g = toGauges(stats, t);
      metrics.consumerLag.set(groupLabels, g.lag);
      metrics.pending.set(groupLabels, g.pending);
      metrics.oldestPendingAge.set(groupLabels, g.oldestPendingAgeSeconds);
      metrics.streamLength.set(streamLabels, g.streamLength);
      metrics.deadLetter.set(streamLabels, g.deadLetter);
      metrics.statsSampledAt.set(groupLabels, t / 1000);
      if (failing) options.logger.info('stream stats sampling recovered');
      failing = false;
      return true;
    } catch (error) {
      markFailed(error);
      return false;
    }
  };

  const markFailed = (error: unknown) => {
    metrics.redisErrors.inc({ kind: 'stats' });
    // One warning per outage, not one per interval; the counter carries the rate.
    if (!failing)
      options.logger.warn({ err: error }, 'stream stats sampling failed; gauges keep last values');
    failing = true;
  };

  // At most one sample at a time: during a Redis outage a sample waits in the client's offline queue, and
  // ticks that come meanwhile share it instead of queueing one more pipeline each.
  const sampleNow = async (): Promise<boolean> => {
    running ??= sampleStats().finally(() => {
      running = undefined;
    });
    const [ok] = await Promise.all([running, startLossCheck()]);
    return ok;
  };

  const timer = setInterval(() => {
    if (closed) return;
    // With the worker's connection settings a command waits out a Redis outage in the offline queue instead
    // of failing, so a sample still running at the next tick is a missed sample: count it.
    if (running) {
      markFailed(new Error('previous sample still waiting for Redis'));
      void startLossCheck();
    } else void sampleNow();
  }, options.intervalMs);
  timer.unref();
  void sampleNow();

  return {
    sampleNow,
    async close() {
      closed = true;
      clearInterval(timer);
      // A sample stuck on a dead connection must not hold shutdown up; the connection closes after this.
      const inProgress = [running, lossRunning].filter((p) => p !== undefined);
      if (inProgress.length > 0)
        await Promise.race([Promise.all(inProgress), new Promise((r) => setTimeout(r, 1000).unref())]);
    },
  };
}
