import { type DecodeLimits, decodeEntry } from '../lib/envelope.ts';
import type { DeadLetterReason } from '../lib/errors.ts';
import type { AcceptedItem, DeadLetterRecord, Pipeline, StreamEntry } from './types.ts';

/**
 * The first stage of a batch, pure: which entries go on to the sink and which go straight to the dead-letter
 * stream, and why.
 *
 *   delivered more than maxDeliveries     max_deliveries_exceeded (a message that kills the process every time
 *                                         still ends somewhere)
 *   bytes that are not UTF-8              invalid_utf8 (applying the U+FFFD replacement would store a corruption)
 *   undecodable                           its decode reason (malformed_envelope, invalid_json, oversize, ...)
 *   refused by the pipeline               its reason (unknown_type, schema_violation, a pipeline's own, ...)
 */
export interface IntakeOptions {
  maxDeliveries: number;
  limits: DecodeLimits;
  pipeline: Pick<Pipeline, 'accept'>;
  /** Logical stream name, told to the pipeline's check. */
  stream: string;
}

export interface Intake {
  items: AcceptedItem[];
  dead: DeadLetterRecord[];
}

export function intakeBatch(entries: readonly StreamEntry[], options: IntakeOptions): Intake {
  const items: AcceptedItem[] = [];
  const dead: DeadLetterRecord[] = [];
  for (const entry of entries) {
    if (entry.deliveryCount > options.maxDeliveries) {
      dead.push(
        deadLetterRecord(entry, 'max_deliveries_exceeded', 'MaxDeliveriesExceeded', 'delivered too often'),
      );
      continue;
    }
    if (entry.invalidUtf8) {
      dead.push(deadLetterRecord(entry, 'invalid_utf8', 'EnvelopeError', 'entry bytes are not valid UTF-8'));
      continue;
    }
    const decoded = decodeEntry(entry.fields, options.limits);
    if (!decoded.ok) {
      dead.push(deadLetterRecord(entry, decoded.reason, 'EnvelopeError', decoded.message));
      continue;
    }
    const accepted = options.pipeline.accept(decoded.envelope, { entryId: entry.id, stream: options.stream });
    if (!accepted.ok) {
      const { error } = accepted;
      dead.push(deadLetterRecord(entry, error.reason, error.name, error.message, decoded.envelope));
      continue;
    }
    const item: AcceptedItem = { entry, envelope: accepted.envelope };
    // The payload text as read parsed to exactly this data: a pipeline may store it, not re-stringify it.
    if (accepted.envelope.data === decoded.envelope.data) item.dataText = decoded.dataText;
    if (accepted.envelope !== decoded.envelope) item.published = decoded.envelope;
    items.push(item);
  }
  return { items, dead };
}

/** A dead-letter record for `entry`; its event id and type from the envelope, else from its raw fields. */
export function deadLetterRecord(
  entry: StreamEntry,
  reason: DeadLetterReason,
  errorClass: string,
  errorMessage: string,
  envelope?: { id: string; type: string },
): DeadLetterRecord {
  const r: DeadLetterRecord = { entry, reason, errorClass, errorMessage };
  const type = envelope?.type ?? fieldValue(entry.fields, 'type');
  const id = envelope?.id ?? fieldValue(entry.fields, 'id');
  if (type !== undefined) r.eventType = type.slice(0, 128);
  if (id !== undefined) r.eventId = id.slice(0, 128);
  return r;
}

function fieldValue(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
