import type { Queryable } from '../lib/pg.ts';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import { loadLuaScript } from '../lib/redis/script-loader.ts';
import { maxEntryId, parseEntryId } from '../lib/redis/stream-ids.ts';
import { type DataLossVerdict, detectDataLoss, type StreamPosition, type Watermark } from './data-loss.ts';

/**
 * The I/O around {@link detectDataLoss}: the stream's position in Redis (one small script) and the watermarks
 * in Postgres (`streamsink_stream_watermarks`, migration 3). Rows are keyed by the stream's Redis key (with
 * its prefix) and the group.
 */

const POSITION_SCRIPT = loadLuaScript(new URL('./stream-position.lua', import.meta.url));

export const WATERMARKS_TABLE = 'streamsink_stream_watermarks';

export async function readStreamPosition(redis: Redis, streamKey: string): Promise<StreamPosition> {
  const reply = await POSITION_SCRIPT.run(redis, [streamKey], []);
  if (!Array.isArray(reply) || reply[0] !== 1)
    return { exists: false, lastGeneratedId: '0-0', entriesAdded: null };
  const added = Number(reply[2]);
  return {
    exists: true,
    lastGeneratedId: String(reply[1]),
    entriesAdded: Number.isSafeInteger(added) && added >= 0 ? added : null,
  };
}

/** The recorded watermark, or undefined when no worker recorded one yet. */
export async function readWatermark(
  db: Queryable,
  stream: string,
  group: string,
): Promise<Watermark | undefined> {
  const { rows } = await db.query<{ ms: string | null; seq: string | null; added: string | null }>(
    `SELECT committed_ms AS ms, committed_seq AS seq, entries_added AS added
       FROM ${WATERMARKS_TABLE} WHERE stream = $1 AND consumer_group = $2`,
    [stream, group],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    committedId: row.ms !== null && row.seq !== null ? `${row.ms}-${row.seq}` : null,
    entriesAdded: row.added !== null ? Number(row.added) : null,
  };
}

/**
 * Raise the recorded watermark to at least these values (never lower it: every worker of the group writes
 * the same row, each with what it saw). One row per (stream, group), written every sample interval.
 */
export async function recordWatermark(
  db: Queryable,
  stream: string,
  group: string,
  watermark: Watermark,
): Promise<void> {
  const id = watermark.committedId === null ? undefined : parseEntryId(watermark.committedId);
  if (!id && watermark.entriesAdded === null) return;
  await db.query(
    `INSERT INTO ${WATERMARKS_TABLE} AS w (stream, consumer_group, committed_ms, committed_seq, entries_added)
     VALUES ($1, $2, $3::bigint, $4::bigint, $5::bigint)
     ON CONFLICT (stream, consumer_group) DO UPDATE SET
       (committed_ms, committed_seq) = (
         SELECT CASE WHEN w.committed_ms IS NULL
                       OR (excluded.committed_ms, excluded.committed_seq) > (w.committed_ms, w.committed_seq)
                     THEN excluded.committed_ms ELSE w.committed_ms END,
                CASE WHEN w.committed_ms IS NULL
                       OR (excluded.committed_ms, excluded.committed_seq) > (w.committed_ms, w.committed_seq)
                     THEN excluded.committed_seq ELSE w.committed_seq END),
       entries_added = GREATEST(w.entries_added, excluded.entries_added),
       updated_at = now()`,
    [stream, group, id?.[0].toString() ?? null, id?.[1].toString() ?? null, watermark.entriesAdded],
  );
}

export interface CheckDataLossOptions {
  redis: Redis;
  db: Queryable;
  /** The stream's Redis key (with its prefix): what rows are keyed by. */
  streamKey: string;
  group: string;
  /** The highest entry id this process committed (the worker); omitted by read-only callers (`status`). */
  committedId?: string | null;
  /** Write the watermark after checking (the worker's sampler); `status` only reads. */
  record: boolean;
}

export interface DataLossCheck {
  verdict: DataLossVerdict;
  position: StreamPosition;
  /** What was recorded before this check (undefined: nothing yet), merged with `committedId`. */
  watermark: Watermark | undefined;
}

/**
 * One check. Postgres is read BEFORE Redis, on purpose: everything recorded was seen in Redis before it was
 * written, so the Redis answer read after it can only be ahead of it while the stream lives, and another
 * worker recording concurrently cannot make a live stream look behind.
 */
export async function checkDataLoss(options: CheckDataLossOptions): Promise<DataLossCheck> {
  const { db, streamKey, group } = options;
  const committedId = options.committedId ?? null;
  const recorded = await readWatermark(db, streamKey, group);
  const position = await readStreamPosition(options.redis, streamKey);
  const watermark =
    recorded === undefined && committedId === null
      ? undefined
      : {
          committedId: maxEntryId(recorded?.committedId ?? null, committedId),
          entriesAdded: recorded?.entriesAdded ?? null,
        };
  const verdict = watermark
    ? detectDataLoss(position, watermark)
    : { suspected: false, signs: [], details: [] };
  if (options.record && raises(recorded, committedId, position.entriesAdded)) {
    await recordWatermark(db, streamKey, group, { committedId, entriesAdded: position.entriesAdded });
  }
  return { verdict, position, watermark };
}

/** Whether recording would change the row: an idle stream then costs one SELECT per sample, no write. */
function raises(
  recorded: Watermark | undefined,
  committedId: string | null,
  entriesAdded: number | null,
): boolean {
  if (
    committedId !== null &&
    maxEntryId(recorded?.committedId ?? null, committedId) !== recorded?.committedId
  )
    return true;
  return entriesAdded !== null && entriesAdded > (recorded?.entriesAdded ?? -1);
}
