import {
  checkEnvelopeFields,
  DATA_TEXT_INDEX,
  DEFAULT_DECODE_LIMITS,
  type Envelope,
  encodedSize,
  encodeEnvelope,
} from '../lib/envelope.ts';
import { type FieldIssue, PayloadTooLargeError, ValidationError } from '../lib/errors.ts';
import type { EventRegistry } from '../lib/event-registry.ts';
import { findJsonTextIssue, scanJsonText } from '../lib/json-text.ts';
import { checkShape } from '../lib/payload-shape.ts';

/**
 * What a caller hands to `publish`: only `type` and `data` are required. `id` defaults to a fresh UUIDv7
 * (it is also the idempotency key, so a caller that retries must pass the same id), `v` to 1, `key` to the id,
 * `ts` to now.
 */
export interface PublishInput<D = Record<string, unknown>> {
  id?: string;
  type: string;
  v?: number;
  key?: string;
  /** Occurred-at time, ISO-8601 with a zone; a Date is converted. */
  ts?: string | Date;
  data: D;
  traceparent?: string;
}

export interface PrepareOptions {
  registry: EventRegistry | undefined;
  maxPayloadBytes: number;
  newId: () => string;
  now: () => number;
}

export type Prepared =
  | { ok: true; envelope: Envelope<unknown>; fields: string[]; size: number }
  | { ok: false; id: string | undefined; error: ValidationError | PayloadTooLargeError };

const INPUT_FIELDS = new Set(['id', 'type', 'v', 'key', 'ts', 'data', 'traceparent']);

/**
 * Fill defaults, validate and encode one event, without I/O. Every check the consumer side makes on decode is
 * made here first (envelope fields, payload shape, registry schema, size), so an event that passes is one the
 * worker can read; every invalid field path is reported at once, not only the first.
 */
export function prepareEvent(input: unknown, options: PrepareOptions): Prepared {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return reject(undefined, 'malformed_envelope', [{ path: '', message: 'expected an event object' }]);
  }
  const raw = input as Record<string, unknown>;
  const issues: FieldIssue[] = [];
  for (const name of Object.keys(raw)) {
    if (!INPUT_FIELDS.has(name)) issues.push({ path: name, message: 'unexpected field' });
  }

  const id = raw.id === undefined ? options.newId() : raw.id;
  const ts =
    raw.ts === undefined
      ? new Date(options.now()).toISOString()
      : raw.ts instanceof Date
        ? Number.isNaN(raw.ts.getTime())
          ? 'Invalid Date'
          : raw.ts.toISOString()
        : raw.ts;
  const candidate = {
    id,
    type: raw.type,
    v: raw.v === undefined ? 1 : raw.v,
    key: raw.key === undefined ? id : raw.key,
    ts,
    traceparent: raw.traceparent,
  };
  issues.push(...checkEnvelopeFields(candidate));
  const idText = typeof raw.id === 'string' ? raw.id : undefined;
  const envelopeBad = issues.length > 0;

  const data = raw.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    issues.push({ path: 'data', message: 'expected a JSON object' });
    return reject(idText, envelopeBad ? 'malformed_envelope' : 'schema_violation', issues);
  }
  const shape = checkShape(data, DEFAULT_DECODE_LIMITS.maxDepth);
  if (shape) {
    issues.push({ path: `data${shape.path}`, message: shape.message });
    return reject(idText, envelopeBad ? 'malformed_envelope' : shape.reason, issues);
  }
  // Schema issues are worth reporting next to envelope issues, as long as type and version can be looked up.
  if (options.registry && typeof candidate.type === 'string' && typeof candidate.v === 'number') {
    const check = options.registry.check({ type: candidate.type, v: candidate.v, data });
    if (!check.ok) {
      issues.push(...check.issues);
      return reject(idText, envelopeBad ? 'malformed_envelope' : check.reason, issues);
    }
  }
  if (envelopeBad) return reject(idText, 'malformed_envelope', issues);

  // The payload goes on the wire as given, not as the schema parsed it: consumers validate again against
  // their own registry, and a transforming schema must not change what was published.
  const envelope = { ...candidate, data } as Envelope<unknown>;
  if (envelope.traceparent === undefined) delete envelope.traceparent;
  let fields: string[];
  try {
    fields = encodeEnvelope(envelope);
  } catch (error) {
    return reject(idText, 'invalid_json', [
      { path: 'data', message: `not serializable as JSON: ${(error as Error).message}` },
    ]);
  }
  // The text is JSON.stringify's, so no key repeats; but an integer past 2^53 (already rounded in the caller's
  // hands) prints as a plain integer that the consumer refuses. Same rule, same reason, before anything is sent.
  const dataText = fields[DATA_TEXT_INDEX] as string;
  if (scanJsonText(dataText) < 0) {
    const issue = findJsonTextIssue(dataText);
    if (issue) return reject(idText, issue.reason, [{ path: `data${issue.path}`, message: issue.message }]);
  }
  const size = encodedSize(fields);
  if (size > options.maxPayloadBytes) {
    return { ok: false, id: idText, error: new PayloadTooLargeError(size, options.maxPayloadBytes) };
  }
  return { ok: true, envelope, fields, size };
}

function reject(id: string | undefined, reason: ValidationError['reason'], issues: FieldIssue[]): Prepared {
  return { ok: false, id, error: new ValidationError(reason, issues) };
}
