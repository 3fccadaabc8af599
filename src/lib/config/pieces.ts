import { z } from 'zod';
import { DURATION_FORMAT, parseDuration } from '../duration.ts';
import {
  LOG_LEVELS,
  type LogConfig,
  type MetricsConfig,
  type PaymentsConfig,
  type PgSessionTimeouts,
  type ProducerConfig,
  type RedisConfig,
  type TrimConfig,
  type WorkerConfig,
} from './types.ts';

/**
 * The variables, one piece per concern: each a zod shape, a builder of its typed slice and, where values
 * constrain each other, a refinement. A command's schema is the union of the pieces it uses (src/lib/config.ts),
 * so a variable only that command ignores can never stop it.
 */

type Ctx = z.RefinementCtx;
type Values<S extends z.ZodRawShape> = z.infer<z.ZodObject<S>>;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0),
);

export const REDIS = {
  REDIS_URL: z
    .string()
    .refine((s) => /^rediss?:\/\/.+/.test(s), { message: 'a redis:// or rediss:// URL' })
    .default('redis://127.0.0.1:6379'),
  STREAMSINK_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,50}$/, 'a prefix of 1-50 characters from A-Z a-z 0-9 . _ -')
    .default('streamsink'),
  // Seed nodes of a Redis Cluster; credentials and TLS still come from REDIS_URL (docs/scaling.md#cluster).
  REDIS_CLUSTER_NODES: csv
    .pipe(
      z
        .array(
          z
            .string()
            .regex(
              /^[A-Za-z0-9.-]{1,253}:([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])$/,
              'host:port entries separated by commas',
            ),
        )
        .min(1, 'at least one host:port'),
    )
    .optional(),
};
export const toRedis = (v: Values<typeof REDIS>): RedisConfig => ({
  url: v.REDIS_URL,
  keyPrefix: v.STREAMSINK_KEY_PREFIX,
  ...(v.REDIS_CLUSTER_NODES === undefined
    ? {}
    : {
        clusterNodes: v.REDIS_CLUSTER_NODES.map((entry) => {
          const at = entry.lastIndexOf(':');
          return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
        }),
      }),
});

export const STREAM = {
  STREAMSINK_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,200}$/, 'a stream name of 1-200 characters from A-Z a-z 0-9 . _ : -')
    .default('events'),
};
/** `stream create --partitions P`: fixed at creation (src/lib/partitions/). */
export const PARTITIONS = { STREAMSINK_PARTITIONS: int(1, 1024) };
export const GROUP = {
  STREAMSINK_GROUP: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,200}$/, 'a group name')
    .default('streamsink'),
};
// A built-in name, a file path or a package specifier: checked when the worker loads it (pipeline-loader.ts).
export const PIPELINE = { STREAMSINK_PIPELINE: z.string().min(1).max(1024).default('event-log') };

export const DATABASE = {
  DATABASE_URL: z
    .string()
    .refine((s) => /^postgres(ql)?:\/\/.+/.test(s), { message: 'a postgres:// or postgresql:// URL' })
    .default('postgres://postgres@127.0.0.1:5432/postgres'),
};

/** Session timeouts of the worker's Postgres connections (docs/operations.md#timeouts); 0 turns one off. */
export const PG_SESSION = {
  STREAMSINK_PG_LOCK_TIMEOUT_MS: int(0, 3_600_000).default(5000),
  STREAMSINK_PG_STATEMENT_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
  STREAMSINK_PG_IDLE_IN_TX_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
};
export function refinePgSession(v: Values<typeof PG_SESSION>, ctx: Ctx): void {
  // A lock wait must end as 55P03 (lock_timeout), not as the statement's 57014: both retry, but the
  // operator reading the logs should see which one it was.
  const lock = v.STREAMSINK_PG_LOCK_TIMEOUT_MS;
  const statement = v.STREAMSINK_PG_STATEMENT_TIMEOUT_MS;
  if (lock > 0 && statement > 0 && lock >= statement) {
    ctx.addIssue({
      code: 'custom',
      path: ['STREAMSINK_PG_LOCK_TIMEOUT_MS'],
      message: `less than STREAMSINK_PG_STATEMENT_TIMEOUT_MS (${statement})`,
      input: lock,
    });
  }
}
export const toPgSession = (v: Values<typeof PG_SESSION>): PgSessionTimeouts => ({
  lockTimeoutMs: v.STREAMSINK_PG_LOCK_TIMEOUT_MS,
  statementTimeoutMs: v.STREAMSINK_PG_STATEMENT_TIMEOUT_MS,
  idleInTransactionTimeoutMs: v.STREAMSINK_PG_IDLE_IN_TX_TIMEOUT_MS,
});

export const LOG = {
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  STREAMSINK_LOG_REDACT_PATHS: csv.default([]),
};
export const toLog = (v: Values<typeof LOG>): LogConfig => ({
  level: v.LOG_LEVEL,
  redactPaths: v.STREAMSINK_LOG_REDACT_PATHS,
});

