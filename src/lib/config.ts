import { z } from 'zod';
import { CONSOLE, type ConsoleConfig, refineConsole, toConsole } from './config/console.ts';
import { type Env, type ParseConfigOptions, parseEnv } from './config/parse-env.ts';
import {
  DATABASE,
  DEDUPE,
  GROUP,
  LOG,
  METRICS,
  PARTITIONS,
  PAYMENTS,
  PG_SESSION,
  PIPELINE,
  PRODUCER,
  REDIS,
  refinePgSession,
  refineWorker,
  STREAM,
  TRIM,
  toLog,
  toMetrics,
  toPayments,
  toPgSession,
  toProducer,
  toRedis,
  toTrim,
  toWorker,
  WORKER,
} from './config/pieces.ts';
import type {
  Config,
  DlqConfig,
  InboxPruneConfig,
  LogConfig,
  MigrateConfig,
  PublishConfig,
  RedisConfig,
  StatusConfig,
  StreamConfig,
  StreamCreateConfig,
  StreamTrimConfig,
} from './config/types.ts';
import { redactUrl } from './redact.ts';

export type { ConsoleConfig, ConsoleRole, ConsoleToken } from './config/console.ts';
export type { Env, ParseConfigOptions } from './config/parse-env.ts';
export type * from './config/types.ts';
/** Kept here too: callers that format config values import it with the config. */
export { redactUrl };

/**
 * Configuration is parsed once, at start, from an env-like record (the CLI maps its flags onto the same
 * variable names first). Components receive typed slices of the result and never read `process.env`.
 *
 * Each command validates only the variables it uses (one schema per command, composed of the pieces in
 * config/pieces.ts): `STREAMSINK_BATCH_SIZE=abc streamsink publish` works, because publish never reads it.
 * Every bad variable a command does use is named in one {@link ConfigError}.
 */

const workerSchema = z
  .object({
    ...REDIS,
    ...DATABASE,
    ...PG_SESSION,
    ...LOG,
    ...METRICS,
    ...WORKER,
    ...PAYMENTS,
    ...PRODUCER,
    ...TRIM,
    ...CONSOLE,
  })
  .superRefine((v, ctx) => {
    refineWorker(v, ctx);
    refinePgSession(v, ctx);
    refineConsole(v, ctx, { whenPortSet: true });
  });
const publishSchema = z.object({ ...REDIS, ...STREAM, ...PRODUCER });
const dlqSchema = z.object({ ...REDIS, ...STREAM });
const streamSchema = z.object({ ...REDIS, ...STREAM });
const streamCreateSchema = z.object({ ...REDIS, ...STREAM, ...PARTITIONS });
const statusSchema = z
  .object({ ...REDIS, ...STREAM, ...GROUP, ...DATABASE, ...PG_SESSION })
  .superRefine(refinePgSession);
const consoleSchema = z
  .object({ ...REDIS, ...STREAM, ...DATABASE, ...LOG, ...CONSOLE })
  .superRefine(refineConsole);
const migrateSchema = z.object({ ...DATABASE });
const trimSchema = z.object({ ...REDIS, ...STREAM });
const pruneSchema = z.object({ ...REDIS, ...STREAM, ...DATABASE, ...DEDUPE });
const migratePipelineSchema = z.object({ ...DATABASE, ...PIPELINE, ...PAYMENTS });

const variablesOf = (schema: { shape: z.ZodRawShape }) => Object.keys(schema.shape);

/**
 * Parse and validate the whole configuration: what the worker uses, plus the producer's settings (the
 * config an embedder passes around). Throws one {@link ConfigError} that names every bad variable, what was
 * expected and what was given (secrets shown redacted).
 */
export function parseConfig(env: Env, options: ParseConfigOptions = {}): Readonly<Config> {
  const { data: v, resolved } = parseEnv(workerSchema, variablesOf(workerSchema), env, options);
  return Object.freeze({
    redis: toRedis(v),
    postgres: {
      url: v.DATABASE_URL,
      poolSize: v.STREAMSINK_PG_POOL_SIZE ?? v.STREAMSINK_CONCURRENCY + 2,
      sessionTimeouts: toPgSession(v),
    },
    log: toLog(v),
    producer: toProducer(v),
    worker: toWorker(v, options.hostname ?? 'streamsink', resolved.STREAMSINK_GROUP !== undefined),
    payments: toPayments(v),
    metrics: toMetrics(v),
    trim: toTrim(v),
    // The console inside the worker: off unless STREAMSINK_CONSOLE_PORT is set.
    console:
      v.STREAMSINK_CONSOLE_PORT === undefined
        ? undefined
        : toConsole(v, { port: v.STREAMSINK_CONSOLE_PORT, stream: v.STREAMSINK_STREAM }),
  });
}

/** `streamsink worker`: the whole configuration ({@link parseConfig}). */
export const parseWorkerConfig = parseConfig;

