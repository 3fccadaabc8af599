import {
  type CircuitBreakerPolicy,
  CircuitState,
  circuitBreaker,
  handleWhen,
  SamplingBreaker,
} from 'cockatiel';
import type { BreakerSettings } from '../lib/config.ts';
import { CIRCUIT_STATES, type CircuitStateName, type LoadMetrics } from '../lib/load-metrics.ts';
import type { Logger } from '../lib/logger.ts';

/**
 * One circuit breaker per dependency (Postgres, and each service a pipeline calls), built on cockatiel's
 * SamplingBreaker (docs/load-management.md#circuit-breakers says why cockatiel rather than opossum):
 *
 *   closed    -> open       more than `failureRate` of the calls in the last `windowMs` failed (given at
 *                           least `minCalls` calls in that window, so two failures on a quiet stream do not
 *                           trip it);
 *   open      -> half-open  after `halfOpenAfterMs`, the next call is the trial (the others wait for it);
 *   half-open -> closed     the trial succeeded;  half-open -> open: it failed.
 *
 * Only outages count (`isFailure`): a permanent refusal from a service, or a bad event, is an answer, and
 * counts as a success for the breaker. While open, calls fail fast with cockatiel's BrokenCircuitError, which
 * the callers turn into a transient error: the batch waits and retries, reading pauses, nothing is
 * dead-lettered. State and transitions go to `streamsink_circuit_state` / `_transitions_total` and the log.
 */
export type { BreakerSettings };

export interface BreakerOptions {
  dependency: string;
  settings: BreakerSettings;
  /** Whether an error is an outage of this dependency (counts against it). */
  isFailure: (error: unknown) => boolean;
  metrics?: Pick<LoadMetrics, 'circuitState' | 'circuitTransitions'>;
  labels: { stream: string; group: string };
  logger?: Pick<Logger, 'warn' | 'info'>;
}

export type Breaker = CircuitBreakerPolicy;

const NAMES: Record<CircuitState, CircuitStateName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.HalfOpen]: 'half_open',
  [CircuitState.Open]: 'open',
  // Isolation (held open by hand) is not used by streamsink; it reads as open.
  [CircuitState.Isolated]: 'open',
};

export function breakerStateName(breaker: Breaker): CircuitStateName {
  return NAMES[breaker.state];
}

export function createBreaker(options: BreakerOptions): Breaker {
  const { dependency, settings, metrics, logger } = options;
  const labels = { ...options.labels, dependency };
  const breaker = circuitBreaker(handleWhen(options.isFailure), {
    halfOpenAfter: settings.halfOpenAfterMs,
    breaker: new SamplingBreaker({
      threshold: settings.failureRate,
      duration: settings.windowMs,
      minimumRps: settings.minCalls / (settings.windowMs / 1000),
    }),
  });
  metrics?.circuitState.set(labels, CIRCUIT_STATES.closed);
  for (const to of Object.keys(CIRCUIT_STATES)) metrics?.circuitTransitions.inc({ ...labels, to }, 0);
  breaker.onStateChange((state) => {
    const to = NAMES[state];
    metrics?.circuitState.set(labels, CIRCUIT_STATES[to]);
    metrics?.circuitTransitions.inc({ ...labels, to });
    const where = { dependency, stream: labels.stream, group: labels.group, state: to };
    if (to === 'open') logger?.warn(where, 'circuit open: calls fail fast, batches wait, reading pauses');
    else if (to === 'half_open') logger?.info(where, 'circuit half-open: one trial call');
    else logger?.info(where, 'circuit closed: dependency recovered');
  });
  return breaker;
}
