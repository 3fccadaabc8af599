import { startConsole } from '../console/start.ts';
import { startDependencyMonitor } from '../consumers/dependency-monitor.ts';
import { createPartitionMetrics } from '../consumers/partitions/metrics.ts';
import { loadPipeline } from '../consumers/pipeline-loader.ts';
import { startWorker, type WorkerHandle } from '../consumers/start-worker.ts';
import { startStreamTrimmer } from '../consumers/stream-trimmer.ts';
import { parseWorkerConfig, redactUrl } from '../lib/config.ts';
import { toConnectionError } from '../lib/connection-failure.ts';
import { ConnectionError, describeError, StreamsinkError } from '../lib/errors.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { createRegistry, createWorkerMetrics, registerBuildInfo } from '../lib/metrics.ts';
import { assertSchemaCurrent, migrate } from '../lib/migrations.ts';
import { startOpsServer } from '../lib/ops-server.ts';
import { createPool } from '../lib/pg.ts';
import { createRedis } from '../lib/redis/client.ts';
import { closeRedis } from '../lib/redis/close.ts';
import { streamKeys } from '../lib/redis/keys.ts';
import { createRetentionMetrics } from '../lib/retention-metrics.ts';
import { maxLenWarning } from '../lib/retention-warnings.ts';
import { explainPostgres } from './connections.ts';
import { type CliContext, parseFlags, parseWithFlags } from './context.ts';

const HELP = `Usage: streamsink worker [--stream S] [--group G] [--consumer C] [--pipeline P] [--start-id ID]
                         [--ordering key|none]

Run one consumer of a consumer group: read the stream, write batches to Postgres with effectively-once
effects (inbox table), acknowledge after commit, reclaim entries of crashed consumers, dead-letter poison.
Runs until SIGTERM or SIGINT, then stops reading, finishes and acknowledges in-flight batches within
STREAMSINK_SHUTDOWN_TIMEOUT_MS and exits 0; a second signal exits at once (unfinished entries stay pending).

Options (each overrides its variable):
  --stream S       logical stream name                       STREAMSINK_STREAM
  --group G        consumer group                            STREAMSINK_GROUP
  --consumer C     consumer name (default: the hostname)     STREAMSINK_CONSUMER
  --pipeline P     event-log | payments | ./file.mjs | a package  STREAMSINK_PIPELINE
  --start-id ID    where a new group starts (0, $ or an id)  STREAMSINK_START_ID
  --ordering O     key: same-key events in stream order (a partitioned stream; docs/scaling.md);
                   none: any order. Default: the pipeline's \`ordering\`    STREAMSINK_ORDERING
  -h, --help       this text

A pipeline is a built-in name or your own module whose default export is definePipeline({...})
(docs/pipelines.md). The group defaults to the pipeline's (its name; \`streamsink\` for the built-ins).
Other configuration (REDIS_URL, DATABASE_URL, STREAMSINK_MAX_IN_FLIGHT, STREAMSINK_MAX_IN_FLIGHT_BYTES, ...)
is in the README; the memory model is in docs/operations.md#memory. With STREAMSINK_TRIM_INTERVAL_MS set,
the worker also trims its stream up to what every group acknowledged, keeping STREAMSINK_TRIM_KEEP
(docs/retention.md). STREAMSINK_CONSOLE_PORT also serves the operator console from this worker (off by
default; docs/console.md).
The database schema must be current (run \`streamsink migrate --pipeline P\`), or set
STREAMSINK_AUTO_MIGRATE=true.
`;

const FLAG_VARIABLES = {
  stream: 'STREAMSINK_STREAM',
  group: 'STREAMSINK_GROUP',
  consumer: 'STREAMSINK_CONSUMER',
  pipeline: 'STREAMSINK_PIPELINE',
  'start-id': 'STREAMSINK_START_ID',
  ordering: 'STREAMSINK_ORDERING',
};

