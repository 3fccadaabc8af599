/**
 * Which failed batch writes are "drops" for the concurrency limit: signs that Postgres is overloaded or
 * refusing work, not that the batch is bad. Pure; follows `cause` chains (the sink wraps what it throws).
 *
 * - pool-acquire timeout (node-postgres: "timeout exceeded when trying to connect");
 * - 57014 query_canceled (statement_timeout), 55P03 lock_not_available (lock_timeout);
 * - 53300 too_many_connections (and the rest of class 53, insufficient resources);
 * - class 08, connection exceptions, and sockets that drop without a SQLSTATE.
 *
 * 40001 / 40P01 (serialization failure, deadlock) are retried but are not drops: they say two batches
 * touched the same rows, not that the database is overloaded.
 */
export function isDrop(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.length === 5) {
      if (code === '57014' || code === '55P03') return true;
      const cls = code.slice(0, 2);
      if (cls === '53' || cls === '08') return true;
    }
    if (typeof code === 'string' && DROPPED_SOCKET_CODES.has(code)) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && DROP_TEXTS.some((t) => message.includes(t))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

const DROPPED_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
// node-postgres' fixed texts for a pool that could not hand out a client in time and a socket that dropped.
const DROP_TEXTS = ['timeout exceeded when trying to connect', 'Connection terminated', 'connection timeout'];

/** Row contention and the worker's own timeouts: Postgres answered, it is busy, not down (the limit's job). */
const BUSY_SQLSTATES = new Set(['40001', '40P01', '55P03', '57014']);

/**
 * Whether a failed batch write counts against the Postgres circuit breaker: the sink gave up on Postgres
 * (a TransientError: cannot connect, connection lost, server shutting down, the schema or permissions refuse
 * every write), except when Postgres answered that it is busy (serialization failure, deadlock, lock or
 * statement timeout): those are the concurrency limit's to handle, and retrying them is how they clear.
 * A bad event (poison, class 22/23) never counts.
 */
export function isPostgresOutage(error: unknown): boolean {
  const e = error as { retryable?: unknown; code?: unknown } | null;
  if (typeof e !== 'object' || e === null || e.retryable !== true) return false;
  for (let c: unknown = error, depth = 0; typeof c === 'object' && c !== null && depth < 6; depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && BUSY_SQLSTATES.has(code)) return false;
    c = (c as { cause?: unknown }).cause;
  }
  return true;
}
