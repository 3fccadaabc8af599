import pg from 'pg';
import type { PgSessionTimeouts, PostgresConfig } from './config.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** The part of a client or pool that runs a statement; what pipelines and the inbox need. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

/** What a pool needs; without `sessionTimeouts` sessions keep the server's settings (migrations, tools). */
export type PoolConfig = Pick<PostgresConfig, 'url' | 'poolSize'> & { sessionTimeouts?: PgSessionTimeouts };

export interface CreatePoolOptions {
  applicationName?: string;
  onError?: (error: Error) => void;
}

/**
 * The Postgres pool. Idle-client errors (a server restart) are reported to `onError` instead of crashing the
 * process: pg emits 'error' on the pool and an unhandled 'error' event would kill the worker.
 *
 * Session timeouts travel as startup parameters, so they hold from the first statement of every connection,
 * also those opened after a reconnect, and leave a DATABASE_URL's own `options` (search_path) alone.
 */
export function createPool(config: PoolConfig, options: CreatePoolOptions = {}): Pool {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize,
    application_name: options.applicationName ?? 'streamsink',
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    ...sessionParameters(config.sessionTimeouts),
  });
  pool.on('error', (error) => options.onError?.(error));
  return pool;
}

/** pg's client settings for the timeouts; a 0 is left out, which keeps the server's value (off by default). */
export function sessionParameters(timeouts: PgSessionTimeouts | undefined): {
  lock_timeout?: number;
  statement_timeout?: number;
  idle_in_transaction_session_timeout?: number;
} {
  if (!timeouts) return {};
  const out: ReturnType<typeof sessionParameters> = {};
  if (timeouts.lockTimeoutMs > 0) out.lock_timeout = timeouts.lockTimeoutMs;
  if (timeouts.statementTimeoutMs > 0) out.statement_timeout = timeouts.statementTimeoutMs;
  if (timeouts.idleInTransactionTimeoutMs > 0)
    out.idle_in_transaction_session_timeout = timeouts.idleInTransactionTimeoutMs;
  return out;
}
