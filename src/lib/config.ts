import { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { redactUrl } from './redact.ts';

/** Kept here too: callers that format config values import it with the config. */
export { redactUrl };

/**
 * Configuration is parsed once, at start, from an env-like record (the CLI maps its flags onto the same
 * variable names first). Components receive typed slices of the result and never read `process.env`.
 */

export type Env = Readonly<Record<string, string | undefined>>;

const SECRET_VARIABLES = ['REDIS_URL', 'DATABASE_URL'] as const;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0),
);

const redisUrl = z
  .string()
  .refine((s) => /^rediss?:\/\/.+/.test(s), { message: 'a redis:// or rediss:// URL' });
const databaseUrl = z
  .string()
  .refine((s) => /^postgres(ql)?:\/\/.+/.test(s), { message: 'a postgres:// or postgresql:// URL' });

const streamName = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,200}$/, 'a stream name of 1-200 characters from A-Z a-z 0-9 . _ : -');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const schema = z
  .object({
    REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
    DATABASE_URL: databaseUrl.default('postgres://postgres@127.0.0.1:5432/postgres'),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
    METRICS_PORT: int(0, 65535).default(9464),
    METRICS_HOST: z.string().min(1).optional(),
    STREAMSINK_KEY_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,50}$/, 'a prefix of 1-50 characters from A-Z a-z 0-9 . _ -')
      .default('streamsink'),
    STREAMSINK_STREAM: streamName.default('events'),
    STREAMSINK_GROUP: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,200}$/, 'a group name')
      .default('streamsink'),
    STREAMSINK_CONSUMER: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,200}$/, 'a consumer name')
      .optional(),
    // A built-in name, a file path or a package specifier: checked when the worker loads it (pipeline-loader.ts).
    STREAMSINK_PIPELINE: z.string().min(1).max(1024).default('event-log'),
    STREAMSINK_START_ID: z
      .string()
      .regex(/^(0|\$|\d+(-\d+)?)$/, 'a stream id such as 0, $ or 1700000000000-0')
      .default('0'),
    STREAMSINK_MAX_IN_FLIGHT: int(1, 1_000_000).default(2000),
    STREAMSINK_MAX_IN_FLIGHT_BYTES: int(1024, 16 * 1024 * 1024 * 1024).default(32 * 1024 * 1024),
    STREAMSINK_POLL_MS: int(1, 60_000).default(50),
    STREAMSINK_BATCH_SIZE: int(1, 10_000).default(500),
    STREAMSINK_CONCURRENCY: int(1, 64).default(4),
    STREAMSINK_BLOCK_MS: int(10, 60_000).default(1000),
    STREAMSINK_CLAIM_IDLE_MS: int(100, 86_400_000).default(60_000),
    STREAMSINK_CLAIM_INTERVAL_MS: int(50, 3_600_000).optional(),
    STREAMSINK_CONSUMER_IDLE_DELETE_MS: int(1000, 30 * 86_400_000).default(3_600_000),
    STREAMSINK_MAX_DELIVERIES: int(1, 1000).default(5),
    STREAMSINK_SHUTDOWN_TIMEOUT_MS: int(0, 3_600_000).default(25_000),
    STREAMSINK_AUTO_MIGRATE: z.stringbool().default(false),
    STREAMSINK_PAYMENTS_CURRENCIES: csv
      .pipe(z.array(z.string().regex(/^[A-Z]{3}$/, 'ISO 4217 codes')).min(1))
      .default(['EUR', 'USD', 'GBP']),
    STREAMSINK_DEDUPE_WINDOW_MS: int(1000, 30 * 86_400_000).default(86_400_000),
    STREAMSINK_MAX_PAYLOAD_BYTES: int(64, 64 * 1024 * 1024).default(1024 * 1024),
    STREAMSINK_MAXLEN: int(1, Number.MAX_SAFE_INTEGER).optional(),
    STREAMSINK_PG_POOL_SIZE: int(1, 200).optional(),
    // Session timeouts of the worker's Postgres connections (docs/operations.md#timeouts); 0 turns one off.
    STREAMSINK_PG_LOCK_TIMEOUT_MS: int(0, 3_600_000).default(5000),
    STREAMSINK_PG_STATEMENT_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
    STREAMSINK_PG_IDLE_IN_TX_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
    STREAMSINK_BACKOFF_BASE_MS: int(1, 60_000).default(100),
    STREAMSINK_BACKOFF_MAX_MS: int(1, 600_000).default(5000),
    STREAMSINK_DEFAULT_METRICS: z.stringbool().default(true),
    STREAMSINK_METRICS_SAMPLE_INTERVAL_MS: int(100, 600_000).default(5000),
    STREAMSINK_LIVENESS_DEADLINE_MS: int(1000, 3_600_000).default(60_000),
    STREAMSINK_OPS_MAX_CONNECTIONS: int(1, 10_000).default(100),
    STREAMSINK_PROGRESS_DEADLINE_MS: int(1000, 86_400_000).default(300_000),
    STREAMSINK_LOG_REDACT_PATHS: csv.default([]),
  })
  .superRefine((v, ctx) => {
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
  });

