import type { Queryable } from '../../lib/pg.ts';
import type { AcceptedItem, Pipeline, PipelineContext } from '../types.ts';

/**
 * The event-log pipeline: every well-formed event of the stream archived once in `event_log`, keyed by event
 * id. One set-based statement per batch; a payload Postgres cannot store (jsonb refuses `\u0000`, 22P05) fails
 * with a class-22 error, and the sink isolates that one event as poison.
 */
const INSERT_EVENT_LOG = `
INSERT INTO event_log (event_id, stream, entry_id, type, v, key, occurred_at, payload)
SELECT t.event_id, $1, t.entry_id, t.type, t.v, t.key, t.occurred_at, t.payload
FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[], $8::jsonb[])
  AS t(event_id, entry_id, type, v, key, occurred_at, payload)
ORDER BY t.event_id COLLATE "C"
ON CONFLICT (event_id) DO NOTHING`;

export function createEventLogPipeline(): Pipeline {
  return {
    name: 'event-log',
    version: 1,
    registry: undefined,
    accept: (envelope) => ({ ok: true, envelope }),
    async apply(tx: Queryable, items: readonly AcceptedItem[], context: PipelineContext) {
      if (items.length === 0) return;
      const n = items.length;
      const ids = new Array<string>(n);
      const entryIds = new Array<string>(n);
      const types = new Array<string>(n);
      const versions = new Array<number>(n);
      const keys = new Array<string>(n);
      const times = new Array<string>(n);
      const payloads = new Array<string>(n);
      for (let i = 0; i < n; i++) {
        const { entry, envelope } = items[i] as AcceptedItem;
        ids[i] = envelope.id;
        entryIds[i] = entry.id;
        types[i] = envelope.type;
        versions[i] = envelope.v;
        keys[i] = envelope.key;
        times[i] = envelope.ts;
        payloads[i] = JSON.stringify(envelope.data);
      }
      await tx.query(INSERT_EVENT_LOG, [
        context.stream,
        ids,
        entryIds,
        types,
        versions,
        keys,
        times,
        payloads,
      ]);
    },
  };
}
