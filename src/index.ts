/**
 * streamsink's public API: your own pipelines (definePipeline) and the worker that runs them (startWorker,
 * migrate), the producer SDK, the dead-letter SDK, the event envelope and registry, and the typed errors.
 * The conformance helper for your own test suite is the second entry, `streamsink/testing`.
 */

export type {
  DlqEntry,
  DlqEntrySummary,
  DlqFilter,
  DlqListOptions,
  DlqSelector,
  DlqStats,
  DlqTarget,
} from './admin/dlq.ts';
export { dlqList, dlqShow, dlqStats } from './admin/dlq.ts';
export type {
  PurgeOptions,
  PurgeResult,
  RedriveOptions,
  RedriveProgress,
  RedriveResult,
} from './admin/dlq-redrive.ts';
export { dlqPurge, dlqRedrive } from './admin/dlq-redrive.ts';
// Event identity: the content hash the dedupe marker and the inbox keep (docs/wire-format.md#content-hash).
export { contentHash } from './consumers/content-hash.ts';
// The decide form: effects, merge rules, the reserved context (docs/pipelines.md#decide, docs/proof.md).
export type {
  DecideContext,
  Effect,
  EffectValue,
  MergeRule,
  TableSpec,
} from './consumers/decide/effects.ts';
// Your own pipelines and the worker that runs them (docs/pipelines.md).
export type {
  AnyPipeline,
  ApplyContext,
  DecideEventOf,
  DefinedPipeline,
  EnrichContext,
  EventOf,
  EventSpec,
  PipelineDefinition,
  PipelineEvent,
  PipelineMigration,
  Transaction,
} from './consumers/define-pipeline.ts';
export { definePipeline } from './consumers/define-pipeline.ts';
export type { CallOptions, DependencySettings } from './consumers/dependency-caller.ts';
export type { EventVersions, UpcastingSpec } from './consumers/event-versions.ts';
export { eventVersions } from './consumers/event-versions.ts';
export type { PartitionMetrics } from './consumers/partitions/metrics.ts';
export { createPartitionMetrics } from './consumers/partitions/metrics.ts';
export type { StartWorkerOptions, WorkerHandle, WorkerSettings } from './consumers/start-worker.ts';
export { startWorker } from './consumers/start-worker.ts';
export type { WorkerHealth } from './consumers/worker.ts';
export type { WorkerConfig } from './lib/config.ts';
export type { DeadLetterMeta } from './lib/dead-letter-entry.ts';
export { decodeDeadLetter } from './lib/dead-letter-entry.ts';
export type { Envelope } from './lib/envelope.ts';
export { decodeEntry, encodeEnvelope } from './lib/envelope.ts';
export type { FieldIssue, ReasonCode } from './lib/errors.ts';
export {
  ConfigError,
  DependencyUnavailableError,
  IdempotencyConflictError,
  InvalidArgumentError,
  PartitionFencedError,
  PayloadTooLargeError,
  PermanentDependencyError,
  PoisonMessageError,
  REASON_CODES,
  SchemaBehindError,
  StreamNotFoundError,
  StreamsinkError,
  TransientError,
  UsageError,
  ValidationError,
} from './lib/errors.ts';
export type { EventDefinition, EventRegistry } from './lib/event-registry.ts';
export { createEventRegistry } from './lib/event-registry.ts';
export type { WorkerMetrics } from './lib/metrics.ts';
export { createProducerMetrics, createRegistry, createWorkerMetrics } from './lib/metrics.ts';
export type { MigrateLogger, MigrateOptions, MigrateResult } from './lib/migrations.ts';
export { assertSchemaCurrent, migrate, REQUIRED_SCHEMA_VERSION } from './lib/migrations.ts';
export type { PipelineSchema } from './lib/pipeline-migrations.ts';
export { streamKeys } from './lib/redis/keys.ts';
export { contentId } from './producers/content-id.ts';
export type { PublishInput } from './producers/prepare-event.ts';
export type { Accepted, Producer, ProducerOptions, PublishResult } from './producers/producer.ts';
export {
  createProducer,
  DEFAULT_DEDUPE_WINDOW_MS,
  DEFAULT_MAX_PAYLOAD_BYTES,
} from './producers/producer.ts';
export type { UuidV7Source } from './producers/uuidv7.ts';
export { createUuidV7 } from './producers/uuidv7.ts';
