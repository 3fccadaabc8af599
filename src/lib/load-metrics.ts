import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Load-management metrics (docs/load-management.md): the adaptive concurrency limit, circuit breakers and
 * calls to other services. Part of the worker's metrics (createWorkerMetrics spreads them in), on the registry
 * passed in. `dependency` is `postgres` or a name a pipeline gives `ctx.call`: a handful, never per event.
 */
export const CIRCUIT_STATES = { closed: 0, half_open: 1, open: 2 } as const;
export type CircuitStateName = keyof typeof CIRCUIT_STATES;
/** Every `result` of streamsink_dependency_calls_total. */
export const CALL_RESULTS = ['ok', 'failed', 'timeout', 'refused', 'rejected'] as const;
export type CallResult = (typeof CALL_RESULTS)[number];

type GroupLabels = 'stream' | 'group';

export interface LoadMetrics {
  concurrencyLimit: Gauge<GroupLabels>;
  batchesInFlight: Gauge<GroupLabels>;
  concurrencyDrops: Counter<GroupLabels>;
  circuitState: Gauge<GroupLabels | 'dependency'>;
  circuitTransitions: Counter<GroupLabels | 'dependency' | 'to'>;
  dependencyCalls: Counter<GroupLabels | 'dependency' | 'result'>;
  dependencyCallDuration: Histogram<GroupLabels | 'dependency'>;
}

export function createLoadMetrics(registry: Registry): LoadMetrics {
  const registers = [registry];
  return {
    concurrencyLimit: new Gauge({
      name: 'streamsink_concurrency_limit',
      help: 'Batch transactions this worker may have in flight now (adaptive, at most STREAMSINK_CONCURRENCY)',
      labelNames: ['stream', 'group'],
      registers,
    }),
    batchesInFlight: new Gauge({
      name: 'streamsink_batches_in_flight',
      help: 'Batch writes to Postgres in flight now',
      labelNames: ['stream', 'group'],
      registers,
    }),
    concurrencyDrops: new Counter({
      name: 'streamsink_concurrency_drops_total',
      help: 'Batch writes that failed as overload (pool or statement timeout, too many connections, lost connection): each cuts the limit by 10%',
      labelNames: ['stream', 'group'],
      registers,
    }),
    circuitState: new Gauge({
      name: 'streamsink_circuit_state',
      help: 'Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open',
      labelNames: ['stream', 'group', 'dependency'],
      registers,
    }),
    circuitTransitions: new Counter({
      name: 'streamsink_circuit_transitions_total',
      help: 'Circuit breaker transitions per dependency, by the state entered',
      labelNames: ['stream', 'group', 'dependency', 'to'],
      registers,
    }),
    dependencyCalls: new Counter({
      name: 'streamsink_dependency_calls_total',
      help: 'Attempts of calls a pipeline made with ctx.call, by result (ok, failed, timeout, refused, rejected)',
      labelNames: ['stream', 'group', 'dependency', 'result'],
      registers,
    }),
    dependencyCallDuration: new Histogram({
      name: 'streamsink_dependency_call_duration_seconds',
      help: 'Duration of each attempt of a ctx.call, whatever its result',
      labelNames: ['stream', 'group', 'dependency'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  };
}
