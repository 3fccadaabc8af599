import {
  type DeadLetterReason,
  isPoisonError,
  PayloadTooLargeError,
  TransientError,
  ValidationError,
} from '../lib/errors.ts';
import { classifyPgError } from '../lib/pg-errors.ts';

/**
 * Which reason code a failure is dead-lettered under. Pure: the worker decides when (outcome.ts: at once for
 * poison, never for transient failures, after max deliveries for the rest) and asks this module why, from typed
 * errors and SQLSTATE codes, never from message text.
 *
 *   decode failure (envelope.decodeEntry)     its own reason: malformed_envelope, invalid_json, oversize, ...
 *   bytes that are not UTF-8 (utf8-check.ts)  invalid_utf8
 *   measured in Redis (read-entries.lua)      oversize, max_deliveries_exceeded, never loaded into the worker
 *   registry failure (EventRegistry.check)    unknown_type, unsupported_version, schema_violation
 *   PoisonMessageError / ValidationError      the reason they carry (e.g. unsupported_currency)
 *   PayloadTooLargeError                      oversize
 *   Postgres class 22 / 23                    data_error
 *   anything else, once deliveries run out    max_deliveries_exceeded
 */

/** The reason a failure is permanent, or `undefined` when it may succeed on a later delivery. */
export function poisonReason(error: unknown): DeadLetterReason | undefined {
  if (isPoisonError(error) || error instanceof ValidationError) return error.reason;
  if (error instanceof PayloadTooLargeError) return 'oversize';
  if (error instanceof TransientError) return undefined;
  if (classifyPgError(error) === 'data') return 'data_error';
  return undefined;
}