/** `streamsink publish`: Redis, the stream and the producer's limits; worker settings are not looked at. */
export function parsePublishConfig(env: Env, options: ParseConfigOptions = {}): Readonly<PublishConfig> {
  const { data: v } = parseEnv(publishSchema, variablesOf(publishSchema), env, options);
  return Object.freeze({ redis: toRedis(v), stream: v.STREAMSINK_STREAM, producer: toProducer(v) });
}

/** `streamsink dlq`: Redis and the stream. */
export function parseDlqConfig(env: Env, options: ParseConfigOptions = {}): Readonly<DlqConfig> {
  const { data: v } = parseEnv(dlqSchema, variablesOf(dlqSchema), env, options);
  return Object.freeze({ redis: toRedis(v), stream: v.STREAMSINK_STREAM });
}

/** `streamsink stream describe`: Redis and the stream. */
export function parseStreamConfig(env: Env, options: ParseConfigOptions = {}): Readonly<StreamConfig> {
  const { data: v } = parseEnv(streamSchema, variablesOf(streamSchema), env, options);
  return Object.freeze({ redis: toRedis(v), stream: v.STREAMSINK_STREAM });
}

/** `streamsink stream create`: Redis, the stream and its partition count (`--partitions`). */
export function parseStreamCreateConfig(
  env: Env,
  options: ParseConfigOptions = {},
): Readonly<StreamCreateConfig> {
  const { data: v } = parseEnv(streamCreateSchema, variablesOf(streamCreateSchema), env, options);
  return Object.freeze({
    redis: toRedis(v),
    stream: v.STREAMSINK_STREAM,
    partitions: v.STREAMSINK_PARTITIONS,
  });
}

/** `streamsink status`: Redis, stream and group, and one Postgres session for the data-loss check. */
export function parseStatusConfig(env: Env, options: ParseConfigOptions = {}): Readonly<StatusConfig> {
  const { data: v } = parseEnv(statusSchema, variablesOf(statusSchema), env, options);
  return Object.freeze({
    redis: toRedis(v),
    stream: v.STREAMSINK_STREAM,
    group: v.STREAMSINK_GROUP,
    postgres: { url: v.DATABASE_URL, poolSize: 1, sessionTimeouts: toPgSession(v) },
  });
}

/** `streamsink stream trim`: Redis and the stream. */
export function parseStreamTrimConfig(
  env: Env,
  options: ParseConfigOptions = {},
): Readonly<StreamTrimConfig> {
  const { data: v } = parseEnv(trimSchema, variablesOf(trimSchema), env, options);
  return Object.freeze({ redis: toRedis(v), stream: v.STREAMSINK_STREAM });
}

/** `streamsink inbox prune`: Redis, the stream, the database and the producer's dedupe window. */
export function parseInboxPruneConfig(
  env: Env,
  options: ParseConfigOptions = {},
): Readonly<InboxPruneConfig> {
  const { data: v } = parseEnv(pruneSchema, variablesOf(pruneSchema), env, options);
  return Object.freeze({
    redis: toRedis(v),
    stream: v.STREAMSINK_STREAM,
    postgres: { url: v.DATABASE_URL },
    dedupeWindowMs: v.STREAMSINK_DEDUPE_WINDOW_MS,
  });
}

/** Port of `streamsink console` when STREAMSINK_CONSOLE_PORT is not set. */
export const DEFAULT_CONSOLE_PORT = 9465;

/**
 * `streamsink console`: Redis, Postgres (the audit table, a small pool), the log and the console's own
 * settings. The streams shown default to STREAMSINK_STREAM.
 */
export function parseConsoleConfig(
  env: Env,
  options: ParseConfigOptions = {},
): Readonly<ConsoleCommandConfig> {
  const { data: v } = parseEnv(consoleSchema, variablesOf(consoleSchema), env, options);
  return Object.freeze({
    redis: toRedis(v),
    postgres: { url: v.DATABASE_URL, poolSize: 2 },
    log: toLog(v),
    console: toConsole(v, { port: DEFAULT_CONSOLE_PORT, stream: v.STREAMSINK_STREAM }),
  });
}

/** What `streamsink console` runs on. */
export interface ConsoleCommandConfig {
  redis: RedisConfig;
  postgres: { url: string; poolSize: number };
  log: LogConfig;
  console: ConsoleConfig;
}

/**
 * `streamsink migrate`: the database and, when a pipeline is to be migrated too (`--pipeline`), the pipeline
 * and its settings (payments' currencies).
 */
export function parseMigrateConfig(
  env: Env,
  options: ParseConfigOptions & { withPipeline?: boolean } = {},
): Readonly<MigrateConfig> {
  if (!options.withPipeline) {
    const { data: v } = parseEnv(migrateSchema, variablesOf(migrateSchema), env, options);
    return Object.freeze({ postgres: { url: v.DATABASE_URL } });
  }
  const { data: v } = parseEnv(migratePipelineSchema, variablesOf(migratePipelineSchema), env, options);
  return Object.freeze({
    postgres: { url: v.DATABASE_URL },
    pipeline: { name: v.STREAMSINK_PIPELINE, payments: toPayments(v) },
  });
}

/** The variables this build understands, for `--help` and docs. */
export const CONFIG_VARIABLES: readonly string[] = variablesOf(workerSchema);
