import type { Queryable } from '../lib/pg.ts';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import type { StreamKeys } from '../lib/redis/keys.ts';
import { loadLuaScript } from '../lib/redis/script-loader.ts';
import { scanDeadLetters } from './dlq.ts';
import { type PruneFacts, type PruneVerdict, pruneVerdict } from './prune-rule.ts';

/**
 * Inbox retention (docs/postgres.md#inbox-retention): delete the inbox rows of one stream whose events can no
 * longer be delivered again, in bounded batches. The rule is prune-rule.ts; this module gathers its facts from
 * Redis and walks the table.
 *
 * Order of the Redis reads, and why: dead letters, then the whole stream, then dead letters again, then the
 * stream's new tail. An event moving between the two while we read (dead-lettered, or redriven: a redrive
 * appends a new entry) is then seen in at least one of them: a redrive after the first stream pass appends
 * past where that pass ended, which the tail pass reads; a dead letter written after the first DLQ read is in
 * the second.
 */

const EVENT_IDS = loadLuaScript(new URL('./stream-event-ids.lua', import.meta.url));
/** Entries per scan call: one short atomic step, ids only on the wire. */
const SCAN_PAGE = 5000;
/** Rows read per batch, in primary-key order (one SELECT, one DELETE). */
export const PRUNE_BATCH = 1000;

export interface PruneOptions {
  /** Rows processed more recently than this stay (ms). */
  olderThanMs: number;
  dryRun?: boolean;
  /** Rows read per batch; default {@link PRUNE_BATCH}. */
  batchSize?: number;
  /** Stop between batches when aborted. */
  signal?: AbortSignal;
}

export interface PruneResult {
  stream: string;
  status: 'ok' | 'no_stream' | 'no_groups';
  dryRun: boolean;
  /** Rows of this stream old enough to consider. */
  examined: number;
  /** Rows deleted (dry run: that would be deleted). */
  pruned: number;
  /** Rows kept, by why (prune-rule.ts). */
  kept: Record<Exclude<PruneVerdict, 'prune' | 'too_young'>, number>;
  /** Pipelines not pruned because they also recorded events from other streams (their dedupe spans both). */
  skippedPipelines: Array<{ pipeline: string; otherStream: string }>;
  batches: number;
}

export interface PruneTarget {
  redis: Redis;
  db: Queryable;
  keys: StreamKeys;
}

/** Delete the prunable inbox rows of `target.keys.name` (docs/postgres.md#inbox-retention). */
export async function pruneInbox(target: PruneTarget, options: PruneOptions): Promise<PruneResult> {
  const { redis, db, keys } = target;
  const result: PruneResult = {
    stream: keys.name,
    status: 'ok',
    dryRun: options.dryRun ?? false,
    examined: 0,
    pruned: 0,
    kept: { entry_in_stream: 0, id_in_stream: 0, dead_lettered: 0 },
    skippedPipelines: [],
    batches: 0,
  };
  const facts = await gatherFacts(redis, db, keys, options.olderThanMs);
  if (facts === 'no_stream' || facts === 'no_groups') return { ...result, status: facts };

  const batchSize = options.batchSize ?? PRUNE_BATCH;
  const checked = new Map<string, boolean>();
  let after: [string, string] = ['', ''];
  for (;;) {
    if (options.signal?.aborted) break;
    // The page is the next `batchSize` rows in primary-key order, whatever their stream or age: an index range
    // scan bounded by the LIMIT, so every batch costs the same and the whole run is one pass over the index.
    // (Filtering in SQL instead lets the planner pick a sequential scan and sort per batch on a table without
    // fresh statistics: 240 ms a batch on 100k rows, measured.)
    const { rows } = await db.query<{
      pipeline: string;
      event_id: string;
      stream: string;
      entry_id: string;
      processed_ms: string;
    }>(
      `SELECT pipeline, event_id, stream, entry_id,
              floor(extract(epoch FROM processed_at) * 1000)::bigint AS processed_ms
       FROM streamsink_inbox
       WHERE (pipeline, event_id) > ($1, $2)
       ORDER BY pipeline, event_id
       LIMIT $3`,
      [after[0], after[1], batchSize],
    );
    if (rows.length === 0) break;
    result.batches += 1;
    const last = rows[rows.length - 1] as (typeof rows)[number];
    after = [last.pipeline, last.event_id];
    const doomed: Array<[string, string]> = [];
    for (const row of rows) {
      if (row.stream !== keys.name) continue;
      const verdict = pruneVerdict(
        { eventId: row.event_id, entryId: row.entry_id, processedAtMs: Number(row.processed_ms) },
        facts,
      );
      if (verdict === 'too_young') continue;
      if (!checked.has(row.pipeline))
        checked.set(row.pipeline, await ownsOnlyThisStream(db, row.pipeline, keys.name, result));
      if (!checked.get(row.pipeline)) continue;
      result.examined += 1;
      if (verdict === 'prune') doomed.push([row.pipeline, row.event_id]);
      else result.kept[verdict] += 1;
    }
    if (result.dryRun) result.pruned += doomed.length;
    else result.pruned += await deleteRows(db, doomed, keys.name, facts.cutoffMs);
    if (rows.length < batchSize) break;
  }
  return result;
}

