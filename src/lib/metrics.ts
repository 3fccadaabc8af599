import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { createLoadMetrics, type LoadMetrics } from './load-metrics.ts';
import type { PgErrorClass } from './pg-errors.ts';

/**
 * Metric definitions. Names and labels are a public contract (docs/metrics.md). Everything is registered on a
 * Registry passed in by the composition root, never on prom-client's global one. Label values are bounded:
 * stream, group, pipeline, outcome, kind, class; never an event id or key.
 */
export const MESSAGE_OUTCOMES = ['acked', 'dead_lettered', 'retried', 'duplicate'] as const;
export type MessageOutcome = (typeof MESSAGE_OUTCOMES)[number];
/** Every `kind` of streamsink_redis_errors_total the worker emits (docs/metrics.md). */
export const REDIS_ERROR_KINDS = [
  'read',
  'ack',
  'dead_letter',
  'reclaim',
  'lease',
  'connection',
  'stats',
  'doorbell',
] as const;
export type RedisErrorKind = (typeof REDIS_ERROR_KINDS)[number];
// A Record over PgErrorClass: a class added there fails to compile here until it is initialised too.
const PG_CLASSES: Record<PgErrorClass, true> = { transient: true, systemic: true, data: true, other: true };
/** Every `class` of streamsink_postgres_errors_total. */
export const POSTGRES_ERROR_CLASSES = Object.keys(PG_CLASSES) as PgErrorClass[];

/**
 * End-to-end latency buckets, up to a day: after an outage the backlog is hours old, and a histogram whose
 * top bucket is 5 minutes reads "300 s" for p50 and p99 alike (histogram_quantile cannot go past the highest
 * finite bucket).
 */
export const END_TO_END_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 14400, 28800,
  86400,
];

export interface WorkerMetrics extends LoadMetrics {
  messages: Counter<'stream' | 'group' | 'pipeline' | 'outcome'>;
  batchDuration: Histogram<'stream' | 'group' | 'pipeline'>;
  batchSize: Histogram<'stream' | 'group' | 'pipeline'>;
  endToEndLatency: Histogram<'stream' | 'group' | 'pipeline'>;
  inFlight: Gauge<'stream' | 'group'>;
  inFlightLimit: Gauge<'stream' | 'group'>;
  backpressurePaused: Gauge<'stream' | 'group'>;
  consumerLag: Gauge<'stream' | 'group'>;
  pending: Gauge<'stream' | 'group'>;
  oldestPendingAge: Gauge<'stream' | 'group'>;
  deadLetter: Gauge<'stream'>;
  streamLength: Gauge<'stream'>;
  statsSampledAt: Gauge<'stream' | 'group'>;
  dataLossSuspected: Gauge<'stream' | 'group'>;
  claimed: Counter<'stream' | 'group'>;
  claimedDeleted: Counter<'stream' | 'group'>;
  groupRecreated: Counter<'stream' | 'group'>;
  readsCutOff: Counter<'stream' | 'group'>;
  redisErrors: Counter<'kind'>;
  postgresErrors: Counter<'class'>;
  dependencyUp: Gauge<'stream' | 'group' | 'dependency'>;
}

