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
  USAGE: 'usage',
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
  'unknown_type',
  'unsupported_version',
  'schema_violation',
  'unsupported_currency',
  'data_error',
  'max_deliveries_exceeded',
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

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
  constructor(message: string) {
    super(ERROR_CODES.USAGE, message, false);
  }
}

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `data.amountMinor`. */
  path: string;
  message: string;
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

/** Infrastructure trouble (connection loss, serialization failure, deadlock): retry, never dead-letter. */
export class TransientError extends StreamsinkError {
  constructor(message: string, options: StreamsinkErrorOptions = {}) {
    super(ERROR_CODES.TRANSIENT, message, true, options);
  }
}

/** The message itself is bad and will never succeed: dead-letter it with `reason`. */
export class PoisonMessageError extends StreamsinkError {
  readonly reason: ReasonCode;

  constructor(reason: ReasonCode, message: string, options: StreamsinkErrorOptions = {}) {
    super(ERROR_CODES.POISON_MESSAGE, message, false, options);
    this.reason = reason;
  }
}

/** The database schema is older than this build needs. */
export class SchemaBehindError extends StreamsinkError {
  constructor(current: number, required: number) {
    super(
      ERROR_CODES.SCHEMA_BEHIND,
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

/** Render any thrown value as a one-line message, cut to `max` characters. */
export function describeError(error: unknown, max = 500): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
