import type { ConsoleConfig } from '../lib/config.ts';
import type { Logger } from '../lib/logger.ts';
import type { Queryable } from '../lib/pg.ts';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import { createAuditStore } from './audit-store.ts';
import { createSessionStore } from './auth.ts';
import { buildConsoleServer } from './server.ts';
import { createStatsCache } from './stats-cache.ts';
import { startThroughputSampler } from './throughput.ts';

/**
 * Start the console on clients built by the caller (the `streamsink console` command, or the worker when
 * STREAMSINK_CONSOLE_PORT is set): it owns only its HTTP server, sessions and throughput sampler.
 */
/** How long counts by reason are reused between page loads (an action through the console refreshes them). */
export const STATS_TTL_MS = 15_000;

export interface ConsoleHandle {
  /** `http://host:port` actually bound (port 0 resolved). */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startConsole(options: {
  config: ConsoleConfig;
  redis: Redis;
  keyPrefix: string;
  db: Queryable;
  logger: Logger;
  now?: () => number;
}): Promise<ConsoleHandle> {
  const { config, logger } = options;
  const sampler = startThroughputSampler({
    redis: options.redis,
    keyPrefix: options.keyPrefix,
    streams: config.streams,
    intervalMs: config.sampleIntervalMs,
    onError: (error) => logger.debug({ err: error }, 'console throughput sample failed'),
  });
  const app = await buildConsoleServer({
    config,
    redis: options.redis,
    keyPrefix: options.keyPrefix,
    audit: createAuditStore(options.db),
    sessions: createSessionStore({ ttlMs: config.sessionTtlMs }),
    sampler,
    statsCache: createStatsCache({ ttlMs: STATS_TTL_MS }),
    logger,
    ...(options.now ? { now: options.now } : {}),
  });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    sampler.close();
    await app.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closed = false;
  return {
    url: `http://${host}:${port}`,
    port,
    async close() {
      if (closed) return;
      closed = true;
      sampler.close();
      await app.close();
    },
  };
}

/** Loopback addresses: anything else exposes the console beyond this machine. */
export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
