import type { Queryable } from '../lib/pg.ts';
import type { AcceptedItem } from './types.ts';

/**
 * Enrichment kept with the event in the inbox (`streamsink_inbox.enrichment`, schema version 9): written in the
 * batch's transaction for the events it applies, read back before enriching a batch so a redelivered event
 * reuses what was recorded instead of calling the service again.
 */

const RECORD = `
UPDATE streamsink_inbox AS i SET enrichment = t.enrichment
FROM unnest($2::text[], $3::jsonb[]) AS t(event_id, enrichment)
WHERE i.pipeline = $1 AND i.event_id = t.event_id`;

const LOOKUP = `
SELECT event_id, enrichment FROM streamsink_inbox
WHERE pipeline = $1 AND event_id = ANY($2::text[]) AND enrichment IS NOT NULL`;

/** Record the enrichment of `items` (inbox rows written by this transaction). Items without one are skipped. */
export async function recordEnrichment(
  tx: Queryable,
  pipeline: string,
  items: readonly AcceptedItem[],
): Promise<void> {
  const enriched = items.filter((i) => i.enrichment !== undefined);
  if (enriched.length === 0) return;
  await tx.query(RECORD, [
    pipeline,
    enriched.map((i) => i.envelope.id),
    enriched.map((i) => JSON.stringify(i.enrichment)),
  ]);
}

/** Enrichment recorded for any of `eventIds` by an earlier delivery, by event id. */
export async function recordedEnrichment(
  db: Queryable,
  pipeline: string,
  eventIds: readonly string[],
): Promise<Map<string, unknown>> {
  if (eventIds.length === 0) return new Map();
  const { rows } = await db.query<{ event_id: string; enrichment: unknown }>(LOOKUP, [pipeline, eventIds]);
  return new Map(rows.map((r) => [r.event_id, r.enrichment]));
}
