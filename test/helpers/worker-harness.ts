import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import type { AnyPipeline } from '../../src/consumers/define-pipeline.ts';
import { createPartitionMetrics, type PartitionMetrics } from '../../src/consumers/partitions/metrics.ts';
import { BUILT_IN_PIPELINES } from '../../src/consumers/pipelines/index.ts';
import { startWorker, type WorkerHandle } from '../../src/consumers/start-worker.ts';
import type { BatchSink, DeadLetterer } from '../../src/consumers/types.ts';
import { parseConfig, type WorkerConfig } from '../../src/lib/config.ts';
import { type Envelope, encodeEnvelope } from '../../src/lib/envelope.ts';
import { createWorkerMetrics, type WorkerMetrics } from '../../src/lib/metrics.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { type StreamKeys, streamKeys } from '../../src/lib/redis/keys.ts';
import { uniqueName } from './names.ts';
import { createTestSchema, type TestSchema } from './pg.ts';

/**
 * A worker test bench on the real servers: its own stream, group, key prefix and Postgres schema (migrated),
 * raw pipelined XADD publishing, in-process workers with the real sink, and child-process workers.
 */
export interface WorkerBench {
  redisUrl: string;
  schema: TestSchema;
  prefix: string;
  streamName: string;
  group: string;
  keys: StreamKeys;
  redis: Redis;
  db: pg.Pool;
  /** Env for `streamsink worker` child processes (and parseConfig). */
  env: Record<string, string>;
  publish(events: ReadonlyArray<Envelope<unknown>>, chunk?: number): Promise<string[]>;
  startWorker(options?: StartWorkerOptions): Promise<InProcessWorker>;
  spawnWorker(consumer: string, extraEnv?: Record<string, string>, args?: string[]): ChildWorker;
  pendingCount(): Promise<number>;
  pendingOf(consumer: string): Promise<number>;
  cleanup(): Promise<void>;
}

export interface StartWorkerOptions {
  consumer?: string;
  env?: Record<string, string>;
  /** Wrap the real sink (to slow it down or count calls). */
  wrapSink?: (sink: BatchSink) => BatchSink;
  /** Run this pipeline instead of the configured built-in (e.g. one whose apply throws for some events). */
  pipeline?: AnyPipeline;
  /** Wrap the real dead-letterer (e.g. to destroy the group just before a move). */
  wrapDeadLetterer?: (deadLetterer: DeadLetterer) => DeadLetterer;
  /** The worker's logger (default: silent, or TEST_LOG_LEVEL). */
  logger?: Logger;
  poolSize?: number;
  /** Connect the worker's Redis connections here instead (a fault-injecting proxy). */
  redisUrl?: string;
  /** Connect the worker's Postgres pool here instead (a fault-injecting proxy); same schema. */
  databaseUrl?: string;
}

export interface InProcessWorker {
  worker: WorkerHandle;
  config: WorkerConfig;
  metrics: WorkerMetrics;
  /** Ordered mode on a partitioned stream: owner, lease and lag metrics. */
  partitionMetrics: PartitionMetrics;
  registry: Registry;
  pool: pg.Pool;
  close(): Promise<void>;
}

export interface ChildWorker {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function createWorkerBench(
  redisUrl: string,
  databaseUrl: string,
  baseEnv: Record<string, string> = {},
): Promise<WorkerBench> {
  const schema = await createTestSchema(databaseUrl, 'wk');
  const db = new pg.Pool({ connectionString: schema.url, max: 4 });
  db.on('error', () => {}); // idle connections die in outage tests; the next query reconnects
  await migrate(db);
  const prefix = uniqueName('ssw');
  const streamName = uniqueName('payments');
  const group = uniqueName('g');
  const keys = streamKeys(prefix, streamName);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    DATABASE_URL: schema.url,
    LOG_LEVEL: 'warn',
    STREAMSINK_KEY_PREFIX: prefix,
    STREAMSINK_STREAM: streamName,
    STREAMSINK_GROUP: group,
    STREAMSINK_PIPELINE: 'payments',
    STREAMSINK_CLAIM_IDLE_MS: '1000',
    STREAMSINK_BLOCK_MS: '200',
    STREAMSINK_BACKOFF_BASE_MS: '20',
    STREAMSINK_BACKOFF_MAX_MS: '500',
    STREAMSINK_DEFAULT_METRICS: 'false',
    ...baseEnv,
  };
  const workers: InProcessWorker[] = [];
  const children: ChildWorker[] = [];

