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
  /^(Connection is closed\.|Reached the max retries per request limit|Stream isn't writeable)/;

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
  redis.on('error', (error: unknown) => {
    lastEvent = error;
  });
  return {
    redis,
    explain(error) {
      if (error instanceof ConnectionError) return error;
      const direct = toConnectionError('redis', config.url, error);
      if (direct) return direct;
      const message = error instanceof Error ? error.message : String(error);
      const cause = (error as { cause?: unknown })?.cause;
      const lost =
        CONNECTION_LOST.test(message) || (cause instanceof Error && CONNECTION_LOST.test(cause.message));
      if (!lost) return error;
      return (
        (lastEvent === undefined ? undefined : toConnectionError('redis', config.url, lastEvent)) ??
        toConnectionError('redis', config.url, Object.assign(new Error(message), { code: 'ECONNRESET' })) ??
        error
      );
    },
  };
}

/** The same rule for Postgres: a connection or credential failure becomes one {@link ConnectionError}. */
export function explainPostgres(config: Pick<PostgresConfig, 'url'>, error: unknown): unknown {
  if (error instanceof ConnectionError) return error;
  return toConnectionError('postgres', config.url, error) ?? error;
}
