import { redactText } from './redact.ts';

/**
 * The one catalogue of streamsink error codes. Classify by `code` (and `retryable`), never by message text.
 * Every code here is documented in docs/errors.md; a unit test keeps the two in step.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'config_invalid',
  VALIDATION_FAILED: 'validation_failed',
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  TRANSIENT: 'transient',
  POISON_MESSAGE: 'poison_message',
  SCHEMA_BEHIND: 'schema_behind',
  STREAM_NOT_FOUND: 'stream_not_found',
  CONNECTION_FAILED: 'connection_failed',
  USAGE: 'usage',
  INVALID_ARGUMENT: 'invalid_argument',
  STREAM_LAYOUT: 'stream_layout',
  IDEMPOTENCY_CONFLICT: 'idempotency_conflict',
  PARTITION_FENCED: 'partition_fenced',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/**
 * Why a message was dead-lettered: a stable, documented list (docs/wire-format.md#reason-codes).
 * Operators filter and redrive by these strings, so they never change meaning.
 */
export const REASON_CODES = [
  'malformed_envelope',
  'invalid_json',
  'invalid_utf8',
  'oversize',
  'payload_too_deep',
  'forbidden_key',
  'duplicate_key',
  'imprecise_number',
  'unknown_type',
  'unsupported_version',
  'schema_violation',
  'unsupported_currency',
  'data_error',
  'invalid_effects',
  'id_conflict',
  'dependency_refused',
  'max_deliveries_exceeded',
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

/** A built-in reason code, or one a pipeline declared (`definePipeline({ reasons })`). */
export type DeadLetterReason = ReasonCode | (string & {});

export function isReasonCode(value: string): value is ReasonCode {
  return (REASON_CODES as readonly string[]).includes(value);
}

export interface StreamsinkErrorOptions {
  cause?: unknown;
}

/** Base of every error streamsink throws on purpose. */
export class StreamsinkError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, retryable: boolean, options: StreamsinkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
  }
}

export interface ConfigIssue {
  variable: string;
  expected: string;
  received: string;
}

/** Bad configuration: every issue is listed; the CLI prints the message and exits 2. */
export class ConfigError extends StreamsinkError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map((i) => `  - ${i.variable}: expected ${i.expected}, got ${i.received}`);
    super(ERROR_CODES.CONFIG_INVALID, `invalid configuration:\n${lines.join('\n')}`, false);
    this.issues = issues;
  }
}

/** A command line that cannot be acted on (unknown flag, missing selector). The CLI exits 2. */
export class UsageError extends StreamsinkError {
  constructor(message: string, code: ErrorCode = ERROR_CODES.USAGE) {
    super(code, message, false);
  }
}

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `data.amountMinor`. */
  path: string;
  message: string;
}

/**
 * A call to an SDK function with arguments it cannot act on: an unknown or misplaced key in an option object
 * (`dryRun` in a purge selector), a wrong type, a missing argument. Thrown before any I/O, so nothing changed.
 * `issues` names each offending argument path (`selector`, `options.limit`). A subclass of UsageError, which
 * these calls threw before the checks were strict, so code that catches UsageError still catches it.
 */
export class InvalidArgumentError extends UsageError {
  /** The SDK function that refused the call, e.g. `dlqPurge`. */
  readonly function: string;
  readonly issues: readonly FieldIssue[];

