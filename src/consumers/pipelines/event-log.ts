import type { Queryable } from '../../lib/pg.ts';
import type { AcceptedItem, Pipeline, PipelineContext } from '../types.ts';

/**
 * The event-log pipeline: every well-formed event of the stream archived once in `event_log`, keyed by event
 * id. One set-based statement per batch; a payload Postgres cannot store (jsonb refuses `\u0000`, 22P05) fails
 * with a class-22 error, and the sink isolates that one event as poison.
 *
 * The batch crosses to Postgres as ONE json document (an array of row objects, built by concatenation, each
 * payload embedded as the entry's `data` text as read) unpacked by `json_to_recordset`: far fewer bytes and
 * far less client CPU than parallel arrays, whose elements node-postgres escapes one by one. When the sink
 * asks (`context.inbox`), the same statement records the inbox: a data-modifying CTE inserts the inbox rows
 * and only the rows it returned (events this group had not applied yet) go into `event_log`; the statement
 * returns the others' ids, the duplicates.
 */
const ROWS = `json_to_recordset($ROWS::json)
  AS t(id text, entry text, type text, v int, key text, ts timestamptz, data json)`;

// Inbox rows and event_log rows both go in event-id order (COLLATE "C"), as the separate statements did, so
// transactions holding overlapping ids wait on each other in one order instead of deadlocking.
const INBOX_AND_INSERT = `
WITH t AS MATERIALIZED (SELECT * FROM ${ROWS.replace('$ROWS', '$3')}),
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
FROM ${ROWS.replace('$ROWS', '$2')}
ORDER BY t.id COLLATE "C"
ON CONFLICT (event_id) DO NOTHING`;

/**
 * The batch as a json array of `{id, entry, type, v, key, ts, data}`. Strings go through JSON.stringify (cheap
 * on these short values, and safe whatever they hold); `data` is the entry's text when the processor kept it
 * (it parsed as a JSON object, so it embeds as-is), else the parsed payload re-stringified.
 */
export function eventRowsJson(items: readonly AcceptedItem[]): string {
  let json = '[';
  for (let i = 0; i < items.length; i++) {
    const { entry, envelope, dataText } = items[i] as AcceptedItem;
    json +=
      `${i === 0 ? '' : ','}{"id":${JSON.stringify(envelope.id)},"entry":${JSON.stringify(entry.id)}` +
      `,"type":${JSON.stringify(envelope.type)},"v":${JSON.stringify(envelope.v) ?? 'null'}` +
      `,"key":${JSON.stringify(envelope.key)},"ts":${JSON.stringify(envelope.ts)}` +
      `,"data":${dataText ?? JSON.stringify(envelope.data)}}`;
  }
  return `${json}]`;
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
          values: [context.group, context.stream, eventRowsJson(items)],
        });
        inbox.duplicates = new Set(rows.map((r) => r.id));
        return;
      }
      if (items.length === 0) return;
      await tx.query({
        name: 'streamsink-event-log',
        text: INSERT_EVENT_LOG,
        values: [context.stream, eventRowsJson(items)],
      });
    },
  };
}
