import { Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config.ts';

export type { Redis };

export interface CreateRedisOptions {
  /** Connection name shown in CLIENT LIST, e.g. `streamsink:worker:pod-1:reader`. */
  name?: string;
  /** Extra ioredis options (tests lower retry timings). */
  overrides?: RedisOptions;
}

/**
 * One ioredis connection. Commands wait in ioredis' offline queue during a reconnect rather than failing
 * at once; callers that must not wait forever bound them with their own timeouts.
 */
export function createRedis(config: RedisConfig, options: CreateRedisOptions = {}): Redis {
  return new Redis(config.url, {
    connectionName: options.name,
    lazyConnect: false,
    enableAutoPipelining: false,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    ...options.overrides,
  });
}
