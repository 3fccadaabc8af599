import { DependencyUnavailableError } from './errors.ts';

/**
 * Postgres error classification by SQLSTATE (never by message text). Pure.
 *
 * - transient: the database or the connection is in trouble, the statement may succeed later
 *   (class 08 connection exception, 40001 serialization failure, 40P01 deadlock, 53 insufficient resources,
 *   57P01-57P05 admin/crash shutdown, cannot connect now, idle session timeout; also socket errors without a
 *   SQLSTATE such as ECONNREFUSED or "Connection terminated"). The worker's own session timeouts land here
 *   too (docs/operations.md#timeouts): 55P03 lock_timeout (another session holds the rows), 57014
 *   statement_timeout (or a cancel), 25P03 idle_in_transaction_session_timeout (our session was ended while
 *   it stood still). They say nothing about the events, so they are retried, never bisected or dead-lettered;
 * - systemic: the database is not set up for us (class 28 authorization, 3D/3F missing database or schema,
 *   42 undefined table / column / permission denied): every event would fail the same way, so it is not the
 *   events' fault; treated like transient (pause and retry until an operator fixes it), never dead-lettered;
 * - data: the message itself is bad (class 22 data exception, class 23 integrity constraint violation);
 * - other: cause unknown: isolated by bisection, then left pending until its delivery count runs out.
 */
export type PgErrorClass = 'transient' | 'systemic' | 'data' | 'other';

const SYSTEMIC_CLASSES = new Set(['28', '3D', '3F', '42']);

const TRANSIENT_SQLSTATES = new Set([
  '40001',
  '40P01',
  '57P01',
  '57P02',
  '57P03',
  '57P04',
  '57P05',
  '55P03', // lock_not_available: lock_timeout
  '57014', // query_canceled: statement_timeout, or pg_cancel_backend
  '25P03', // idle_in_transaction_session_timeout
]);
const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Server-side SQLSTATEs that mean Postgres is going away or refuses new sessions (not: it answered no). */
const UNREACHABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03']);

/**
 * Postgres cannot be reached at all (connection refused, dropped, server shutting down), as opposed to a
 * Postgres that answers with an error (a lock or statement timeout, a deadlock, a missing table). Follows
 * `cause` chains, since the sink wraps what it throws. An unreachable database fails readiness; it must not
 * fail liveness too, or an outage restarts every worker in a loop (docs/metrics.md#health-endpoints).
 */
export function isPostgresUnreachable(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    // Another service's outage (its connection refused) says nothing about Postgres.
    if (e instanceof DependencyUnavailableError) return false;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (code.length === 5 && (code.startsWith('08') || UNREACHABLE_SQLSTATES.has(code))) return true;
      if (TRANSIENT_NODE_CODES.has(code)) return true;
    } else if (isDroppedSocket(e)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export function classifyPgError(error: unknown): PgErrorClass {
  if (typeof error !== 'object' || error === null) return 'other';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.length === 5) {
      if (TRANSIENT_SQLSTATES.has(code)) return 'transient';
      const cls = code.slice(0, 2);
      if (cls === '08' || cls === '53' || cls === '58') return 'transient';
      if (cls === '22' || cls === '23') return 'data';
      if (SYSTEMIC_CLASSES.has(cls)) return 'systemic';
      return 'other';
    }
    if (TRANSIENT_NODE_CODES.has(code)) return 'transient';
  }
  return isDroppedSocket(error) ? 'transient' : 'other';
}

function isDroppedSocket(error: object): boolean {
  const message = (error as { message?: unknown }).message;
  // node-postgres reports a dropped socket without any code; these are its fixed texts, not server messages.
  return (
    typeof message === 'string' &&
    (message.includes('Connection terminated') ||
      message.includes('connection timeout') ||
      message.includes('Client has encountered a connection error') ||
      message.includes('timeout exceeded when trying to connect'))
  );
}
