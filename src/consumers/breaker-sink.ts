import { BrokenCircuitError } from 'cockatiel';
import { TransientError } from '../lib/errors.ts';
import type { Breaker } from './circuit-breaker.ts';
import type { BatchSink } from './types.ts';

/**
 * The Postgres circuit breaker as a sink middleware. Builds on the batch processor's outage handling rather
 * than beside it: while the circuit is open a write fails at once with a TransientError, which the processor
 * already treats as "sink failing" (reading paused while batches are held, the batch retried with backoff,
 * nothing dead-lettered). What the breaker adds is that those retries stop hitting a database that is down:
 * only the half-open trial goes through, and the first batch that commits closes the circuit. Its cause is
 * the failure that opened the circuit, so readiness still tells "Postgres unreachable" apart.
 */
export function breakerSink(sink: BatchSink, breaker: Breaker): BatchSink {
  return {
    async write(items) {
      try {
        return await breaker.execute(() => sink.write(items));
      } catch (error) {
        if (!(error instanceof BrokenCircuitError)) throw error;
        const last = breaker.lastFailure;
        throw new TransientError('postgres circuit open: batch waits for the trial write', {
          cause: last && 'error' in last ? last.error : error,
        });
      }
    },
  };
}
