import type { DeadLetterReason } from '../lib/errors.ts';
import { StreamsinkError } from '../lib/errors.ts';
import { classifyPgError } from '../lib/pg-errors.ts';
import { poisonReason } from './reasons.ts';

/**
 * What to do with an entry whose processing failed. Pure.
 *
 * - `retry`: transient trouble (Postgres or Redis down, deadlock, serialization failure). Retry in-process with
 *   backoff, never dead-letter: an outage must not turn good messages into dead letters.
 * - `dead-letter`: the message itself is bad (typed poison, Postgres data/constraint errors), or an unknown
 *   failure has now been delivered `maxDeliveries` times.
 * - `retry-later`: unknown failure with deliveries left. Leave the entry pending: it is reclaimed after
 *   STREAMSINK_CLAIM_IDLE_MS (by this or another worker) with its delivery count raised.
 *
 * Which reason a dead letter carries is named by reasons.ts (shared with the dead-letter tooling).
 */
export type Outcome = 'retry' | 'retry-later' | 'dead-letter';

export interface OutcomeInput {
  error: unknown;
  /** Times the group has delivered this entry, including the current delivery. */
  deliveryCount: number;
  maxDeliveries: number;
}

export function decideOutcome({ error, deliveryCount, maxDeliveries }: OutcomeInput): Outcome {
  if (isTransient(error)) return 'retry';
  if (poisonReason(error) !== undefined) return 'dead-letter';
  return deliveryCount >= maxDeliveries ? 'dead-letter' : 'retry-later';
}

/** The reason code recorded when `error` leads to a dead letter. */
export function deadLetterReason(error: unknown): DeadLetterReason {
  return poisonReason(error) ?? 'max_deliveries_exceeded';
}

export function isTransient(error: unknown): boolean {
  if (error instanceof StreamsinkError) return error.retryable;
  return classifyPgError(error) === 'transient';
}
