import type { ConsoleConfig } from './console.ts';

/** The typed slices of configuration that components receive (built by src/lib/config.ts). */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface RedisConfig {
  /** Single node; with `clusterNodes`, only its credentials and scheme (rediss:// = TLS) are used. */
  url: string;
  keyPrefix: string;
  /** REDIS_CLUSTER_NODES: seed nodes of a Redis Cluster. Unset: a single node at `url`. */
  clusterNodes?: readonly { host: string; port: number }[];
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
/** The worker's periodic safe trim of its stream (docs/retention.md#trimming). */
export interface TrimConfig {
  /** STREAMSINK_TRIM_INTERVAL_MS: how often; undefined = the worker never trims (the default). */
  intervalMs: number | undefined;
  /** STREAMSINK_TRIM_KEEP: the replay window; younger entries stay even when every group acknowledged them. */
  keepMs: number;
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
  /** Batch transactions in flight: the maximum of the adaptive limit, or the fixed number (docs/load-management.md). */
  concurrency: number;
  /** `adaptive`: the limit follows commit latency between 1 and `concurrency`; `fixed`: always `concurrency`. */
  concurrencyMode: 'adaptive' | 'fixed';
  /** Shortest window of commit samples per adaptive-limit update (Netflix WindowedLimit: 1000 ms). */
  concurrencyWindowMs: number;
  /** Circuit breakers of Postgres and (unless a pipeline says otherwise) of the services it calls. */
  breaker: BreakerSettings;
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
  /** STREAMSINK_ORDERING: overrides the pipeline's `ordering`; unset: the pipeline decides. */
  ordering?: 'key' | 'none';
  /** STREAMSINK_LEASE_TTL_MS: how long a partition lease lives without renewal (ordered mode). */
  leaseTtlMs: number;
}
/** A circuit breaker's settings (src/consumers/circuit-breaker.ts). */
export interface BreakerSettings {
  /** Fraction of failed calls in the window (0..1, exclusive) that opens the circuit. */
  failureRate: number;
  windowMs: number;
  /** Calls the window must hold before the rate counts. */
  minCalls: number;
  /** How long the circuit stays open before a trial call. */
  halfOpenAfterMs: number;
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

/** The worker's configuration: everything (`parseConfig`). */
export interface Config {
  redis: RedisConfig;
  postgres: PostgresConfig;
  log: LogConfig;
  producer: ProducerConfig;
  worker: WorkerConfig;
  payments: PaymentsConfig;
  metrics: MetricsConfig;
  trim: TrimConfig;
  /** The operator console served by the worker; undefined (off) unless STREAMSINK_CONSOLE_PORT is set. */
  console?: ConsoleConfig | undefined;
}

/** `streamsink publish`: Redis, the stream and the producer's limits. */
export interface PublishConfig {
  redis: RedisConfig;
  stream: string;
  producer: ProducerConfig;
}
/** `streamsink stream describe` (and other stream subcommands): Redis and the stream. */
export interface StreamConfig {
  redis: RedisConfig;
  stream: string;
}
/** `streamsink stream create`: Redis, the stream and its partition count. */
export interface StreamCreateConfig extends StreamConfig {
  partitions: number;
}
/** `streamsink dlq`: Redis and the stream. */
export interface DlqConfig {
  redis: RedisConfig;
  stream: string;
}
/** `streamsink status`: Redis, the stream and group, and Postgres for the data-loss check (one session). */
export interface StatusConfig {
  redis: RedisConfig;
  stream: string;
  group: string;
  postgres: PostgresConfig;
}
/** `streamsink migrate`: Postgres (no session timeouts) and, with `--pipeline`, the pipeline to migrate. */
export interface MigrateConfig {
  postgres: { url: string };
  pipeline?: { name: string; payments: PaymentsConfig };
}
/** `streamsink stream trim`: Redis and the stream. */
export interface StreamTrimConfig {
  redis: RedisConfig;
  stream: string;
}
/** `streamsink inbox prune`: Redis (stream, groups, dead letters), Postgres (the inbox), the dedupe window. */
export interface InboxPruneConfig {
  redis: RedisConfig;
  stream: string;
  postgres: { url: string };
  dedupeWindowMs: number;
}