export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const registers = [registry];
  return {
    ...createLoadMetrics(registry),
    messages: new Counter({
      name: 'streamsink_messages_total',
      help: 'Messages finished by this worker, by outcome',
      labelNames: ['stream', 'group', 'pipeline', 'outcome'],
      registers,
    }),
    batchDuration: new Histogram({
      name: 'streamsink_batch_duration_seconds',
      help: 'Postgres transaction time per batch',
      labelNames: ['stream', 'group', 'pipeline'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    batchSize: new Histogram({
      name: 'streamsink_batch_size',
      help: 'Entries per batch written to Postgres',
      labelNames: ['stream', 'group', 'pipeline'],
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
      registers,
    }),
    endToEndLatency: new Histogram({
      name: 'streamsink_end_to_end_latency_seconds',
      help: 'Time from the stream entry being added to its batch committing',
      labelNames: ['stream', 'group', 'pipeline'],
      buckets: END_TO_END_BUCKETS,
      registers,
    }),
    inFlight: new Gauge({
      name: 'streamsink_in_flight_messages',
      help: 'Entries read and not yet finished by this worker',
      labelNames: ['stream', 'group'],
      registers,
    }),
    inFlightLimit: new Gauge({
      name: 'streamsink_in_flight_limit',
      help: 'STREAMSINK_MAX_IN_FLIGHT of this worker',
      labelNames: ['stream', 'group'],
      registers,
    }),
    backpressurePaused: new Gauge({
      name: 'streamsink_backpressure_paused',
      help: '1 while reading is paused (in-flight full or sink failing)',
      labelNames: ['stream', 'group'],
      registers,
    }),
    consumerLag: new Gauge({
      name: 'streamsink_consumer_lag_messages',
      help: 'Entries not yet delivered to the group (XINFO GROUPS lag); aggregate with max',
      labelNames: ['stream', 'group'],
      registers,
    }),
    pending: new Gauge({
      name: 'streamsink_pending_messages',
      help: 'Entries delivered to the group and not acknowledged; aggregate with max',
      labelNames: ['stream', 'group'],
      registers,
    }),
    oldestPendingAge: new Gauge({
      name: 'streamsink_oldest_pending_age_seconds',
      help: 'Age of the oldest pending entry of the group (by its id time); aggregate with max',
      labelNames: ['stream', 'group'],
      registers,
    }),
    deadLetter: new Gauge({
      name: 'streamsink_dead_letter_messages',
      help: 'Entries in the dead-letter stream; aggregate with max',
      labelNames: ['stream'],
      registers,
    }),
    streamLength: new Gauge({
      name: 'streamsink_stream_length_messages',
      help: 'XLEN of the stream; aggregate with max',
      labelNames: ['stream'],
      registers,
    }),
    statsSampledAt: new Gauge({
      name: 'streamsink_stats_sampled_timestamp_seconds',
      help: 'Unix time of the last successful sample of the Redis-side gauges (lag, pending, ...)',
      labelNames: ['stream', 'group'],
      registers,
    }),
    dataLossSuspected: new Gauge({
      name: 'streamsink_stream_data_loss_suspected',
      help: '1 when Redis is behind what the group committed (stream lost or recreated), else 0; see docs/operations.md',
      labelNames: ['stream', 'group'],
      registers,
    }),
    claimed: new Counter({
      name: 'streamsink_claimed_total',
      help: 'Pending entries taken over from idle consumers',
      labelNames: ['stream', 'group'],
      registers,
    }),
    claimedDeleted: new Counter({
      name: 'streamsink_claimed_deleted_total',
      help: 'Pending entries whose stream entry was already deleted (trimmed) when claimed',
      labelNames: ['stream', 'group'],
      registers,
    }),
    groupRecreated: new Counter({
      name: 'streamsink_group_recreated_total',
      help: 'Times the consumer group (or stream) vanished and was recreated',
      labelNames: ['stream', 'group'],
      registers,
    }),
    readsCutOff: new Counter({
      name: 'streamsink_reads_cut_off_total',
      help: 'Plain reads whose reply passed the byte budget and were cut off (their entries are reclaimed later)',
      labelNames: ['stream', 'group'],
      registers,
    }),
    redisErrors: new Counter({
      name: 'streamsink_redis_errors_total',
      help: 'Redis command or connection errors, by kind',
      labelNames: ['kind'],
      registers,
    }),
    postgresErrors: new Counter({
      name: 'streamsink_postgres_errors_total',
      help: 'Postgres errors, by class (transient, systemic, data, other)',
      labelNames: ['class'],
      registers,
    }),
    dependencyUp: new Gauge({
      name: 'streamsink_dependency_up',
      help: '1 when the dependency answers the readiness check (and, for postgres, batches commit), else 0',
      labelNames: ['stream', 'group', 'dependency'],
      registers,
    }),
  };
}

/**
 * Create every labelled series the worker can emit, at 0, before the first scrape. A counter series that
 * appears only at its first increment starts at 1, and `increase()`/`rate()` need two samples of one series:
 * the first dead letter (or group recreation, or error) would never show in an alert or a panel.
 * `streamsink_dependency_up` is left to its monitor, which sets it from a real check at start.
 */
export function initWorkerSeries(
  metrics: WorkerMetrics,
  labels: { stream: string; group: string; pipeline: string },
): void {
  const group = { stream: labels.stream, group: labels.group };
  for (const outcome of MESSAGE_OUTCOMES) metrics.messages.inc({ ...labels, outcome }, 0);
  for (const h of [metrics.batchDuration, metrics.batchSize, metrics.endToEndLatency]) h.zero(labels);
  for (const c of [metrics.claimed, metrics.claimedDeleted, metrics.groupRecreated, metrics.readsCutOff])
    c.inc(group, 0);
  for (const kind of REDIS_ERROR_KINDS) metrics.redisErrors.inc({ kind }, 0);
  for (const cls of POSTGRES_ERROR_CLASSES) metrics.postgresErrors.inc({ class: cls }, 0);
  metrics.backpressurePaused.set(group, 0);
}

export interface ProducerMetrics {
  published: Counter<'stream' | 'outcome'>;
  publishLatency: Histogram<'stream'>;
}

/** Producer-side metrics, on a registry the SDK user passes in. */
export function createProducerMetrics(registry: Registry): ProducerMetrics {
  return {
    published: new Counter({
      name: 'streamsink_published_total',
      help: 'Events handed to publish, by outcome (added, duplicate, conflict, rejected)',
      labelNames: ['stream', 'outcome'],
      registers: [registry],
    }),
    publishLatency: new Histogram({
      name: 'streamsink_publish_duration_seconds',
      help: 'Time of one publish or publishBatch call',
      labelNames: ['stream'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
  };
}

/**
 * `streamsink_build_info{version,node}` = 1: which build each pod runs (join on it in queries), and a series
 * that exists as long as the process is scraped.
 */
export function registerBuildInfo(registry: Registry, info: { version: string }): void {
  const g = new Gauge({
    name: 'streamsink_build_info',
    help: 'Build of this process; always 1',
    labelNames: ['version', 'node'],
    registers: [registry],
  });
  g.set({ version: info.version, node: process.versions.node }, 1);
}

const LINT_FAILING_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function createRegistry(options: { defaultMetrics: boolean }): Registry {
  const registry = new Registry();
  if (options.defaultMetrics) {
    collectDefaultMetrics({ register: registry });
    // prom-client names three gauges `*_total`, which `promtool check metrics` rejects (that suffix means a
    // counter). Their per-type siblings (nodejs_active_handles{type}, ...) carry the same numbers.
    for (const name of LINT_FAILING_DEFAULT_METRICS) registry.removeSingleMetric(name);
  }
  return registry;
}
