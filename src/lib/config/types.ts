import type { ConsoleConfig } from './console.ts';

/** The typed slices of configuration that components receive (built by src/lib/config.ts). */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

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

/** The worker's configuration: everything (`parseConfig`). */
export interface Config {
  redis: RedisConfig;
  postgres: PostgresConfig;
  log: LogConfig;
  producer: ProducerConfig;
  worker: WorkerConfig;
  payments: PaymentsConfig;
  metrics: MetricsConfig;
  /** The operator console served by the worker; undefined (off) unless STREAMSINK_CONSOLE_PORT is set. */
  console?: ConsoleConfig | undefined;
}

/** `streamsink publish`: Redis, the stream and the producer's limits. */
export interface PublishConfig {
  redis: RedisConfig;
  stream: string;
  producer: ProducerConfig;
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