type Raw = z.infer<typeof schema>;

export interface RedisConfig {
  url: string;
  keyPrefix: string;
}
export interface PostgresConfig {
  url: string;
  poolSize: number;
  sessionTimeouts: PgSessionTimeouts;
}
/**
 * Server-side limits set on every worker session (0 = off). What each protects against is in
 * docs/operations.md#timeouts.
 */
export interface PgSessionTimeouts {
  /** lock_timeout: a statement stops waiting for a row another session holds (55P03, retried). */
  lockTimeoutMs: number;
  /** statement_timeout: a statement that runs this long is cancelled (57014, retried). */
  statementTimeoutMs: number;
  /** idle_in_transaction_session_timeout: a session frozen inside a transaction is ended, its locks freed. */
  idleInTransactionTimeoutMs: number;
}
export interface LogConfig {
  level: (typeof LOG_LEVELS)[number];
  redactPaths: readonly string[];
}
export interface ProducerConfig {
  dedupeWindowMs: number;
  maxPayloadBytes: number;
  maxLen: number | undefined;
}
export interface WorkerConfig {
  stream: string;
  group: string;
  consumer: string;
  /** `--pipeline`: a built-in name (`event-log`, `payments`), a file path or a package specifier. */
  pipeline: string;
  /** STREAMSINK_GROUP was set: otherwise the worker uses its pipeline's group (`definePipeline({ group })`). */
  groupExplicit: boolean;
  startId: string;
  maxInFlight: number;
  /** Bytes of entries held at once (plus at most one entry of maxPayloadBytes): see docs/operations.md#memory. */
  maxInFlightBytes: number;
  /** Longest wait between reads while idle (reads are Lua scripts, which cannot block): capacity.ts. */
  pollMs: number;
  batchSize: number;
  concurrency: number;
  blockMs: number;
  claimIdleMs: number;
  claimIntervalMs: number;
  consumerIdleDeleteMs: number;
  maxDeliveries: number;
  shutdownTimeoutMs: number;
  autoMigrate: boolean;
  backoffBaseMs: number;
  backoffMaxMs: number;
  maxPayloadBytes: number;
}
export interface PaymentsConfig {
  currencies: readonly string[];
}
export interface MetricsConfig {
  port: number;
  /** Interface of the ops server; all interfaces when unset (Prometheus scrapes the pod IP). */
  host: string | undefined;
  defaultMetrics: boolean;
  sampleIntervalMs: number;
  livenessDeadlineMs: number;
  /** Connections the ops server keeps open at once; more are closed on accept. */
  maxConnections: number;
  /** `/healthz` fails when an entry has been held this long without its batch finishing (work stuck). */
  progressDeadlineMs: number;
}

export interface Config {
  redis: RedisConfig;
  postgres: PostgresConfig;
  log: LogConfig;
  producer: ProducerConfig;
  worker: WorkerConfig;
  payments: PaymentsConfig;
  metrics: MetricsConfig;
}

export interface ParseConfigOptions {
  /** Reads a secret file named by a `*_FILE` variable. Injected so parsing stays testable. */
  readFile?: (path: string) => string;
  /** Default consumer name (the hostname, or the pod name in Kubernetes). */
  hostname?: string;
}

/**
 * Parse and validate the whole configuration. Throws one {@link ConfigError} that names every bad variable,
 * what was expected and what was given (secrets shown redacted).
 */
export function parseConfig(env: Env, options: ParseConfigOptions = {}): Readonly<Config> {
  const issues: ConfigIssue[] = [];
  const resolved: Record<string, string | undefined> = { ...env };
  for (const name of SECRET_VARIABLES) {
    const fileVar = `${name}_FILE`;
    const path = env[fileVar];
    if (path === undefined || path === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      issues.push({
        variable: fileVar,
        expected: `only one of ${name} and ${fileVar}`,
        received: 'both set',
      });
      continue;
    }
    try {
      if (!options.readFile) throw new Error('no file reader');
      resolved[name] = options.readFile(path).trim();
    } catch (error) {
      const why = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
      issues.push({ variable: fileVar, expected: 'a readable file', received: `${path} (${why})` });
    }
  }
  // Empty strings mean "unset", as in most twelve-factor tools; it keeps `FOO= cmd` from failing oddly.
  for (const [k, v] of Object.entries(resolved)) if (v === '') resolved[k] = undefined;

  const result = schema.safeParse(resolved);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const variable = String(issue.path[0] ?? '(config)');
      issues.push({
        variable,
        expected: issue.message.replace(/^Invalid (input|option): (expected )?/, ''),
        received: describeReceived(variable, resolved[variable]),
      });
    }
  }
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  return Object.freeze(
    toConfig(result.data, options.hostname ?? 'streamsink', resolved.STREAMSINK_GROUP !== undefined),
  );
}