/** How long closing Redis and Postgres may take after the worker drained, before we stop waiting. */
const CLOSE_CLIENTS_TIMEOUT_MS = 3000;

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, FLAG_OPTIONS, HELP);
  if (flags.help === true) {
    ctx.stdout.write(HELP);
    return 0;
  }
  const config = parseWithFlags(
    (env) => parseWorkerConfig(env, { readFile: ctx.readFile, hostname: ctx.hostname }),
    ctx.env,
    flags,
    FLAG_VARIABLES,
  );
  const wc = config.worker;
  const logger = createLogger(config.log, { pretty: ctx.interactive });
  const registry = createRegistry({ defaultMetrics: config.metrics.defaultMetrics });
  const metrics = createWorkerMetrics(registry);
  const keys = streamKeys(config.redis.keyPrefix, wc.stream);
  const cleanups: Array<[string, () => Promise<unknown>]> = [];
  try {
    const pool = createPool(config.postgres, {
      applicationName: `streamsink:${wc.consumer}`.slice(0, 63),
      onError: (error) => {
        metrics.postgresErrors.inc({ class: 'transient' });
        logger.warn({ err: describeError(error) }, 'idle postgres connection failed');
      },
    });
    cleanups.push(['postgres', () => pool.end()]);

    const pipeline = await loadPipeline(wc.pipeline, {
      cwd: ctx.cwd ?? '.',
      env: ctx.env,
      builtIn: { currencies: config.payments.currencies },
    });
    try {
      if (wc.autoMigrate) {
        // Its own pool, without the worker's session timeouts: a migration may rightly take longer.
        const migratePool = createPool(
          { url: config.postgres.url, poolSize: 1 },
          { applicationName: 'streamsink:migrate' },
        );
        try {
          const result = await migrate(migratePool, logger, { pipelines: [pipeline] });
          logger.info({ version: result.version, applied: result.applied.length }, 'schema migrated');
        } finally {
          await migratePool.end();
        }
      }
      const version = await assertSchemaCurrent(pool, pipeline);
      logger.info({ version, pipeline: pipeline.name }, 'schema is current');
    } catch (error) {
      if (error instanceof StreamsinkError) throw error; // schema behind: main.ts prints it, exit 1
      // Postgres down or refusing the credentials at start: one line, exit 1 (the orchestrator restarts us).
      const explained = explainPostgres(config.postgres, error);
      if (explained instanceof ConnectionError) throw explained;
      ctx.stderr.write(
        `streamsink worker: cannot check the database schema (${describeError(error)}); ` +
          `database ${redactUrl(config.postgres.url)}\n`,
      );
      return 1;
    }

    const redis = createRedis(config.redis, { name: `streamsink:worker:${wc.consumer}` });
    // QUIT when connected; while Redis is down, drop the connection at once rather than queue a QUIT behind
    // the start's commands (src/lib/redis/close.ts).
    cleanups.push(['redis', () => closeRedis(redis, CLOSE_CLIENTS_TIMEOUT_MS)]);
    redis.on('error', (error: Error) => {
      metrics.redisErrors.inc({ kind: 'connection' });
      logger.warn({ connection: 'redis', err: describeError(error) }, 'redis connection error');
    });
    const group = wc.groupExplicit ? wc.group : pipeline.group;
    // Built before the ops server and started after it, so /healthz answers while it connects.
    let worker: WorkerHandle | undefined;
    const startingHealth = {
      loopTurnedAt: Date.now(),
      sinkFailing: false,
      sinkUnreachable: false,
      shuttingDown: false,
      inFlight: 0,
      oldestTakenAt: undefined,
    };
    // /metrics, /healthz, /readyz and the Redis-side gauges (docs/metrics.md). Closed after the worker has
    // drained and before the clients they use; readiness fails as soon as shutdown starts.
    registerBuildInfo(registry, { version: packageVersion(ctx) });
    // The non-blocking connection: a PING behind a blocked XREADGROUP would wait out STREAMSINK_BLOCK_MS.
    const checks = { redis: () => redis.ping(), postgres: () => pool.query('SELECT 1') };
    const ops = await startOpsServer({
      port: config.metrics.port,
      host: config.metrics.host,
      registry,
      logger,
      livenessDeadlineMs: config.metrics.livenessDeadlineMs,
      maxConnections: config.metrics.maxConnections,
      progressDeadlineMs: config.metrics.progressDeadlineMs,
      // ioredis holds the read script call across a reconnect: a Redis outage stops the loop, not a bug.
      health: () => ({ ...(worker?.health() ?? startingHealth), waitingOnRedis: redis.status !== 'ready' }),
      checks,
    });
    cleanups.push(['ops-server', () => ops.close()]);
    // streamsink_dependency_up: what /readyz sees, as a series an alert can page on (docs/metrics.md).
    const dependencies = startDependencyMonitor({
      checks,
      // Another service's outage (enrich) fails the sink too, but Postgres is fine: its breaker says so.
      sinkFailing: () => {
        const health = worker?.health();
        return health?.sinkFailing === true && health.waitingOnService === undefined;
      },
      metrics,
      labels: { stream: keys.name, group },
      intervalMs: config.metrics.sampleIntervalMs,
      timeoutMs: 1000,
    });
    cleanups.push(['dependency-monitor', async () => dependencies.close()]);
    if (config.producer.maxLen !== undefined) logger.warn({}, maxLenWarning(config.producer.maxLen));
    // The safe trim on an interval (docs/retention.md), when configured: stopped before the clients it uses.
    if (config.trim.intervalMs !== undefined) {
      const trimmer = startStreamTrimmer({
        redis,
        key: keys.stream,
        stream: keys.name,
        keepMs: config.trim.keepMs,
        intervalMs: config.trim.intervalMs,
        metrics: createRetentionMetrics(registry),
        logger,
      });
      cleanups.push(['stream-trimmer', () => trimmer.close()]);
    }
    if (config.console) {
      // STREAMSINK_CONSOLE_PORT: the operator console on this worker's clients (docs/console.md).
      const consoleHandle = await startConsole({
        config: config.console,
        redis,
        keyPrefix: config.redis.keyPrefix,
        db: pool,
        logger,
      });
      cleanups.push(['console', () => consoleHandle.close()]);
      logger.info({ url: consoleHandle.url }, 'console listening');
      ctx.stderr.write(`streamsink worker: console listening on ${consoleHandle.url}\n`);
    }
    // Starting waits for Redis (it retries while Redis is down); a signal meanwhile still stops us cleanly.
    // Redis refusing the credentials fails the start (ioredis rejects the queued commands): that needs a new
    // secret, not a retry, so it is one line and exit 1. Redis down or a TLS failure is waited out instead.
    const starting = startWorker({
      pipeline,
      stream: wc.stream,
      redis,
      pool,
      group,
      consumer: wc.consumer,
      keyPrefix: config.redis.keyPrefix,
      settings: wc,
      logger,
      metrics,
      partitionMetrics: createPartitionMetrics(registry),
      sampleIntervalMs: config.metrics.sampleIntervalMs,
      checkSchema: false, // checked above, with a clearer message on a connection failure
    }).then((handle) => {
      worker = handle;
      // Stop the worker before the clients it uses (cleanups run last-in first-out).
      cleanups.push(['worker', () => handle.close()]);
    });
    await Promise.race([
      starting.catch((error: unknown) => Promise.reject(explainRedisStart(config.redis.url, error))),
      abortion(ctx.signal),
    ]);
    await abortion(ctx.signal);
    ops.failReadiness();
    logger.info({ reason: describeError(ctx.signal.reason) }, 'shutting down');
    return 0;
  } finally {
    await closeAll(cleanups, logger);
    logger.flush();
  }
}

