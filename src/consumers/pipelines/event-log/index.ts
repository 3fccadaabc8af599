import { sortByBytes } from '../../../lib/byte-order.ts';
import { PoisonMessageError, TransientError } from '../../../lib/errors.ts';
import { definePipeline, type PipelineEvent, type PipelineMigration } from '../../define-pipeline.ts';

/**
 * The event-log pipeline: every well-formed event of every stream archived once in `event_log`, keyed by
 * (stream, event id), so two streams' events with one id are both kept. Its effect is keyed by the event
 * itself, so it is idempotent: it writes no inbox row (a redelivery finds its row and changes nothing). One
 * set-based statement per batch; a payload Postgres cannot store (jsonb refuses `\u0000`, 22P05) fails with a
 * class-22 error, and the sink isolates that one event as poison.
 *
 * The batch crosses to Postgres as ONE text parameter: rows separated by U+0002, fields by U+0001, split by
 * `string_to_array` (see {@link eventRowsText}). That is far fewer bytes and far less CPU on both sides than
 * parallel arrays (node-postgres escapes each element) or a json document (Postgres lexes it twice and builds
 * a hash table per row); each payload is the entry's `data` text as read, parsed once, by the `::jsonb` cast.
 * When the statement inserts fewer rows than the batch holds, some ids were archived already: the batch is
 * compared with what is archived, and an id with other content is an `id_conflict`, never silently kept out.
 */
const FIELD = '\u0001';
const ROW = '\u0002';
// biome-ignore lint/suspicious/noControlCharactersInRegex: the separators are exactly what is looked for
const SEPARATOR = /[\u0001\u0002]/;

// Rows go in event id order (eventRowsText sorts them as COLLATE "C" does), so transactions holding
// overlapping ids wait on each other in one order instead of deadlocking. No RETURNING: the row count says
// whether every row went in (the usual case), which costs Postgres about a quarter less than returning and
// anti-joining the ids.
const ARCHIVE = `
INSERT INTO event_log (stream, event_id, entry_id, type, v, key, occurred_at, payload)
SELECT $1, f[1], f[2], f[3], f[4]::int, f[5], f[6]::timestamptz, f[7]::jsonb
FROM unnest(string_to_array($2, chr(2))) AS r(line), string_to_array(r.line, chr(1)) AS s(f)
ON CONFLICT (stream, event_id) DO NOTHING`;

// A statement of its own: under READ COMMITTED it sees a row that a concurrent transaction committed while
// the INSERT above waited on it. jsonb equality ignores key order and whitespace, as the inbox's hash does.
const SAME_CONTENT = `
SELECT t.id, e.event_id IS NOT NULL AS found,
  (e.type, e.v, e.key, e.payload) IS NOT DISTINCT FROM (t.type, t.v, t.key, t.data::jsonb) AS same
FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[]) AS t(id, type, v, key, data)
LEFT JOIN event_log e ON e.stream = $1 AND e.event_id = t.id`;

/**
 * The batch as `id FIELD entry FIELD type FIELD v FIELD key FIELD ts FIELD data`, rows joined by ROW, in event
 * id order (UTF-8 bytes, Postgres' COLLATE "C"). No
 * escaping is needed: none of these can hold U+0001 or U+0002 (decodeEntry's patterns refuse control
 * characters in id, type, key and ts; JSON text never holds a raw control character other than whitespace).
 * `data` is the entry's text when the processor kept it, else the parsed payload re-stringified. An item that
 * breaks this anyway (built without decodeEntry) is refused as poison rather than let shift columns.
 */
export function eventRowsText(batch: readonly PipelineEvent[]): string {
  const events = sortByBytes(batch, (e) => e.id);
  let text = '';
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as PipelineEvent;
    const data = event.dataText ?? JSON.stringify(event.data);
    if (
      SEPARATOR.test(event.id) ||
      SEPARATOR.test(event.entryId) ||
      SEPARATOR.test(event.type) ||
      SEPARATOR.test(event.key) ||
      SEPARATOR.test(event.ts) ||
      SEPARATOR.test(data)
    )
      throw new PoisonMessageError(
        'malformed_envelope',
        'malformed_envelope: a field holds a control character',
      );
    const row =
      `${event.id}${FIELD}${event.entryId}${FIELD}${event.type}${FIELD}${event.v}${FIELD}` +
      `${event.key}${FIELD}${event.ts}${FIELD}${data}`;
    text += i === 0 ? row : `${ROW}${row}`;
  }
  return text;
}

/** The archive's table: see payments/migrations.ts for why IF NOT EXISTS. */
export const EVENT_LOG_MIGRATIONS: readonly PipelineMigration[] = [
  {
    name: '0001-event-log',
    sql: `
CREATE TABLE IF NOT EXISTS event_log (
  stream text NOT NULL,
  event_id text NOT NULL,
  entry_id text NOT NULL,
  type text NOT NULL,
  v integer NOT NULL,
  key text NOT NULL,
  occurred_at timestamptz NOT NULL,
  payload jsonb NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream, event_id)
);`,
  },
];

export function createEventLogPipeline() {
  return definePipeline({
    name: 'event-log',
    version: '2',
    // Installations before named pipelines ran every group as `streamsink`: keep their position in the stream.
    group: 'streamsink',
    // No events declared: every well-formed event is archived, whatever its type.
    migrations: EVENT_LOG_MIGRATIONS,
    idempotent: true,
    async apply(tx, events, ctx) {
      // Named: each connection parses and plans the statement once, not on every batch.
      const inserted = await tx.query({
        name: 'streamsink-event-log-archive',
        text: ARCHIVE,
        values: [ctx.stream, eventRowsText(events)],
      });
      if (inserted.rowCount === events.length) return;
      // Some ids were archived already (a redelivery, or the same id twice in the batch): compare contents.
      const compared = await tx.query<{ id: string; found: boolean; same: boolean }>(SAME_CONTENT, [
        ctx.stream,
        events.map((e) => e.id),
        events.map((e) => e.type),
        events.map((e) => e.v),
        events.map((e) => e.key),
        events.map((e) => e.dataText ?? JSON.stringify(e.data)),
      ]);
      for (const row of compared.rows) {
        if (!row.found)
          throw new TransientError(`event_log row ${row.id} vanished during the batch; retrying`);
        // Thrown, the transaction rolls back and the sink bisects the batch down to this one event.
        if (!row.same)
          throw new PoisonMessageError(
            'id_conflict',
            `id_conflict: stream ${ctx.stream} already archived event id ${row.id} with other content; this delivery was not archived`,
          );
      }
    },
  });
}
