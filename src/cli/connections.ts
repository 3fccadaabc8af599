import type { RedisOptions } from 'ioredis';
import type { PostgresConfig, RedisConfig } from '../lib/config.ts';
import { toConnectionError } from '../lib/connection-failure.ts';
import { ConnectionError } from '../lib/errors.ts';
import { createRedis, type RedisClient } from '../lib/redis/client.ts';

/**
 * Connections of the one-shot commands (status, dlq, publish, migrate). Decision (docs/errors.md): a
 * one-shot command connects once and fails fast. It does not reconnect, so Redis being down, refusing the
 * credentials or failing the TLS handshake ends the command at once with one line naming the server (URL
 * without secrets) and what to check, exit 1; re-running it is safe (reads change nothing, publish is
 * idempotent by event id). The long-running worker instead waits and retries, logging redacted warnings.
 */

/** No reconnect: ioredis then fails what is queued with "Connection is closed." instead of waiting. */
export const ONE_SHOT_REDIS: RedisOptions = {
  retryStrategy: () => null,
  maxRetriesPerRequest: 1,
  connectTimeout: 5000,
};

/** Messages ioredis rejects queued commands with when the connection itself failed. */
const CONNECTION_LOST =
  /^(Connection is closed\.|Reached the max retries per request limit|Stream isn't writeable|None of startup nodes is available|Failed to refresh slots cache|Cluster isn't ready)/;

export interface WatchedRedis {
  redis: RedisClient;
  /**
   * The error to report for a failed command: a {@link ConnectionError} built from the connection's own
   * error event (the real cause: ECONNREFUSED, WRONGPASS, a certificate) when the connection failed, the
   * error unchanged otherwise.
   */
  explain(error: unknown): unknown;
}

/**
 * A one-shot Redis connection whose `error` events are kept, not printed: without a listener ioredis writes
 * "[ioredis] Unhandled error event" and a stack trace to stderr for each.
 */
export function oneShotRedis(config: RedisConfig, name: string, overrides: RedisOptions = {}): WatchedRedis {
  const redis = createRedis(config, { name, overrides: { ...ONE_SHOT_REDIS, ...overrides } });
  let lastEvent: unknown;
  const keep = (error: unknown) => {
    lastEvent = error;
  };
  redis.on('error', keep);
  // A cluster reports each node's connection failure (ECONNREFUSED, WRONGPASS) as `node error`.
  redis.on('node error', keep);
  const where = serverOf(config);
  return {
    redis,
    explain(error) {
      if (error instanceof ConnectionError) return error;
      const direct = toConnectionError('redis', where, error);
      if (direct) return direct;
      const message = error instanceof Error ? error.message : String(error);
      const cause = (error as { cause?: unknown })?.cause;
      const lost =
        CONNECTION_LOST.test(message) || (cause instanceof Error && CONNECTION_LOST.test(cause.message));
      if (!lost) return error;
      return (
        (lastEvent === undefined ? undefined : toConnectionError('redis', where, lastEvent)) ??
        toConnectionError('redis', where, Object.assign(new Error(message), { code: 'ECONNRESET' })) ??
        error
      );
    },
  };
}

/** The server to name in an error: REDIS_URL, or its scheme and credentials on a cluster's first seed node. */
function serverOf(config: RedisConfig): string {
  const seed = config.clusterNodes?.[0];
  if (seed === undefined) return config.url;
  try {
    const url = new URL(config.url);
    url.hostname = seed.host;
    url.port = String(seed.port);
    return url.toString();
  } catch {
    return `redis://${seed.host}:${seed.port}`;
  }
}

/** The same rule for Postgres: a connection or credential failure becomes one {@link ConnectionError}. */
export function explainPostgres(config: Pick<PostgresConfig, 'url'>, error: unknown): unknown {
  if (error instanceof ConnectionError) return error;
  return toConnectionError('postgres', config.url, error) ?? error;
}
