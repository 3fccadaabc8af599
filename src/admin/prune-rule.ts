import { compareEntryIds, isEntryId } from '../lib/redis/stream-ids.ts';

/**
 * When an inbox row may go (docs/postgres.md#inbox-retention). A row is what makes a second delivery of its
 * event a duplicate; it may be deleted only when its event can no longer be delivered to the pipeline again.
 * Pure, no I/O: the facts are gathered by inbox-prune.ts.
 */

export interface PruneFacts {
  /** Rows processed at or after this time (ms since the epoch, by Postgres' clock) stay. */
  cutoffMs: number;
  /** The stream's first entry id, or null when the stream is empty. */
  firstEntryId: string | null;
  /** The stream's last-generated id: when the stream is empty, every entry up to it is gone. */
  lastGeneratedId: string;
  /** Event ids carried by entries still in the stream (any of them may be delivered again). */
  inStream: ReadonlySet<string>;
  /** Event ids of the dead-letter stream's entries (a redrive puts them back). */
  deadLettered: ReadonlySet<string>;
}

export interface InboxRowFacts {
  eventId: string;
  /** The stream entry the event was applied from. */
  entryId: string;
  processedAtMs: number;
}

export type PruneVerdict = 'prune' | 'too_young' | 'entry_in_stream' | 'id_in_stream' | 'dead_lettered';

/** Why a row stays (or `prune`). The first reason that applies, in the order the rule is written. */
export function pruneVerdict(row: InboxRowFacts, facts: PruneFacts): PruneVerdict {
  if (!(row.processedAtMs < facts.cutoffMs)) return 'too_young';
  if (!entryGone(row.entryId, facts)) return 'entry_in_stream';
  if (facts.inStream.has(row.eventId)) return 'id_in_stream';
  if (facts.deadLettered.has(row.eventId)) return 'dead_lettered';
  return 'prune';
}

/**
 * Whether the entry is no longer in the stream: older than its first entry, or, for an empty stream, not
 * newer than its last-generated id. An entry id that is not one (a row written by hand) is never gone.
 */
export function entryGone(
  entryId: string,
  facts: Pick<PruneFacts, 'firstEntryId' | 'lastGeneratedId'>,
): boolean {
  if (!isEntryId(entryId)) return false;
  if (facts.firstEntryId !== null) return compareEntryIds(entryId, facts.firstEntryId) < 0;
  return compareEntryIds(entryId, facts.lastGeneratedId) <= 0;
}
