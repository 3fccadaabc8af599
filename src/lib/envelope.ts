import type { FieldIssue, ReasonCode } from './errors.ts';
import { findJsonTextIssue, scanJsonText } from './json-text.ts';
import { checkShape, cleanShapeKeys } from './payload-shape.ts';
import { isValidTimestamp } from './timestamp.ts';

/**
 * The event envelope and its Redis field layout, a public contract (docs/wire-format.md). One stream entry is
 * one event, stored as flat string fields:
 *
 *   id           event id, also the idempotency key (UUIDv7 when the producer does not supply one)
 *   type         event type, e.g. `payment.captured`
 *   v            schema version, a positive integer in decimal
 *   key          ordering / partition key
 *   ts           occurred-at time, ISO-8601 with a zone (`2026-11-21T10:00:00.000Z`; timestamp.ts)
 *   data         the payload: a JSON object, each key once per object, every number exact (json-text.ts)
 *   traceparent  optional W3C trace context
 *
 * The fields come in exactly this order. Encoding and decoding are pure; decoding never throws, it returns
 * the reason an entry is unusable.
 */
export interface Envelope<D = Record<string, unknown>> {
  id: string;
  type: string;
  v: number;
  key: string;
  ts: string;
  data: D;
  traceparent?: string;
}

export const ENVELOPE_FIELDS = ['id', 'type', 'v', 'key', 'ts', 'data', 'traceparent'] as const;

export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
export const TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const KEY_PATTERN = /^[^\u0000-\u001f]{1,256}$/;
const VERSION_PATTERN = /^[1-9][0-9]{0,8}$/;
const TRACEPARENT_PATTERN = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_PARENT_ID = '0'.repeat(16);

/**
 * A W3C Trace Context `traceparent` (version-traceid-parentid-flags, lower-case hex) that the recommendation
 * calls valid: an all-zero trace id or parent id is invalid, and so is version `ff`.
 */
export function isValidTraceparent(value: string): boolean {
  return (
    TRACEPARENT_PATTERN.test(value) &&
    !value.startsWith('ff-') &&
    value.slice(3, 35) !== ZERO_TRACE_ID &&
    value.slice(36, 52) !== ZERO_PARENT_ID
  );
}

export interface DecodeLimits {
  /** Largest total size of an entry's field names and values, in UTF-8 bytes. */
  maxBytes: number;
  /** Deepest nesting of objects and arrays allowed in `data`. */
  maxDepth: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxBytes: 1024 * 1024, maxDepth: 32 };

export type DecodeResult =
  /** `dataText` is the `data` field exactly as read, which parsed to `envelope.data`. */
  | { ok: true; envelope: Envelope; dataText: string }
  | { ok: false; reason: ReasonCode; message: string; issues: FieldIssue[] };

/** Where encodeEnvelope puts the `data` text in its field list. */
export const DATA_TEXT_INDEX = 11;

/** Field list of an envelope, in wire order, ready for XADD. */
export function encodeEnvelope(envelope: Envelope<unknown>): string[] {
  const fields = [
    'id',
    envelope.id,
    'type',
    envelope.type,
    'v',
    String(envelope.v),
    'key',
    envelope.key,
    'ts',
    envelope.ts,
    'data',
    JSON.stringify(envelope.data),
  ];
  if (envelope.traceparent !== undefined) fields.push('traceparent', envelope.traceparent);
  return fields;
}

/** Size in bytes of an encoded field list, as Redis stores it. */
export function encodedSize(fields: readonly string[]): number {
  let size = 0;
  for (const f of fields) size += Buffer.byteLength(f, 'utf8');
  return size;
}

/** Check the envelope's own fields (not the payload schema). Returns the issues, empty when valid. */
export function checkEnvelopeFields(e: {
  id: unknown;
  type: unknown;
  v: unknown;
  key: unknown;
  ts: unknown;
  traceparent?: unknown;
}): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (typeof e.id !== 'string' || !ID_PATTERN.test(e.id))
    issues.push({ path: 'id', message: 'expected 1-128 characters from A-Z a-z 0-9 . _ : -' });
  if (typeof e.type !== 'string' || !TYPE_PATTERN.test(e.type))
    issues.push({ path: 'type', message: 'expected a type name such as payment.captured' });
  if (typeof e.v !== 'number' || !Number.isInteger(e.v) || e.v < 1 || e.v > 999_999_999)
    issues.push({ path: 'v', message: 'expected a positive integer version' });
  if (typeof e.key !== 'string' || !KEY_PATTERN.test(e.key))
    issues.push({ path: 'key', message: 'expected 1-256 characters without control characters' });
  if (typeof e.ts !== 'string' || !isValidTimestamp(e.ts))
    issues.push({
      path: 'ts',
      message: 'expected an existing time as YYYY-MM-DDTHH:MM:SS[.fraction] with Z or an offset up to ±15:59',
    });
  if (
    e.traceparent !== undefined &&
    (typeof e.traceparent !== 'string' || !isValidTraceparent(e.traceparent))
  )
    issues.push({
      path: 'traceparent',
      message: 'expected a W3C traceparent: 00-<32 hex>-<16 hex>-<2 hex>, lower case, ids not all zeros',
    });
  return issues;
}

