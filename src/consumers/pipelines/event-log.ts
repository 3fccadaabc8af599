import { PoisonMessageError } from '../../lib/errors.ts';
import type { Queryable } from '../../lib/pg.ts';
import type { AcceptedItem, Pipeline, PipelineContext } from '../types.ts';

/**
 * The event-log pipeline: every well-formed event of the stream archived once in `event_log`, keyed by event
 * id. One set-based statement per batch; a payload Postgres cannot store (jsonb refuses `\u0000`, 22P05) fails
 * with a class-22 error, and the sink isolates that one event as poison.
 *
 * The batch crosses to Postgres as ONE text parameter: rows separated by U+0002, fields by U+0001, split by
 * `string_to_array` (see {@link eventRowsText}). That is far fewer bytes and far less CPU on both sides than
 * parallel arrays (node-postgres escapes each element) or a json document (Postgres lexes it twice and builds
 * a hash table per row); each payload is the entry's `data` text as read, parsed once, by the `::jsonb` cast.
 * When the sink asks (`context.inbox`), the same statement records the inbox: a data-modifying CTE inserts the
 * inbox rows and only the rows it returned (events this group had not applied yet) go into `event_log`; the
 * statement returns the others' ids, the duplicates.
 */
const FIELD = '\u0001';
const ROW = '\u0002';
// biome-ignore lint/suspicious/noControlCharactersInRegex: the separators are exactly what is looked for
const SEPARATOR = /[\u0001\u0002]/;

const ROWS = `(
  SELECT f[1] AS id, f[2] AS entry, f[3] AS type, f[4]::int AS v, f[5] AS key, f[6]::timestamptz AS ts,
    f[7] AS data
  FROM unnest(string_to_array($ROWS, chr(2))) AS r(line), string_to_array(r.line, chr(1)) AS s(f)
)`;

// Inbox rows and event_log rows both go in event-id order (COLLATE "C"), as the separate statements did, so
// transactions holding overlapping ids wait on each other in one order instead of deadlocking.
const INBOX_AND_INSERT = `
WITH t AS MATERIALIZED ${ROWS.replace('$ROWS', '$3')},
fresh AS (
  INSERT INTO streamsink_processed (consumer_group, event_id, stream, entry_id, event_type)
  SELECT $1, t.id, $2, t.entry, t.type FROM t
  ORDER BY t.id COLLATE "C"
  ON CONFLICT (consumer_group, event_id) DO NOTHING
  RETURNING event_id
),
logged AS (
  INSERT INTO event_log (event_id, stream, entry_id, type, v, key, occurred_at, payload)
  SELECT t.id, $2, t.entry, t.type, t.v, t.key, t.ts, t.data::jsonb FROM t JOIN fresh ON fresh.event_id = t.id
  ORDER BY t.id COLLATE "C"
  ON CONFLICT (event_id) DO NOTHING
)
-- The events the inbox already held: usually none, so usually no rows travel back.
SELECT t.id FROM t WHERE NOT EXISTS (SELECT FROM fresh WHERE fresh.event_id = t.id)`;

const INSERT_EVENT_LOG = `
INSERT INTO event_log (event_id, stream, entry_id, type, v, key, occurred_at, payload)
SELECT t.id, $1, t.entry, t.type, t.v, t.key, t.ts, t.data::jsonb
FROM ${ROWS.replace('$ROWS', '$2')} AS t
ORDER BY t.id COLLATE "C"
ON CONFLICT (event_id) DO NOTHING`;

/**
 * The batch as `id FIELD entry FIELD type FIELD v FIELD key FIELD ts FIELD data`, rows joined by ROW. No
 * escaping is needed: none of these can hold U+0001 or U+0002 (decodeEntry's patterns refuse control
 * characters in id, type, key and ts; JSON text never holds a raw control character other than whitespace).
 * `data` is the entry's text when the processor kept it, else the parsed payload re-stringified. An item that
 * breaks this anyway (built without decodeEntry) is refused as poison rather than let shift columns.
 */
export function eventRowsText(items: readonly AcceptedItem[]): string {
  let text = '';
  for (let i = 0; i < items.length; i++) {
    const { entry, envelope, dataText } = items[i] as AcceptedItem;
    const data = dataText ?? JSON.stringify(envelope.data);
    if (
      SEPARATOR.test(envelope.id) ||
      SEPARATOR.test(entry.id) ||
      SEPARATOR.test(envelope.type) ||
      SEPARATOR.test(envelope.key) ||
      SEPARATOR.test(envelope.ts) ||
      SEPARATOR.test(data)
    )
      throw new PoisonMessageError(
        'malformed_envelope',
        'malformed_envelope: a field holds a control character',
      );
    const row =
      `${envelope.id}${FIELD}${entry.id}${FIELD}${envelope.type}${FIELD}${envelope.v}${FIELD}` +
      `${envelope.key}${FIELD}${envelope.ts}${FIELD}${data}`;
    text += i === 0 ? row : `${ROW}${row}`;
  }
  return text;
}

export function createEventLogPipeline(): Pipeline {
  return {
    name: 'event-log',
    version: 1,
    registry: undefined,
    recordsInbox: true,
    accept: (envelope) => ({ ok: true, envelope }),
    async apply(tx: Queryable, items: readonly AcceptedItem[], context: PipelineContext) {
      const { inbox } = context;
      if (inbox) {
        if (items.length === 0) {
          inbox.duplicates = new Set();
          return;
        }
        // Named: each connection parses and plans the statement once, not on every batch.
        const { rows } = await tx.query<{ id: string }>({
          name: 'streamsink-event-log-inbox',
          text: INBOX_AND_INSERT,
          values: [context.group, context.stream, eventRowsText(items)],
        });
        inbox.duplicates = new Set(rows.map((r) => r.id));
        return;
      }
      if (items.length === 0) return;
      await tx.query({
        name: 'streamsink-event-log',
        text: INSERT_EVENT_LOG,
        values: [context.stream, eventRowsText(items)],
      });
    },
  };
}
