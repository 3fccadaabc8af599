import type { AnyPipeline } from '../consumers/define-pipeline.ts';
import { loadPipeline } from '../consumers/pipeline-loader.ts';
import type { RedisConfig } from '../lib/config/types.ts';
import { parseDlqConfig, parseMigrateConfig } from '../lib/config.ts';
import { ConfigError } from '../lib/errors.ts';
import type { CliContext } from './context.ts';

/**
 * What `replay` and `proof` need: Redis and the stream (as `dlq` parses them), Postgres and the pipeline (as
 * `migrate --pipeline` does). Both parsed before failing, so one message names every bad variable.
 */
export interface ReplayCommandConfig {
  redis: RedisConfig;
  stream: string;
  postgresUrl: string;
  /** Absent when no pipeline was given and `withPipeline` was false. */
  pipelineSpec?: string;
  currencies: readonly string[];
}

export function parseReplayCommandConfig(
  env: Record<string, string | undefined>,
  ctx: CliContext,
  withPipeline: boolean,
): ReplayCommandConfig {
  const options = { readFile: ctx.readFile, hostname: ctx.hostname };
  const issues: ConfigError['issues'][number][] = [];
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const i of error.issues) if (!issues.some((x) => x.variable === i.variable)) issues.push(i);
      return undefined;
    }
  };
  const dlq = attempt(() => parseDlqConfig(env, options));
  const db = attempt(() => parseMigrateConfig(env, { ...options, withPipeline }));
  if (issues.length > 0 || !dlq || !db) throw new ConfigError(issues);
  return {
    redis: dlq.redis,
    stream: dlq.stream,
    postgresUrl: db.postgres.url,
    ...(db.pipeline ? { pipelineSpec: db.pipeline.name } : {}),
    currencies: db.pipeline?.payments.currencies ?? [],
  };
}

export function loadCommandPipeline(config: ReplayCommandConfig, ctx: CliContext): Promise<AnyPipeline> {
  return loadPipeline(config.pipelineSpec as string, {
    cwd: ctx.cwd ?? '.',
    env: ctx.env,
    builtIn: { currencies: config.currencies },
  });
}
