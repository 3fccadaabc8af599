import type { Queryable } from '../lib/pg.ts';
import type { AcceptedItem } from './types.ts';

/**
 * The inbox (`streamsink_processed`): which events a consumer group has already applied. Rows are written in
 * the same transaction as the effects, so "recorded" and "applied" can never disagree.
 */

/**
 * Split a batch into the first occurrence of each event id and the repeats (a producer retry that reached
 * the stream twice, or the same entry read twice). Pure; keeps order.
 */
export function splitRepeats(items: readonly AcceptedItem[]): {
  unique: AcceptedItem[];
  repeats: AcceptedItem[];
} {
  const seen = new Set<string>();
  const unique: AcceptedItem[] = [];
  const repeats: AcceptedItem[] = [];
  for (const item of items) {
    if (seen.has(item.envelope.id)) repeats.push(item);
    else {
      seen.add(item.envelope.id);
      unique.push(item);
    }
  }
  return { unique, repeats };
}

// Rows go in event-id order so two transactions holding overlapping ids (a reclaimed batch racing its first
// delivery) wait on each other in the same order instead of deadlocking.
const RECORD = `
INSERT INTO streamsink_processed (consumer_group, event_id, stream, entry_id, event_type)
SELECT $1, t.event_id, $2, t.entry_id, t.event_type
FROM unnest($3::text[], $4::text[], $5::text[]) AS t(event_id, entry_id, event_type)
ORDER BY t.event_id COLLATE "C"
ON CONFLICT (consumer_group, event_id) DO NOTHING
RETURNING event_id`;

/**
 * Record `items` (distinct event ids) as processed by `group`; returns the ids that were not there yet, i.e.
 * the events whose effects this transaction must apply.
 */
export async function recordInInbox(
  tx: Queryable,
  group: string,
  stream: string,
  items: readonly AcceptedItem[],
): Promise<Set<string>> {
  const { rows } = await tx.query<{ event_id: string }>(RECORD, [
    group,
    stream,
    items.map((i) => i.envelope.id),
    items.map((i) => i.entry.id),
    items.map((i) => i.envelope.type),
  ]);
  return new Set(rows.map((r) => r.event_id));
}
