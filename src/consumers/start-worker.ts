import os from 'node:os';
import pino from 'pino';
import { parseConfig, type WorkerConfig } from '../lib/config.ts';
import { describeError, StreamLayoutError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { WorkerMetrics } from '../lib/metrics.ts';
import { assertSchemaCurrent } from '../lib/migrations.ts';
import { readStreamLayout } from '../lib/partitions/stream-layout.ts';
import type { Pool } from '../lib/pg.ts';
import { duplicateClient, isCluster, type RedisClient as Redis } from '../lib/redis/client.ts';
import { disconnectRedis } from '../lib/redis/close.ts';
import { type PartitionKeys, streamKeys } from '../lib/redis/keys.ts';
import { createCommitWatermark } from './data-loss.ts';
import { createDeadLetterer } from './dead-letter.ts';
import type { AnyPipeline } from './define-pipeline.ts';
import { loadManagedSink } from './load-managed-sink.ts';
import { startMetricsSampler } from './metrics-sampler.ts';
import { createDoorbellListener } from './partitions/doorbells.ts';
import type { PartitionMetrics } from './partitions/metrics.ts';
import { type PartitionedWorker, startPartitioned } from './partitions/start-partitioned.ts';
import { createPgSink } from './pg-sink.ts';
import { toRuntimePipeline } from './pipeline-adapter.ts';
import { checkDataLoss } from './stream-watermarks.ts';
import { READER_OPTIONS } from './tripwire-read.ts';
import type { BatchSink, DeadLetterer } from './types.ts';
import { createWorker, type WorkerHealth } from './worker.ts';

/**
 * The one composition of a worker: the CLI (`streamsink worker`), the test harness, the fixtures and users who
 * embed a worker in their own process all start one here. It takes clients the caller owns (and closes), and
 * builds everything else: the runtime pipeline, the Postgres sink, the dead-letterer, the worker with its
 * blocking reader (a duplicate of `redis`), and, with metrics, the Redis-side sampler and the data-loss
 * watermark.
 */
export interface WorkerSettings
  extends Omit<
    WorkerConfig,
    'stream' | 'group' | 'consumer' | 'pipeline' | 'groupExplicit' | 'autoMigrate'
  > {}

export interface StartWorkerOptions {
  /** What `definePipeline` returned (or a built-in). */
  pipeline: AnyPipeline;
  /** Logical stream name. */
  stream: string;
  /** Commands, acknowledgements and scripts; the blocking reader is `redis.duplicate()`. Yours to close. */
  redis: Redis;
  /** The worker's Postgres pool. Yours to close. */
  pool: Pool;
  /** Default: the pipeline's group (its name, unless it says otherwise). */
  group?: string;
  /** Default: the hostname (the pod name in Kubernetes). */
  consumer?: string;
  /** Prefix of every Redis key. Default `streamsink`. */
  keyPrefix?: string;
  /** Override defaults (the README's configuration table: maxInFlight, batchSize, concurrency, ...). */
  settings?: Partial<WorkerSettings>;
  /** A pino logger; default: silent. */
  logger?: Logger;
  /** Worker metrics on your registry (`createWorkerMetrics(registry)`); with them the Redis gauges are sampled. */
  metrics?: WorkerMetrics;
  /** How often the Redis-side gauges are sampled (with `metrics`). Default 5000 ms. */
  sampleIntervalMs?: number;
  /** Refuse to start when streamsink's or the pipeline's migrations are not applied. Default true. */
  checkSchema?: boolean;
  /** Middleware around the Postgres sink (`(sink) => sink`): e.g. to time or fault-inject writes. */
  sinkMiddleware?: (sink: BatchSink) => BatchSink;
  /** Middleware around the dead-letterer (`(d) => d`): e.g. to observe or fault-inject moves. */
  deadLettererMiddleware?: (deadLetterer: DeadLetterer) => DeadLetterer;
  /** Ordered mode on a partitioned stream: owner, lease and lag metrics (`createPartitionMetrics(registry)`). */
  partitionMetrics?: PartitionMetrics;
}

export interface WorkerHandle {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  /** The settings in force (defaults filled in). */
  readonly config: WorkerConfig;
  health(): WorkerHealth;
  /** Ordered mode on a partitioned stream: the partitions this worker owns now (else absent). */
  ownedPartitions?(): number[];
  /**
   * Stop reading, finish and acknowledge what is in flight within `shutdownTimeoutMs`, then stop the sampler
   * and the blocking reader. Unfinished entries stay pending for another worker. Safe to call twice.
   */
  close(): Promise<void>;
}

/** Build and start a worker; resolves once it reads. See {@link StartWorkerOptions}. */
export async function startWorker(options: StartWorkerOptions): Promise<WorkerHandle> {
  const { pipeline: definition, redis, pool, metrics } = options;
  const consumer = options.consumer ?? os.hostname();
  const group = options.group ?? definition.group;
  const logger = options.logger ?? pino({ level: 'silent' });
  const config: WorkerConfig = {
    ...defaultSettings(),
    ...options.settings,
    stream: options.stream,
    group,
    groupExplicit: options.group !== undefined,
    consumer,
    pipeline: definition.name,
    autoMigrate: false,
  };
  if (options.checkSchema !== false) await assertSchemaCurrent(pool, definition);

  const keys = streamKeys(options.keyPrefix ?? 'streamsink', options.stream);
  const pipeline = toRuntimePipeline(definition);
  // Partitioned streams and ordered consumption live in partitions/ (docs/scaling.md); this path is unchanged.
  const layout = await readStreamLayout(redis, options.keyPrefix ?? 'streamsink', options.stream);
  const ordering = config.ordering ?? definition.ordering ?? 'none';
  if (layout.kind === 'partitioned')
    return await startPartitionedHandle(options, {
      config,
      partitions: layout.partitions,
      pipeline,
      ordering,
      logger,
      group,
      consumer,
    });
  if (ordering === 'key')
    throw new StreamLayoutError(
      options.stream,
      "ordering 'key' needs a partitioned stream: create it with `streamsink stream create --partitions P`",
    );
  const realSink = createPgSink({
    pool,
    pipeline,
    stream: keys.name,
    group,
    logger: logger.child({ consumer }),
    ...(metrics ? { metrics } : {}),
  });
  const core = loadManagedSink(realSink, {
    config,
    pipeline,
    pool,
    stream: keys.name,
    group,
    logger: logger.child({ stream: keys.name, group, consumer }),
    ...(metrics ? { metrics } : {}),
  });
  const sink = options.sinkMiddleware ? options.sinkMiddleware(core.sink) : core.sink;
  const realDeadLetterer = createDeadLetterer({
    redis,
    keys,
    group,
    consumer,
    pipelineName: pipeline.name,
    pipelineVersion: pipeline.version,
  });
  const deadLetterer = options.deadLettererMiddleware
    ? options.deadLettererMiddleware(realDeadLetterer)
    : realDeadLetterer;
  // Set up for plain reads cut off past the byte budget (tripwire-read.ts): a read is never resent after a
  // reconnect, and fails at once instead of waiting for it (the read loop retries with backoff).
  const blockingRedis = duplicateClient(redis, `streamsink:worker:${consumer}:reader`, READER_OPTIONS);
  blockingRedis.on('error', (error: Error) => {
    metrics?.redisErrors.inc({ kind: 'connection' });
    logger.warn({ connection: 'redis-reader', err: describeError(error) }, 'redis connection error');
  });
  // The highest committed entry id, in memory; the sampler records it with the stream's counters in Postgres
  // so `streamsink status` and the data-loss gauge can tell when Redis lost entries.
  const commitWatermark = createCommitWatermark();
  const worker = createWorker({
    commitWatermark,
    concurrencyLimit: core.limiter,
    redis,
    blockingRedis,
    sink,
    pipeline,
    deadLetterer,
    keys,
    config,
    logger,
    ...(metrics ? { metrics } : {}),
  });
  const sampler = metrics
    ? startMetricsSampler({
        redis,
        keys,
        group,
        metrics,
        intervalMs: options.sampleIntervalMs ?? 5000,
        logger: logger.child({ stream: keys.name, group }),
        checkDataLoss: async () => {
          // Taken before the check reads Postgres and Redis (see checkDataLoss for why the order matters).
          const committedId = commitWatermark.take();
          try {
            const check = await checkDataLoss({
              redis,
              db: pool,
              streamKey: keys.stream,
              group,
              committedId,
              record: true,
            });
            return check.verdict;
          } catch (error) {
            if (committedId !== null) commitWatermark.observe([committedId]); // recorded next time
            throw error;
          }
        },
      })
    : undefined;

  try {
    await worker.start();
  } catch (error) {
    await sampler?.close();
    disconnectRedis(blockingRedis);
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    stream: keys.name,
    group,
    consumer,
    config,
    health: () => worker.health(),
    close() {
      closing ??= (async () => {
        // Every step runs even when one fails (the worker's close never throws; the others are best effort).
        await worker.close();
        await sampler?.close().catch(() => undefined);
        disconnectRedis(blockingRedis);
      })();
      return closing;
    },
  };
}

async function startPartitionedHandle(
  options: StartWorkerOptions,
  args: {
    config: WorkerConfig;
    partitions: readonly PartitionKeys[];
    pipeline: ReturnType<typeof toRuntimePipeline>;
    ordering: 'key' | 'none';
    logger: Logger;
    group: string;
    consumer: string;
  },
): Promise<WorkerHandle> {
  const { redis, metrics } = options;
  const blockingRedis = duplicateClient(redis, `streamsink:worker:${args.consumer}:reader`);
  blockingRedis.on('error', (error: Error) => {
    metrics?.redisErrors.inc({ kind: 'connection' });
    args.logger.warn({ connection: 'redis-reader', err: describeError(error) }, 'redis connection error');
  });
  // The partitions' doorbells, on a connection of their own (partitions/doorbells.ts). Ordered mode listens
  // only for the partitions it owns. On a cluster the doorbells are in different slots: idle partitions poll.
  let worker: PartitionedWorker | undefined;
  const doorbells = isCluster(redis)
    ? undefined
    : createDoorbellListener({
        redis: doorbellConnection(redis, args.consumer, args.logger, metrics),
        doorbells: new Map(args.partitions.map((keys) => [keys.partition, keys.doorbell])),
        ...(args.ordering === 'key' ? { listening: () => worker?.owned() ?? [] } : {}),
        blockSeconds: Math.max(0.01, args.config.blockMs / 1000),
        onError: (error) => {
          metrics?.redisErrors.inc({ kind: 'doorbell' });
          args.logger.warn(
            { connection: 'redis-doorbells', err: describeError(error) },
            'listening for partition doorbells failed; idle partitions poll meanwhile',
          );
        },
      });
  try {
    worker = await startPartitioned({
      ordering: args.ordering,
      redis,
      blockingRedis,
      pool: options.pool,
      prefix: options.keyPrefix ?? 'streamsink',
      stream: options.stream,
      partitions: args.partitions,
      pipeline: args.pipeline,
      config: args.config,
      logger: args.logger,
      ...(metrics ? { metrics } : {}),
      ...(options.partitionMetrics ? { partitionMetrics: options.partitionMetrics } : {}),
      ...(options.sinkMiddleware ? { sinkMiddleware: options.sinkMiddleware } : {}),
      ...(options.deadLettererMiddleware ? { deadLettererMiddleware: options.deadLettererMiddleware } : {}),
      ...(doorbells ? { doorbells } : {}),
    });
  } catch (error) {
    await doorbells?.close();
    disconnectRedis(blockingRedis);
    throw error;
  }
  const started = worker;
  let closing: Promise<void> | undefined;
  return {
    stream: options.stream,
    group: args.group,
    consumer: args.consumer,
    config: args.config,
    health: () => started.health(),
    ownedPartitions: () => started.owned(),
    close() {
      closing ??= (async () => {
        await started.close();
        await doorbells?.close();
        disconnectRedis(blockingRedis);
      })();
      return closing;
    },
  };
}

/** The partitions' doorbell connection, its errors counted and logged as the reader's are. */
function doorbellConnection(
  redis: Redis,
  consumer: string,
  logger: Logger,
  metrics: WorkerMetrics | undefined,
): Redis {
  const connection = duplicateClient(redis, `streamsink:worker:${consumer}:doorbells`);
  connection.on('error', (error: Error) => {
    metrics?.redisErrors.inc({ kind: 'connection' });
    logger.warn({ connection: 'redis-doorbells', err: describeError(error) }, 'redis connection error');
  });
  return connection;
}

/** The documented defaults, from the one config schema (nothing read from the environment here). */
function defaultSettings(): WorkerSettings {
  const { stream, group, consumer, pipeline, groupExplicit, autoMigrate, ...rest } = parseConfig({}).worker;
  return rest;
}
