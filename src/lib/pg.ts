import pg from 'pg';
import type { PostgresConfig } from './config.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** The part of a client or pool that runs a statement; what pipelines and the inbox need. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface CreatePoolOptions {
  applicationName?: string;
  onError?: (error: Error) => void;
}

/**
 * The Postgres pool. Idle-client errors (a server restart) are reported to `onError` instead of crashing the
 * process: pg emits 'error' on the pool and an unhandled 'error' event would kill the worker.
 */
export function createPool(config: PostgresConfig, options: CreatePoolOptions = {}): Pool {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize,
    application_name: options.applicationName ?? 'streamsink',
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  pool.on('error', (error) => options.onError?.(error));
  return pool;
}