/** Used by both sides: the producer refuses larger events, the worker dead-letters them. */
const PAYLOAD = { STREAMSINK_MAX_PAYLOAD_BYTES: int(64, 64 * 1024 * 1024).default(1024 * 1024) };

export const PRODUCER = {
  STREAMSINK_DEDUPE_WINDOW_MS: int(1000, 30 * 86_400_000).default(86_400_000),
  ...PAYLOAD,
  STREAMSINK_MAXLEN: int(1, Number.MAX_SAFE_INTEGER).optional(),
};
/** The producer's dedupe window, also the shortest inbox retention `inbox prune` accepts. */
export const DEDUPE = { STREAMSINK_DEDUPE_WINDOW_MS: PRODUCER.STREAMSINK_DEDUPE_WINDOW_MS };

/** The worker's periodic safe trim (docs/retention.md#trimming): off unless an interval is set. */
export const TRIM = {
  STREAMSINK_TRIM_INTERVAL_MS: int(1000, 86_400_000).optional(),
  STREAMSINK_TRIM_KEEP: z
    .string()
    .refine((s) => parseDuration(s) !== undefined, { message: DURATION_FORMAT })
    .default('24h'),
};
export const toTrim = (v: Values<typeof TRIM>): TrimConfig => ({
  intervalMs: v.STREAMSINK_TRIM_INTERVAL_MS,
  keepMs: parseDuration(v.STREAMSINK_TRIM_KEEP) as number,
});

export const toProducer = (v: Values<typeof PRODUCER>): ProducerConfig => ({
  dedupeWindowMs: v.STREAMSINK_DEDUPE_WINDOW_MS,
  maxPayloadBytes: v.STREAMSINK_MAX_PAYLOAD_BYTES,
  maxLen: v.STREAMSINK_MAXLEN,
});