  const bench: WorkerBench = {
    redisUrl,
    schema,
    prefix,
    streamName,
    group,
    keys,
    redis,
    db,
    env,
    async publish(events, chunk = 2000) {
      const ids: string[] = [];
      for (let i = 0; i < events.length; i += chunk) {
        const p = redis.pipeline();
        for (const e of events.slice(i, i + chunk)) p.xadd(keys.stream, '*', ...encodeEnvelope(e));
        const results = (await p.exec()) ?? [];
        for (const [error, id] of results) {
          if (error) throw error;
          ids.push(String(id));
        }
      }
      return ids;
    },
    async startWorker(options = {}) {
      const consumer = options.consumer ?? uniqueName('c');
      const config = parseConfig({ ...env, STREAMSINK_CONSUMER: consumer, ...options.env });
      const registry = new Registry();
      const metrics = createWorkerMetrics(registry);
      const partitionMetrics = createPartitionMetrics(registry);
      const pool = new pg.Pool({
        connectionString: options.databaseUrl ?? schema.url,
        max: options.poolSize ?? config.postgres.poolSize,
        application_name: `streamsink:${consumer}`,
        connectionTimeoutMillis: 2000,
      });
      pool.on('error', () => {});
      const workerRedis = new Redis(options.redisUrl ?? redisUrl, { maxRetriesPerRequest: null });
      workerRedis.on('error', () => {}); // reconnects by itself
      const builtIn = BUILT_IN_PIPELINES[config.worker.pipeline];
      const pipeline = options.pipeline ?? builtIn?.({ currencies: config.payments.currencies });
      if (!pipeline) throw new Error(`no pipeline ${config.worker.pipeline}`);
      const logger = options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
      const worker = await startWorker({
        pipeline,
        stream: streamName,
        redis: workerRedis,
        pool,
        group,
        consumer,
        keyPrefix: prefix,
        settings: config.worker,
        logger,
        metrics,
        partitionMetrics,
        ...(options.wrapSink ? { sinkMiddleware: options.wrapSink } : {}),
        ...(options.wrapDeadLetterer ? { deadLettererMiddleware: options.wrapDeadLetterer } : {}),
      });
      let closed: Promise<void> | undefined;
      const handle: InProcessWorker = {
        worker,
        config: worker.config,
        metrics,
        partitionMetrics,
        registry,
        pool,
        close: () => {
          closed ??= (async () => {
            await worker.close();
            workerRedis.disconnect();
            await pool.end();
          })();
          return closed;
        },
      };
      workers.push(handle);
      return handle;
    },
    spawnWorker(consumer, extraEnv = {}, args = []) {
      const child = spawn(process.execPath, ['src/cli/main.ts', 'worker', ...args], {
        env: { ...process.env, ...env, STREAMSINK_CONSUMER: consumer, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      const handle = { child, output: () => out, exited };
      children.push(handle);
      return handle;
    },
    async pendingCount() {
      try {
        const summary = (await redis.xpending(keys.stream, group)) as [number, ...unknown[]];
        return Number(summary[0]);
      } catch {
        return -1;
      }
    },
    async pendingOf(consumer) {
      const summary = (await redis.xpending(keys.stream, group)) as [
        number,
        unknown,
        unknown,
        Array<[string, string]> | null,
      ];
      const row = (summary[3] ?? []).find(([name]) => name === consumer);
      return row ? Number(row[1]) : 0;
    },
    async cleanup() {
      for (const c of children)
        if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exited));
      await Promise.allSettled(workers.map((w) => w.close()));
      await redis.del(keys.stream, keys.deadLetter);
      redis.disconnect();
      await db.end();
      await schema.drop();
    },
  };
  return bench;
}