  constructor(fn: string, issues: readonly FieldIssue[]) {
    super(`${fn}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, ERROR_CODES.INVALID_ARGUMENT);
    this.function = fn;
    this.issues = issues;
  }
}

/** An event that fails its envelope or schema check at publish time. Nothing was written. */
export class ValidationError extends StreamsinkError {
  readonly issues: readonly FieldIssue[];
  readonly reason: ReasonCode;

  constructor(reason: ReasonCode, issues: readonly FieldIssue[], options: StreamsinkErrorOptions = {}) {
    const detail = issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
    super(ERROR_CODES.VALIDATION_FAILED, `${reason}: ${detail}`, false, options);
    this.issues = issues;
    this.reason = reason;
  }
}

/** An event larger than the configured payload limit. */
export class PayloadTooLargeError extends StreamsinkError {
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number) {
    super(ERROR_CODES.PAYLOAD_TOO_LARGE, `event is ${size} bytes, over the limit of ${limit} bytes`, false);
    this.size = size;
    this.limit = limit;
  }
}

/**
 * An idempotent publish of an event id that was already published, within the dedupe window, with other
 * content (`type`, `v`, `key` or `data`; docs/wire-format.md#content-hash). Nothing was written: the first
 * content stays the event. Not retryable: the same id with this content is refused again. Give the new
 * content a new id, or publish the original content if this was meant as a retry.
 */
export class IdempotencyConflictError extends StreamsinkError {
  /** The event id both publishes used. */
  readonly id: string;
  /** The stream entry the first publish added. */
  readonly entryId: string;
  /** The content hash of the refused event (64 hex). */
  readonly contentHash: string;

  constructor(id: string, entryId: string, contentHash: string) {
    super(
      ERROR_CODES.IDEMPOTENCY_CONFLICT,
      `event id ${id} was already published (entry ${entryId}) with other content; nothing was written`,
      false,
    );
    this.id = id;
    this.entryId = entryId;
    this.contentHash = contentHash;
  }
}

/** Infrastructure trouble (connection loss, serialization failure, deadlock): retry, never dead-letter. */
export class TransientError extends StreamsinkError {
  constructor(message: string, options: StreamsinkErrorOptions = {}) {
    super(ERROR_CODES.TRANSIENT, message, true, options);
  }
}

/**
 * The message itself is bad and will never succeed: dead-letter it with `reason`, a built-in
 * {@link ReasonCode} or one the pipeline declared (`definePipeline({ reasons })`). Pipelines throw it from
 * `check`, `apply` or `handle`; the event is dead-lettered and its batch-mates commit.
 */
export class PoisonMessageError extends StreamsinkError {
  readonly reason: DeadLetterReason;

  constructor(reason: DeadLetterReason, message: string, options: StreamsinkErrorOptions = {}) {
    super(ERROR_CODES.POISON_MESSAGE, message, false, options);
    this.reason = reason;
  }
}

/**
 * Whether `error` is a {@link PoisonMessageError}, judged by its code rather than its class: a pipeline file
 * may import another copy of the package (its own node_modules), whose class is not this one.
 */
export function isPoisonError(error: unknown): error is PoisonMessageError {
  const e = error as { code?: unknown; reason?: unknown } | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    e.code === ERROR_CODES.POISON_MESSAGE &&
    typeof e.reason === 'string'
  );
}

/** The shape of a reason code: built-in ones and those pipelines declare. */
export const REASON_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * A service a pipeline calls in `enrich` (through `ctx.call`) refused the event for good: a 4xx, an unknown
 * customer, a currency it will never quote. Throw it from the function given to `ctx.call`: it is not retried,
 * does not count against the service's circuit breaker, and the event is dead-lettered with `reason`
 * (default `dependency_refused`; a pipeline may use one of its declared reasons). An outage (timeout, 5xx,
 * connection refused) is any other error: retried, never dead-lettered.
 *
 * @example
 * const res = await fetch(url, { signal });
 * if (res.status >= 400 && res.status < 500) throw new PermanentDependencyError(`fraud service: ${res.status}`);
 * if (!res.ok) throw new Error(`fraud service: ${res.status}`); // retried
 */
export class PermanentDependencyError extends PoisonMessageError {
  constructor(message: string, options: StreamsinkErrorOptions & { reason?: DeadLetterReason } = {}) {
    super(options.reason ?? 'dependency_refused', message, options);
  }
}

/**
 * A service a pipeline calls could not answer: its retries ran out, or its circuit is open. Transient: the
 * batch waits and retries with backoff, reading pauses, nothing is dead-lettered (docs/load-management.md).
 */
export class DependencyUnavailableError extends TransientError {
  readonly dependency: string;

  constructor(dependency: string, message: string, options: StreamsinkErrorOptions = {}) {
    super(message, options);
    this.dependency = dependency;
  }
}

/** The database schema is older than this build needs. */
export class SchemaBehindError extends StreamsinkError {
  constructor(current: number, required: number, message?: string) {
    super(
      ERROR_CODES.SCHEMA_BEHIND,
      message ??
        `database schema is at version ${current}, this build needs ${required}: run \`streamsink migrate\` ` +
          'first, or set STREAMSINK_AUTO_MIGRATE=true',
      false,
    );
  }
}

/** An operator named a stream that has no entries and no group in Redis. */
export class StreamNotFoundError extends StreamsinkError {
  constructor(key: string) {
    super(ERROR_CODES.STREAM_NOT_FOUND, `stream ${key} does not exist`, false);
  }
}

/** A stream's partition metadata conflicts with what was asked, or was written by an unknown scheme. */
export class StreamLayoutError extends StreamsinkError {
  constructor(stream: string, detail: string) {
    super(ERROR_CODES.STREAM_LAYOUT, `stream ${stream}: ${detail}`, false);
  }
}

/**
 * A batch of an ordered partition was refused by the fencing check: another worker acquired the partition
 * (its epoch in `streamsink_partition_owners` moved on) since this worker did. Nothing was committed; the
 * worker drops the partition without acknowledging, and the new owner delivers those entries again.
 */
export class PartitionFencedError extends StreamsinkError {
  readonly partition: number;
  constructor(stream: string, partition: number, epoch: number) {
    super(
      ERROR_CODES.PARTITION_FENCED,
      `stream ${stream} partition ${partition}: epoch ${epoch} is no longer current; another worker owns it`,
      false,
    );
    this.partition = partition;
  }
}

/**
 * A command could not connect to Redis or Postgres, or the server refused its credentials. The message is
 * one line for an operator: what failed, which server (URL with user name and password masked), what to
 * check. Retryable unless the server refused the credentials or the TLS handshake: those need a change.
 */
export class ConnectionError extends StreamsinkError {
  readonly service: 'redis' | 'postgres';
  readonly kind: string;

  constructor(
    service: 'redis' | 'postgres',
    kind: string,
    message: string,
    retryable: boolean,
    options: StreamsinkErrorOptions = {},
  ) {
    super(ERROR_CODES.CONNECTION_FAILED, message, retryable, options);
    this.service = service;
    this.kind = kind;
  }
}

/**
 * Render any thrown value as a one-line message, cut to `max` characters, with credentials masked
 * (src/lib/redact.ts): the text goes into logs, CLI output and dead-letter entries. Only the name and
 * message are used, never driver fields such as ioredis' `command`.
 */
export function describeError(error: unknown, max = 500): string {
  const text = redactText(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
