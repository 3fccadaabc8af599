import { type DeadLetterReason, REASON_PATTERN } from './errors.ts';

/**
 * The field layout of a dead-letter entry, a public contract (docs/wire-format.md#dead-letter-entries). Pure.
 *
 *   dlq.v                   layout version, "1"
 *   dlq.source_stream       Redis key of the stream the entry came from
 *   dlq.source_id           its entry id there
 *   dlq.group / dlq.consumer
 *   dlq.reason              reason code (REASON_CODES, or one the pipeline declared)
 *   dlq.error_class / dlq.error_message
 *   dlq.delivery_count
 *   dlq.first_seen          ISO time of the source entry id (when it was added to the source stream)
 *   dlq.dead_lettered_at    ISO time
 *   dlq.pipeline / dlq.pipeline_version
 *   dlq.type / dlq.event_id optional: present when the entry decoded far enough to know them
 *   dlq.original_json       optional: the original field list as a JSON array, only when it is too long to
 *                           store verbatim (see MAX_VERBATIM_ITEMS)
 *   dlq.original_fields     number N of original (name, value) pairs; always the last header field
 *   ...                     the original entry's 2N items, verbatim and in order
 *
 * Why header first and a count, not names: a malformed original can carry any field names, including `dlq.*`
 * ones or duplicates. Reading the header up to the first `dlq.original_fields` (which we always write last)
 * and taking everything after it as the original recovers the original exactly, whatever it contains, while
 * an operator running XRANGE still sees the original fields as they were.
 */
export const DEAD_LETTER_LAYOUT_VERSION = '1';

/**
 * Above this many original items the original is stored JSON-encoded in `dlq.original_json` instead: Redis'
 * Lua cannot pass more than ~8,000 arguments to one command, and a dead-letter move must never fail because
 * the poison is strange.
 */
export const MAX_VERBATIM_ITEMS = 4000;

/** Longest error message kept, in characters. */
export const MAX_ERROR_MESSAGE = 500;

export interface DeadLetterMeta {
  sourceStream: string;
  sourceId: string;
  group: string;
  consumer: string;
  reason: DeadLetterReason;
  errorClass: string;
  errorMessage: string;
  deliveryCount: number;
  /** ISO time the source entry was added (from its id). */
  firstSeen: string;
  deadLetteredAt: string;
  pipeline: string;
  /** As the pipeline declares it (`definePipeline({ version })`): a number or e.g. a semver. */
  pipelineVersion: string;
  eventType?: string;
  eventId?: string;
}

export interface DecodedDeadLetter {
  meta: DeadLetterMeta;
  /** The original entry's flat field list, exactly as it was on the source stream. */
  original: string[];
}

/**
 * Make an error message fit to store: credentials in URLs and `password=`-style pairs removed, one line,
 * at most MAX_ERROR_MESSAGE characters.
 */
export function sanitizeErrorMessage(message: string, max = MAX_ERROR_MESSAGE): string {
  const clean = message
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, '$1***@')
    .replace(
      /\b(password|passwd|pwd|secret|token|api[_-]?key|authorization)(\s*[=:]\s*)("[^"]*"|\S+)/gi,
      '$1$2***',
    )
    .replace(/[\r\n]+/g, ' ');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** The field list of a dead-letter entry: header first, then the original. */
export function encodeDeadLetter(meta: DeadLetterMeta, original: readonly string[]): string[] {
  const fields = [
    'dlq.v',
    DEAD_LETTER_LAYOUT_VERSION,
    'dlq.source_stream',
    meta.sourceStream,
    'dlq.source_id',
    meta.sourceId,
    'dlq.group',
    meta.group,
    'dlq.consumer',
    meta.consumer,
    'dlq.reason',
    meta.reason,
    'dlq.error_class',
    meta.errorClass,
    'dlq.error_message',
    sanitizeErrorMessage(meta.errorMessage),
    'dlq.delivery_count',
    String(meta.deliveryCount),
    'dlq.first_seen',
    meta.firstSeen,
    'dlq.dead_lettered_at',
    meta.deadLetteredAt,
    'dlq.pipeline',
    meta.pipeline,
    'dlq.pipeline_version',
    meta.pipelineVersion,
  ];
  if (meta.eventType !== undefined) fields.push('dlq.type', meta.eventType);
  if (meta.eventId !== undefined) fields.push('dlq.event_id', meta.eventId);
  if (original.length > MAX_VERBATIM_ITEMS) {
    fields.push('dlq.original_json', JSON.stringify(original), 'dlq.original_fields', '0');
    return fields;
  }
  // Redis never returns an odd item count for an entry; should a caller pass one, pad it so XADD accepts it.
  const items = original.length % 2 === 0 ? original : [...original, ''];
  fields.push('dlq.original_fields', String(items.length / 2), ...items);
  return fields;
}

export type DecodeDeadLetterResult = { ok: true; value: DecodedDeadLetter } | { ok: false; message: string };

/** Read a dead-letter entry back. Total: a foreign or damaged entry yields a message, never a throw. */
export function decodeDeadLetter(fields: readonly string[]): DecodeDeadLetterResult {
  const header = new Map<string, string>();
  let i = 0;
  let count: number | undefined;
  while (i + 1 < fields.length) {
    const name = fields[i] as string;
    const value = fields[i + 1] as string;
    i += 2;
    if (name === 'dlq.original_fields') {
      count = /^\d+$/.test(value) ? Number(value) : Number.NaN;
      break;
    }
    if (!name.startsWith('dlq.'))
      return { ok: false, message: `unexpected header field ${name.slice(0, 64)}` };
    header.set(name, value);
  }
  if (count === undefined || Number.isNaN(count))
    return { ok: false, message: 'no dlq.original_fields count' };
  if (header.get('dlq.v') !== DEAD_LETTER_LAYOUT_VERSION)
    return { ok: false, message: `unknown layout version ${header.get('dlq.v') ?? '(none)'}` };

  let original: string[];
  const json = header.get('dlq.original_json');
  if (json !== undefined) {
    try {
      const parsed: unknown = JSON.parse(json);
      if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string'))
        return { ok: false, message: 'dlq.original_json is not an array of strings' };
      original = parsed;
    } catch {
      return { ok: false, message: 'dlq.original_json is not JSON' };
    }
  } else {
    original = fields.slice(i);
    if (original.length !== count * 2)
      return { ok: false, message: `expected ${count * 2} original items, found ${original.length}` };
  }

  const reason = header.get('dlq.reason') ?? '';
  if (!REASON_PATTERN.test(reason)) return { ok: false, message: `malformed reason ${reason.slice(0, 64)}` };
  const meta: DeadLetterMeta = {
    sourceStream: header.get('dlq.source_stream') ?? '',
    sourceId: header.get('dlq.source_id') ?? '',
    group: header.get('dlq.group') ?? '',
    consumer: header.get('dlq.consumer') ?? '',
    reason,
    errorClass: header.get('dlq.error_class') ?? '',
    errorMessage: header.get('dlq.error_message') ?? '',
    deliveryCount: Number(header.get('dlq.delivery_count') ?? '0'),
    firstSeen: header.get('dlq.first_seen') ?? '',
    deadLetteredAt: header.get('dlq.dead_lettered_at') ?? '',
    pipeline: header.get('dlq.pipeline') ?? '',
    pipelineVersion: header.get('dlq.pipeline_version') ?? '',
  };
  const type = header.get('dlq.type');
  if (type !== undefined) meta.eventType = type;
  const eventId = header.get('dlq.event_id');
  if (eventId !== undefined) meta.eventId = eventId;
  return { ok: true, value: { meta, original } };
}
