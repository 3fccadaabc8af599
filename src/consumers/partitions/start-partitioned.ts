import { randomUUID } from 'node:crypto';
import type { WorkerConfig } from '../../lib/config.ts';
import { describeError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { WorkerMetrics } from '../../lib/metrics.ts';
import type { Pool } from '../../lib/pg.ts';
import type { RedisClient as Redis } from '../../lib/redis/client.ts';
import type { PartitionKeys } from '../../lib/redis/keys.ts';
import { createDeadLetterer } from '../dead-letter.ts';
import { createPgSink } from '../pg-sink.ts';
import { suspectThreshold } from '../quarantine.ts';
import { createStreamClient } from '../stream-client.ts';
import type { BatchSink, DeadLetterer, Pipeline } from '../types.ts';
import { createWorker, type Worker, type WorkerHealth } from '../worker.ts';
import type { DoorbellListener } from './doorbells.ts';
import { checkEpoch } from './fencing.ts';
import { createLaneBatch, type LaneBatchResult } from './lane-batch.ts';
import type { PartitionMetrics } from './metrics.ts';
import { createOrderedConsumer } from './ordered-consumer.ts';
import { startPartitionRunner } from './partition-runner.ts';

/**
 * A worker on a partitioned stream (the hook in start-worker.ts). Unordered: one ordinary worker per
 * partition (read loop, batches, reclaimer, dead letters to the partition's own dead-letter stream), sharing
 * the connections and splitting the in-flight budget; each partition is its own XREADGROUP, so it runs
 * unchanged on Redis Cluster, where one read across slots is refused. Ordered (`ordering: 'key'`): partitions
 * are owned through leases and fencing (ordered-consumer.ts), worked in key lanes.
 */
export interface StartPartitionedOptions {
  ordering: 'key' | 'none';
  redis: Redis;
  blockingRedis: Redis;
  pool: Pool;
  prefix: string;
  stream: string;
  partitions: readonly PartitionKeys[];
  pipeline: Pipeline;
  config: WorkerConfig;
  logger: Logger;
  metrics?: WorkerMetrics;
  partitionMetrics?: PartitionMetrics;
  sinkMiddleware?: (sink: BatchSink) => BatchSink;
  deadLettererMiddleware?: (deadLetterer: DeadLetterer) => DeadLetterer;
  /** The partitions' doorbells (doorbells.ts); without it (Redis Cluster) idle partitions poll. */
  doorbells?: DoorbellListener;
}

export interface PartitionedWorker {
  close(): Promise<void>;
  health(): WorkerHealth;
  /** Ordered mode: the partitions this worker owns now. */
  owned(): number[];
}

export async function startPartitioned(options: StartPartitionedOptions): Promise<PartitionedWorker> {
  return options.ordering === 'key' ? startOrdered(options) : await startUnordered(options);
}

function deadLettererFor(
  options: StartPartitionedOptions,
  keys: PartitionKeys,
  consumer: string,
): DeadLetterer {
  const real = createDeadLetterer({
    redis: options.redis,
    keys,
    group: options.config.group,
    consumer,
    pipelineName: options.pipeline.name,
    pipelineVersion: options.pipeline.version,
  });
  return options.deadLettererMiddleware ? options.deadLettererMiddleware(real) : real;
}

async function startUnordered(options: StartPartitionedOptions): Promise<PartitionedWorker> {
  const { config, partitions, doorbells } = options;
  const P = partitions.length;
  const realSink = createPgSink({
    pool: options.pool,
    pipeline: options.pipeline,
    stream: options.stream,
    group: config.group,
    logger: options.logger,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  const sink = options.sinkMiddleware ? options.sinkMiddleware(realSink) : realSink;
  // Each partition gets an equal share of the budget, at least one batch.
  const batchSize = Math.min(config.batchSize, Math.max(1, Math.floor(config.maxInFlight / P)));
  const share: WorkerConfig = {
    ...config,
    batchSize,
    maxInFlight: Math.max(batchSize, Math.floor(config.maxInFlight / P)),
    maxInFlightBytes: Math.max(config.maxPayloadBytes, Math.floor(config.maxInFlightBytes / P)),
  };
  const workers: Worker[] = partitions.map((keys) =>
    createWorker({
      redis: options.redis,
      blockingRedis: options.blockingRedis,
      // One shared reader connection for every partition: a BLPOP on it would stall the other partitions' reads.
      // Their doorbells are heard on a connection of their own instead.
      doorbell: false,
      ...(doorbells
        ? { idleWait: (ms: number, signal?: AbortSignal) => doorbells.wait(keys.partition, ms, signal) }
        : {}),
      sink,
      pipeline: options.pipeline,
      deadLetterer: deadLettererFor(options, keys, config.consumer),
      keys,
      config: share,
      logger: options.logger.child({ partition: keys.partition }),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    }),
  );
  try {
    await Promise.all(workers.map((w) => w.start()));
  } catch (error) {
    await Promise.all(workers.map((w) => w.close()));
    throw error;
  }
  return {
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
    health: () => mergeHealth(workers.map((w) => w.health())),
    owned: () => [],
  };
}

function mergeHealth(all: WorkerHealth[]): WorkerHealth {
  const oldest = all.map((h) => h.oldestTakenAt).filter((t): t is number => t !== undefined);
  return {
    loopTurnedAt: Math.min(...all.map((h) => h.loopTurnedAt)),
    sinkFailing: all.some((h) => h.sinkFailing),
    sinkUnreachable: all.some((h) => h.sinkUnreachable),
    shuttingDown: all.some((h) => h.shuttingDown),
    inFlight: all.reduce((n, h) => n + h.inFlight, 0),
    oldestTakenAt: oldest.length > 0 ? Math.min(...oldest) : undefined,
    waitingOnService: all.find((h) => h.waitingOnService !== undefined)?.waitingOnService,
  };
}

function startOrdered(options: StartPartitionedOptions): PartitionedWorker {
  const { config, logger, doorbells } = options;
  const member = `${config.consumer}-${randomUUID().slice(0, 8)}`;
  const labels = { stream: options.stream, group: config.group, pipeline: options.pipeline.name };
  const log = logger.child({ stream: options.stream, group: config.group, member });
  let shuttingDown = false;
  const coordinator = createOrderedConsumer({
    redis: options.redis,
    pool: options.pool,
    prefix: options.prefix,
    stream: options.stream,
    group: config.group,
    member,
    partitions: options.partitions,
    config,
    logger: log,
    ...(options.partitionMetrics ? { metrics: options.partitionMetrics } : {}),
    now: Date.now,
    startRunner({ keys, leaseKey, fence, limiter, maxHeld, lanes, onLost }) {
      const consumer = `partition-${keys.partition}`;
      const client = createStreamClient({
        redis: options.redis,
        stream: keys.stream,
        group: config.group,
        consumer,
        lease: { key: leaseKey, token: member },
        limits: {
          maxPayloadBytes: config.maxPayloadBytes,
          maxDeliveries: config.maxDeliveries,
          suspectThreshold: suspectThreshold(config.maxDeliveries),
          pipelineName: options.pipeline.name,
          pipelineVersion: options.pipeline.version,
          deadLetterKey: keys.deadLetter,
        },
      });
      const realSink = createPgSink({
        pool: options.pool,
        pipeline: options.pipeline,
        stream: options.stream,
        group: config.group,
        logger: log,
        fence: (tx) => checkEpoch(tx, fence),
        orderKey: (item) => item.envelope.key,
        ...(options.metrics ? { metrics: options.metrics } : {}),
      });
      const stop = new AbortController();
      const runBatch = createLaneBatch({
        client,
        sink: options.sinkMiddleware ? options.sinkMiddleware(realSink) : realSink,
        pipeline: options.pipeline,
        deadLetterer: deadLettererFor(options, keys, consumer),
        config,
        logger: log.child({ partition: keys.partition }),
        metrics: options.metrics,
        labels,
        stop: stop.signal,
        now: Date.now,
        random: Math.random,
      });
      const runner = startPartitionRunner({
        partition: keys.partition,
        client,
        runBatch: async (batch) => (await limiter.add(() => runBatch(batch))) as LaneBatchResult,
        lanes,
        batchSize: config.batchSize,
        maxHeld,
        // The same share of the byte budget as of the entry budget.
        maxHeldBytes: Math.max(
          config.maxPayloadBytes,
          Math.floor((config.maxInFlightBytes * maxHeld) / config.maxInFlight),
        ),
        startId: config.startId,
        pollMs: config.pollMs,
        ...(doorbells
          ? { idleWait: (ms: number, signal: AbortSignal) => doorbells.wait(keys.partition, ms, signal) }
          : {}),
        logger: log,
        onLost: (why) => {
          stop.abort();
          onLost(why);
        },
        random: Math.random,
      });
      void runner.done.finally(() => stop.abort());
      return runner;
    },
  });
  coordinator.start();
  log.info(
    { partitions: options.partitions.length, leaseTtlMs: config.leaseTtlMs },
    'ordered worker started',
  );
  return {
    async close() {
      shuttingDown = true;
      try {
        await coordinator.close();
      } catch (error) {
        log.warn({ err: describeError(error) }, 'closing the ordered worker failed');
      }
    },
    health: () => ({
      loopTurnedAt: coordinator.lastTickAt(),
      sinkFailing: false,
      sinkUnreachable: false,
      shuttingDown,
      inFlight: coordinator.heldEntries(),
      oldestTakenAt: undefined,
      waitingOnService: undefined,
    }),
    owned: () => coordinator.owned(),
  };
}