export const WORKER = {
  ...STREAM,
  ...GROUP,
  STREAMSINK_CONSUMER: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,200}$/, 'a consumer name')
    .optional(),
  ...PIPELINE,
  STREAMSINK_START_ID: z
    .string()
    .regex(/^(0|\$|\d+(-\d+)?)$/, 'a stream id such as 0, $ or 1700000000000-0')
    .default('0'),
  STREAMSINK_MAX_IN_FLIGHT: int(1, 1_000_000).default(2000),
  STREAMSINK_MAX_IN_FLIGHT_BYTES: int(1024, 16 * 1024 * 1024 * 1024).default(32 * 1024 * 1024),
  STREAMSINK_POLL_MS: int(1, 60_000).default(50),
  STREAMSINK_BATCH_SIZE: int(1, 10_000).default(500),
  STREAMSINK_CONCURRENCY: int(1, 64).default(4),
  STREAMSINK_CONCURRENCY_MODE: z.enum(['adaptive', 'fixed']).default('adaptive'),
  STREAMSINK_CONCURRENCY_WINDOW_MS: int(50, 60_000).default(1000),
  STREAMSINK_BREAKER_FAILURE_RATE: z.coerce.number().gt(0).lt(1).default(0.5),
  STREAMSINK_BREAKER_WINDOW_MS: int(1000, 600_000).default(10_000),
  STREAMSINK_BREAKER_MIN_CALLS: int(1, 100_000).default(5),
  STREAMSINK_BREAKER_HALF_OPEN_MS: int(100, 600_000).default(5000),
  STREAMSINK_BLOCK_MS: int(10, 60_000).default(1000),
  STREAMSINK_CLAIM_IDLE_MS: int(100, 86_400_000).default(60_000),
  STREAMSINK_CLAIM_INTERVAL_MS: int(50, 3_600_000).optional(),
  STREAMSINK_CONSUMER_IDLE_DELETE_MS: int(1000, 30 * 86_400_000).default(3_600_000),
  STREAMSINK_MAX_DELIVERIES: int(1, 1000).default(5),
  STREAMSINK_SHUTDOWN_TIMEOUT_MS: int(0, 3_600_000).default(25_000),
  STREAMSINK_AUTO_MIGRATE: z.stringbool().default(false),
  ...PAYLOAD,
  STREAMSINK_PG_POOL_SIZE: int(1, 200).optional(),
  STREAMSINK_BACKOFF_BASE_MS: int(1, 60_000).default(100),
  STREAMSINK_BACKOFF_MAX_MS: int(1, 600_000).default(5000),
  STREAMSINK_ORDERING: z.enum(['key', 'none']).optional(),
  STREAMSINK_LEASE_TTL_MS: int(1000, 600_000).default(10_000),
};
export function refineWorker(v: Values<typeof WORKER>, ctx: Ctx): void {
  if (v.STREAMSINK_BATCH_SIZE > v.STREAMSINK_MAX_IN_FLIGHT) {
    ctx.addIssue({
      code: 'custom',
      path: ['STREAMSINK_BATCH_SIZE'],
      message: `at most STREAMSINK_MAX_IN_FLIGHT (${v.STREAMSINK_MAX_IN_FLIGHT})`,
      input: v.STREAMSINK_BATCH_SIZE,
    });
  }
  if (v.STREAMSINK_BACKOFF_BASE_MS > v.STREAMSINK_BACKOFF_MAX_MS) {
    ctx.addIssue({
      code: 'custom',
      path: ['STREAMSINK_BACKOFF_BASE_MS'],
      message: `at most STREAMSINK_BACKOFF_MAX_MS (${v.STREAMSINK_BACKOFF_MAX_MS})`,
      input: v.STREAMSINK_BACKOFF_BASE_MS,
    });
  }
}
export function toWorker(v: Values<typeof WORKER>, hostname: string, groupExplicit: boolean): WorkerConfig {
  return {
    stream: v.STREAMSINK_STREAM,
    group: v.STREAMSINK_GROUP,
    consumer: v.STREAMSINK_CONSUMER ?? hostname,
    pipeline: v.STREAMSINK_PIPELINE,
    groupExplicit,
    startId: v.STREAMSINK_START_ID,
    maxInFlight: v.STREAMSINK_MAX_IN_FLIGHT,
    maxInFlightBytes: v.STREAMSINK_MAX_IN_FLIGHT_BYTES,
    pollMs: v.STREAMSINK_POLL_MS,
    batchSize: v.STREAMSINK_BATCH_SIZE,
    concurrency: v.STREAMSINK_CONCURRENCY,
    concurrencyMode: v.STREAMSINK_CONCURRENCY_MODE,
    concurrencyWindowMs: v.STREAMSINK_CONCURRENCY_WINDOW_MS,
    breaker: {
      failureRate: v.STREAMSINK_BREAKER_FAILURE_RATE,
      windowMs: v.STREAMSINK_BREAKER_WINDOW_MS,
      minCalls: v.STREAMSINK_BREAKER_MIN_CALLS,
      halfOpenAfterMs: v.STREAMSINK_BREAKER_HALF_OPEN_MS,
    },
    blockMs: v.STREAMSINK_BLOCK_MS,
    claimIdleMs: v.STREAMSINK_CLAIM_IDLE_MS,
    claimIntervalMs:
      v.STREAMSINK_CLAIM_INTERVAL_MS ?? Math.max(50, Math.floor(v.STREAMSINK_CLAIM_IDLE_MS / 4)),
    consumerIdleDeleteMs: v.STREAMSINK_CONSUMER_IDLE_DELETE_MS,
    maxDeliveries: v.STREAMSINK_MAX_DELIVERIES,
    shutdownTimeoutMs: v.STREAMSINK_SHUTDOWN_TIMEOUT_MS,
    autoMigrate: v.STREAMSINK_AUTO_MIGRATE,
    backoffBaseMs: v.STREAMSINK_BACKOFF_BASE_MS,
    backoffMaxMs: v.STREAMSINK_BACKOFF_MAX_MS,
    maxPayloadBytes: v.STREAMSINK_MAX_PAYLOAD_BYTES,
    ...(v.STREAMSINK_ORDERING ? { ordering: v.STREAMSINK_ORDERING } : {}),
    leaseTtlMs: v.STREAMSINK_LEASE_TTL_MS,
  };
}

export const PAYMENTS = {
  STREAMSINK_PAYMENTS_CURRENCIES: csv
    .pipe(z.array(z.string().regex(/^[A-Z]{3}$/, 'ISO 4217 codes')).min(1))
    .default(['EUR', 'USD', 'GBP']),
};
export const toPayments = (v: Values<typeof PAYMENTS>): PaymentsConfig => ({
  currencies: v.STREAMSINK_PAYMENTS_CURRENCIES,
});

export const METRICS = {
  METRICS_PORT: int(0, 65535).default(9464),
  METRICS_HOST: z.string().min(1).optional(),
  STREAMSINK_DEFAULT_METRICS: z.stringbool().default(true),
  STREAMSINK_METRICS_SAMPLE_INTERVAL_MS: int(100, 600_000).default(5000),
  STREAMSINK_LIVENESS_DEADLINE_MS: int(1000, 3_600_000).default(60_000),
  STREAMSINK_OPS_MAX_CONNECTIONS: int(1, 10_000).default(100),
  STREAMSINK_PROGRESS_DEADLINE_MS: int(1000, 86_400_000).default(300_000),
};
export const toMetrics = (v: Values<typeof METRICS>): MetricsConfig => ({
  port: v.METRICS_PORT,
  host: v.METRICS_HOST,
  defaultMetrics: v.STREAMSINK_DEFAULT_METRICS,
  sampleIntervalMs: v.STREAMSINK_METRICS_SAMPLE_INTERVAL_MS,
  livenessDeadlineMs: v.STREAMSINK_LIVENESS_DEADLINE_MS,
  maxConnections: v.STREAMSINK_OPS_MAX_CONNECTIONS,
  progressDeadlineMs: v.STREAMSINK_PROGRESS_DEADLINE_MS,
});