/**
 * Delete the chosen rows, one statement per pipeline: `pipeline = $1 AND event_id = ANY($2)` is a primary-key
 * index lookup whatever the table's statistics (a join against unnest() was planned as a scan: 80 ms a batch).
 * `stream` and `processed_at` are checked again, so a row is never deleted on a fact it no longer matches.
 */
async function deleteRows(
  db: Queryable,
  doomed: ReadonlyArray<[string, string]>,
  stream: string,
  cutoffMs: number,
): Promise<number> {
  const byPipeline = new Map<string, string[]>();
  for (const [pipeline, eventId] of doomed) {
    const ids = byPipeline.get(pipeline);
    if (ids) ids.push(eventId);
    else byPipeline.set(pipeline, [eventId]);
  }
  let deleted = 0;
  for (const [pipeline, ids] of byPipeline) {
    const r = await db.query(
      `DELETE FROM streamsink_inbox
       WHERE pipeline = $1 AND event_id = ANY($2::text[]) AND stream = $3 AND processed_at < to_timestamp($4 / 1000.0)`,
      [pipeline, ids, stream, cutoffMs],
    );
    deleted += r.rowCount ?? 0;
  }
  return deleted;
}

/**
 * A pipeline's dedupe spans every stream it reads: an event it applied from this stream may still arrive on
 * another, which this run does not look at. Such a pipeline is left alone (reported), never half-pruned.
 */
async function ownsOnlyThisStream(
  db: Queryable,
  pipeline: string,
  stream: string,
  result: PruneResult,
): Promise<boolean> {
  const { rows } = await db.query<{ stream: string }>(
    'SELECT stream FROM streamsink_inbox WHERE pipeline = $1 AND stream <> $2 LIMIT 1',
    [pipeline, stream],
  );
  const other = rows[0]?.stream;
  if (other === undefined) return true;
  result.skippedPipelines.push({ pipeline, otherStream: other });
  return false;
}

async function gatherFacts(
  redis: Redis,
  db: Queryable,
  keys: StreamKeys,
  olderThanMs: number,
): Promise<PruneFacts | 'no_stream' | 'no_groups'> {
  if ((await redis.exists(keys.stream)) === 0) return 'no_stream';
  const groups = (await redis.xinfo('GROUPS', keys.stream)) as unknown[];
  if (groups.length === 0) return 'no_groups';
  const info = (await redis.xinfo('STREAM', keys.stream)) as unknown[];
  const field = (name: string) => info[info.indexOf(name) + 1];
  const lastGeneratedId = String(field('last-generated-id'));
  const first = field('first-entry') as [string, string[]] | null;
  const firstEntryId = Array.isArray(first) ? first[0] : null;

  const deadLettered = new Set<string>();
  await collectDeadLetterIds(redis, keys.deadLetter, deadLettered);
  const inStream = new Set<string>();
  const end = await collectStreamIds(redis, keys.stream, '-', inStream);
  await collectDeadLetterIds(redis, keys.deadLetter, deadLettered);
  if (end !== '') await collectStreamIds(redis, keys.stream, `(${end}`, inStream);

  const { rows } = await db.query<{ now_ms: string }>(
    'SELECT floor(extract(epoch FROM now()) * 1000)::bigint AS now_ms',
  );
  const cutoffMs = Number(rows[0]?.now_ms) - olderThanMs;
  return { cutoffMs, firstEntryId, lastGeneratedId, inStream, deadLettered };
}

/** Add the event ids of the stream's entries from `start` on; returns the last entry id read ('' if none). */
async function collectStreamIds(
  redis: Redis,
  key: string,
  start: string,
  into: Set<string>,
): Promise<string> {
  let from = start;
  let last = '';
  for (;;) {
    const reply = (await EVENT_IDS.run(redis, [key], [from, SCAN_PAGE])) as Array<string | number>;
    const scanned = Number(reply[1]);
    for (let i = 2; i < reply.length; i++) into.add(String(reply[i]));
    if (scanned > 0) last = String(reply[0]);
    if (scanned < SCAN_PAGE) return last;
    from = `(${last}`;
  }
}

/**
 * Every event id a dead letter could bring back: the values of `dlq.event_id` and of the original's `id`
 * field (header and original are both (name, value) pairs), and of `id` inside `dlq.original_json`.
 */
async function collectDeadLetterIds(redis: Redis, key: string, into: Set<string>): Promise<void> {
  for await (const [, fields] of scanDeadLetters(redis, key)) {
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i];
      const value = fields[i + 1] as string;
      if (name === 'id' || name === 'dlq.event_id') into.add(value);
      if (name === 'dlq.original_json') {
        try {
          const original = JSON.parse(value) as unknown;
          if (Array.isArray(original))
            for (let j = 0; j + 1 < original.length; j += 2)
              if (original[j] === 'id') into.add(String(original[j + 1]));
        } catch {
          // Unreadable: redrive reports it as failed and re-publishes nothing, so it brings no event back.
        }
      }
    }
  }
}
