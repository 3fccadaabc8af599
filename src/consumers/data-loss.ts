/**
 * Did Redis lose entries streamsink had already committed? Pure: compares what Redis says about a stream now
 * with the watermarks workers recorded in Postgres earlier (src/consumers/stream-watermarks.ts).
 *
 * Three signs, each impossible while the stream lives (trimming and XDEL change none of them):
 * - `stream_missing`: the stream does not exist, yet a worker committed entries from it.
 * - `last_id_behind`: the stream's last-generated-id is below the highest entry id committed from it.
 * - `stream_recreated`: the stream's entries-added counter is below the highest one recorded. This one still
 *   holds after producers added new entries to a recreated stream (their time-based ids are higher than
 *   anything committed before, so `last_id_behind` no longer shows), until as many entries were added again.
 */

import { compareEntryIds, isEntryId } from '../lib/redis/stream-ids.ts';

export type DataLossSign = 'stream_missing' | 'last_id_behind' | 'stream_recreated';

/** What Redis says about the stream now (XINFO STREAM). */
export interface StreamPosition {
  exists: boolean;
  /** `0-0` when the stream is missing. */
  lastGeneratedId: string;
  /** Null before Redis 7 (no such field) or when the stream is missing. */
  entriesAdded: number | null;
}

/** What workers recorded in Postgres for one (stream, group); absent fields were never recorded. */
export interface Watermark {
  committedId: string | null;
  entriesAdded: number | null;
}

export interface DataLossVerdict {
  suspected: boolean;
  signs: DataLossSign[];
  /** One line per sign, for a log line or `streamsink status`. */
  details: string[];
}

export function detectDataLoss(position: StreamPosition, watermark: Watermark): DataLossVerdict {
  const signs: DataLossSign[] = [];
  const details: string[] = [];
  const { committedId, entriesAdded } = watermark;
  if (!position.exists) {
    if (committedId !== null || (entriesAdded !== null && entriesAdded > 0)) {
      signs.push('stream_missing');
      details.push(
        `the stream does not exist, but entries up to ${committedId ?? '(unknown id)'} were committed from it`,
      );
    }
    return { suspected: signs.length > 0, signs, details };
  }
  if (committedId !== null && compareEntryIds(position.lastGeneratedId, committedId) < 0) {
    signs.push('last_id_behind');
    details.push(
      `the stream's last id ${position.lastGeneratedId} is behind the highest committed entry ${committedId}`,
    );
  }
  if (entriesAdded !== null && position.entriesAdded !== null && position.entriesAdded < entriesAdded) {
    signs.push('stream_recreated');
    details.push(
      `the stream counts ${position.entriesAdded} entries ever added, fewer than the ${entriesAdded} seen before: it was recreated`,
    );
  }
  return { suspected: signs.length > 0, signs, details };
}

/**
 * The highest entry id this process committed since it was last taken, kept in memory by the batch processor
 * (one comparison per batch, no I/O) and written to Postgres by the metrics sampler now and then. Taking it
 * empties it, so once recorded it lives only in Postgres: an operator who clears the recorded watermark after
 * dealing with a loss (docs/operations.md) is not overruled by an old id still held by a running worker.
 */
export interface CommitWatermark {
  observe(entryIds: readonly string[]): void;
  highest(): string | null;
  /** Hand over the highest id and forget it; give it back with `observe` if recording it failed. */
  take(): string | null;
}

export function createCommitWatermark(): CommitWatermark {
  let highest: string | null = null;
  return {
    observe(entryIds) {
      for (const id of entryIds)
        if (isEntryId(id) && (highest === null || compareEntryIds(id, highest) > 0)) highest = id;
    },
    highest: () => highest,
    take() {
      const taken = highest;
      highest = null;
      return taken;
    },
  };
}
