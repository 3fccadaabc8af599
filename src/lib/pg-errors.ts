/**
 * Postgres error classification by SQLSTATE (never by message text). Pure.
 *
 * - transient: the database or the connection is in trouble, the statement may succeed later
 *   (class 08 connection exception, 40001 serialization failure, 40P01 deadlock, 53 insufficient resources,
 *   57P01-57P05 admin/crash shutdown, cannot connect now, idle session timeout; also socket errors without a
 *   SQLSTATE such as ECONNREFUSED or "Connection terminated");
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
  '55P03',
  '25P03',
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
  const message = (error as { message?: unknown }).message;
  // node-postgres reports a dropped socket without any code; these are its fixed texts, not server messages.
  if (
    typeof message === 'string' &&
    (message.includes('Connection terminated') ||
      message.includes('connection timeout') ||
      message.includes('Client has encountered a connection error') ||
      message.includes('timeout exceeded when trying to connect'))
  ) {
    return 'transient';
  }
  return 'other';
}