function describeReceived(variable: string, value: string | undefined): string {
  if (value === undefined) return 'nothing';
  if ((SECRET_VARIABLES as readonly string[]).includes(variable)) return JSON.stringify(redactUrl(value));
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

function toConfig(raw: Raw, hostname: string, groupExplicit: boolean): Config {
  const concurrency = raw.STREAMSINK_CONCURRENCY;
  return {
    redis: { url: raw.REDIS_URL, keyPrefix: raw.STREAMSINK_KEY_PREFIX },
    postgres: {
      url: raw.DATABASE_URL,
      poolSize: raw.STREAMSINK_PG_POOL_SIZE ?? concurrency + 2,
      sessionTimeouts: {
        lockTimeoutMs: raw.STREAMSINK_PG_LOCK_TIMEOUT_MS,
        statementTimeoutMs: raw.STREAMSINK_PG_STATEMENT_TIMEOUT_MS,
        idleInTransactionTimeoutMs: raw.STREAMSINK_PG_IDLE_IN_TX_TIMEOUT_MS,
      },
    },
    log: { level: raw.LOG_LEVEL, redactPaths: raw.STREAMSINK_LOG_REDACT_PATHS },
    producer: {
      dedupeWindowMs: raw.STREAMSINK_DEDUPE_WINDOW_MS,
      maxPayloadBytes: raw.STREAMSINK_MAX_PAYLOAD_BYTES,
      maxLen: raw.STREAMSINK_MAXLEN,
    },
    worker: {
      stream: raw.STREAMSINK_STREAM,
      group: raw.STREAMSINK_GROUP,
      consumer: raw.STREAMSINK_CONSUMER ?? hostname,
      pipeline: raw.STREAMSINK_PIPELINE,
      groupExplicit,
      startId: raw.STREAMSINK_START_ID,
      maxInFlight: raw.STREAMSINK_MAX_IN_FLIGHT,
      maxInFlightBytes: raw.STREAMSINK_MAX_IN_FLIGHT_BYTES,
      pollMs: raw.STREAMSINK_POLL_MS,
      batchSize: raw.STREAMSINK_BATCH_SIZE,
      concurrency,
      blockMs: raw.STREAMSINK_BLOCK_MS,
      claimIdleMs: raw.STREAMSINK_CLAIM_IDLE_MS,
      claimIntervalMs:
        raw.STREAMSINK_CLAIM_INTERVAL_MS ?? Math.max(50, Math.floor(raw.STREAMSINK_CLAIM_IDLE_MS / 4)),
      consumerIdleDeleteMs: raw.STREAMSINK_CONSUMER_IDLE_DELETE_MS,
      maxDeliveries: raw.STREAMSINK_MAX_DELIVERIES,
      shutdownTimeoutMs: raw.STREAMSINK_SHUTDOWN_TIMEOUT_MS,
      autoMigrate: raw.STREAMSINK_AUTO_MIGRATE,
      backoffBaseMs: raw.STREAMSINK_BACKOFF_BASE_MS,
      backoffMaxMs: raw.STREAMSINK_BACKOFF_MAX_MS,
      maxPayloadBytes: raw.STREAMSINK_MAX_PAYLOAD_BYTES,
    },
    payments: { currencies: raw.STREAMSINK_PAYMENTS_CURRENCIES },
    metrics: {
      port: raw.METRICS_PORT,
      host: raw.METRICS_HOST,
      defaultMetrics: raw.STREAMSINK_DEFAULT_METRICS,
      sampleIntervalMs: raw.STREAMSINK_METRICS_SAMPLE_INTERVAL_MS,
      livenessDeadlineMs: raw.STREAMSINK_LIVENESS_DEADLINE_MS,
      maxConnections: raw.STREAMSINK_OPS_MAX_CONNECTIONS,
      progressDeadlineMs: raw.STREAMSINK_PROGRESS_DEADLINE_MS,
    },
  };
}

/** The variables this build understands, for `--help` and docs. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape ?? {});