/**
 * Decode a stream entry's flat field list into an envelope. Pure and total: any input, however broken,
 * yields either an envelope or a reason code from the catalogue.
 */
export function decodeEntry(
  fields: readonly string[],
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): DecodeResult {
  if (fields.length === 0) return fail('malformed_envelope', 'entry has no fields', '');
  if (overLimit(fields, limits.maxBytes))
    return fail('oversize', `entry is over the limit of ${limits.maxBytes} bytes`, '');
  if (fields.length % 2 !== 0) return fail('malformed_envelope', 'odd number of field items', '');

  // One pass over the names into locals (no Map): the first unexpected, repeated or out-of-order name wins.
  // `rank` is the position in ENVELOPE_FIELDS of the last name read: each name must come after it.
  let rank = -1;
  let id: string | undefined;
  let type: string | undefined;
  let vText: string | undefined;
  let key: string | undefined;
  let ts: string | undefined;
  let dataText: string | undefined;
  let traceparent: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    const value = fields[i + 1] as string;
    let seen: boolean;
    let order: number;
    switch (name) {
      case 'id':
        seen = id !== undefined;
        id = value;
        order = 0;
        break;
      case 'type':
        seen = type !== undefined;
        type = value;
        order = 1;
        break;
      case 'v':
        seen = vText !== undefined;
        vText = value;
        order = 2;
        break;
      case 'key':
        seen = key !== undefined;
        key = value;
        order = 3;
        break;
      case 'ts':
        seen = ts !== undefined;
        ts = value;
        order = 4;
        break;
      case 'data':
        seen = dataText !== undefined;
        dataText = value;
        order = 5;
        break;
      case 'traceparent':
        seen = traceparent !== undefined;
        traceparent = value;
        order = 6;
        break;
      default:
        return fail(
          'malformed_envelope',
          `unexpected field ${JSON.stringify(name.slice(0, 64))}`,
          name.slice(0, 64),
        );
    }
    if (seen) return fail('malformed_envelope', `field ${name} appears twice`, name);
    if (order < rank) return outOfOrder(name, ENVELOPE_FIELDS[rank] as string);
    rank = order;
  }
  if (id === undefined) return missing('id');
  if (type === undefined) return missing('type');
  if (vText === undefined) return missing('v');
  if (key === undefined) return missing('key');
  if (ts === undefined) return missing('ts');
  if (dataText === undefined) return missing('data');

  const candidate = {
    id,
    type,
    v: VERSION_PATTERN.test(vText) ? Number(vText) : Number.NaN,
    key,
    ts,
    traceparent,
  };
  const issues = checkEnvelopeFields(candidate);
  if (issues.length > 0) {
    return { ok: false, reason: 'malformed_envelope', message: issues.map(formatIssue).join('; '), issues };
  }

  let data: unknown;
  try {
    data = JSON.parse(dataText);
  } catch (error) {
    return fail('invalid_json', `data is not valid JSON: ${(error as Error).message.slice(0, 200)}`, 'data');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    return fail('schema_violation', 'data must be a JSON object', 'data');
  // The common case (nothing wrong) walks without building paths; only a bad payload pays for the report.
  const keys = cleanShapeKeys(data, 1, limits.maxDepth);
  const shape = keys < 0 ? checkShape(data, limits.maxDepth) : undefined;
  if (shape) return fail(shape.reason, shape.message, `data${shape.path}`);
  // JSON.parse kept the last of a repeated key and rounded long numbers: the text says whether it had to.
  // Fewer keys parsed than members written means a key was repeated.
  if (scanJsonText(dataText) !== keys) {
    const issue = findJsonTextIssue(dataText);
    if (issue) return fail(issue.reason, issue.message, `data${issue.path}`);
  }

  const envelope: Envelope = {
    id: candidate.id,
    type: candidate.type,
    v: candidate.v,
    key: candidate.key,
    ts: candidate.ts,
    data: data as Record<string, unknown>,
  };
  if (candidate.traceparent !== undefined) envelope.traceparent = candidate.traceparent;
  return { ok: true, envelope, dataText };
}

/** Whether the fields' UTF-8 size exceeds `maxBytes`; counts bytes only when 3 bytes per code unit could. */
function overLimit(fields: readonly string[], maxBytes: number): boolean {
  let units = 0;
  for (let i = 0; i < fields.length; i++) units += (fields[i] as string).length;
  return units * 3 > maxBytes && encodedSize(fields) > maxBytes;
}

function outOfOrder(name: string, after: string): DecodeResult {
  return fail(
    'malformed_envelope',
    `field ${name} comes after ${after}; the order is ${ENVELOPE_FIELDS.join(', ')}`,
    name,
  );
}

function missing(name: string): DecodeResult {
  return fail('malformed_envelope', `missing field ${name}`, name);
}

function fail(reason: ReasonCode, message: string, path: string): DecodeResult {
  return { ok: false, reason, message, issues: [{ path, message }] };
}

function formatIssue(i: FieldIssue): string {
  return `${i.path}: ${i.message}`;
}
