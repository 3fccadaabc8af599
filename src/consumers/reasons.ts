import {
  PayloadTooLargeError,
  PoisonMessageError,
  type ReasonCode,
  TransientError,
  ValidationError,
} from '../lib/errors.ts';
import { classifyPgError } from '../lib/pg-errors.ts';

/**
 * Which reason code a failure is dead-lettered under. Pure: the worker decides when (at once for poison, after
 * max deliveries for the rest), this module only names why, from typed errors and SQLSTATE codes, never from
 * message text.
 *
 *   decode failure (envelope.decodeEntry)     its own reason: malformed_envelope, invalid_json, oversize, ...
 *   registry failure (EventRegistry.check)    unknown_type, unsupported_version, schema_violation
 *   PoisonMessageError / ValidationError      the reason they carry (e.g. unsupported_currency)
 *   PayloadTooLargeError                      oversize
 *   Postgres class 22 / 23                    data_error
 *   anything else, once deliveries run out    max_deliveries_exceeded
 */

/** The reason a failure is permanent, or `undefined` when it may succeed on a later delivery. */
export function poisonReason(error: unknown): ReasonCode | undefined {
  if (error instanceof PoisonMessageError || error instanceof ValidationError) return error.reason;
  if (error instanceof PayloadTooLargeError) return 'oversize';
  if (error instanceof TransientError) return undefined;
  if (classifyPgError(error) === 'data') return 'data_error';
  return undefined;
}

export interface DeadLetterDecisionInput {
  error: unknown;
  /** The group's delivery counter for the entry (1 on first delivery). */
  deliveryCount: number;
  maxDeliveries: number;
}

/**
 * Whether to dead-letter a failed entry now, and why. Transient failures never dead-letter, whatever the
 * delivery count: a Postgres outage must not turn good events into dead letters. Poison dead-letters at once;
 * any other failure once the entry has been delivered `maxDeliveries` times.
 */
export function deadLetterReason(input: DeadLetterDecisionInput): ReasonCode | undefined {
  if (isTransient(input.error)) return undefined;
  const reason = poisonReason(input.error);
  if (reason !== undefined) return reason;
  return input.deliveryCount >= input.maxDeliveries ? 'max_deliveries_exceeded' : undefined;
}

/**
 * An entry that arrives already delivered `maxDeliveries` times or more without being acknowledged (the
 * process handling it died each time, so no error was ever seen): dead-letter it before handling it again.
 */
export function exhaustedDeliveries(deliveryCount: number, maxDeliveries: number): boolean {
  return deliveryCount > maxDeliveries;
}

function isTransient(error: unknown): boolean {
  if (error instanceof TransientError) return true;
  if (error instanceof PoisonMessageError || error instanceof ValidationError) return false;
  return classifyPgError(error) === 'transient';
}

/** Error class name and a stored message for a DeadLetterRecord (the dead-letter encoder sanitizes it). */
export function describeFailure(error: unknown): { errorClass: string; errorMessage: string } {
  if (error instanceof Error) return { errorClass: error.name || 'Error', errorMessage: error.message };
  return { errorClass: typeof error, errorMessage: String(error) };
}