/**
 * Run every cleanup in reverse order, even when one fails. Client closes are bounded: a pg client stuck in a
 * query would otherwise keep `pool.end()` waiting forever.
 */
async function closeAll(cleanups: Array<[string, () => Promise<unknown>]>, logger: Logger): Promise<void> {
  for (const [name, cleanup] of cleanups.reverse()) {
    const bounded = name === 'worker' ? cleanup() : withTimeout(cleanup(), CLOSE_CLIENTS_TIMEOUT_MS);
    try {
      await bounded;
    } catch (error) {
      logger.warn({ component: name, err: describeError(error) }, 'close failed');
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The version in package.json (two levels up from src/cli and from dist/cli), for streamsink_build_info. */
function packageVersion(ctx: CliContext): string {
  try {
    const pkg = JSON.parse(ctx.readFile(new URL('../../package.json', import.meta.url).pathname));
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function explainRedisStart(url: string, error: unknown): unknown {
  const explained = toConnectionError('redis', url, error);
  return explained?.kind === 'auth' ? explained : error;
}

function abortion(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

const FLAG_OPTIONS = {
  stream: { type: 'string' },
  group: { type: 'string' },
  consumer: { type: 'string' },
  pipeline: { type: 'string' },
  'start-id': { type: 'string' },
  ordering: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
