import { sortByBytes } from '../lib/byte-order.ts';
import { TransientError } from '../lib/errors.ts';
import type { Pool, Queryable } from '../lib/pg.ts';
import { contentHash } from './content-hash.ts';
import type { AcceptedItem } from './types.ts';

/**
 * The inbox (`streamsink_inbox`): which events a pipeline has already applied, and with what content. Rows are
 * written in the same transaction as the effects, so "recorded" and "applied" can never disagree.
 *
 * Identity (docs/postgres.md#identity): an inbox row is keyed by (pipeline, event id). Dedupe state belongs to
 * the pipeline, whatever consumer group or stream delivered the event: two pipelines never share it, and one
 * pipeline sees an event id once however many streams or groups carry it. A second delivery of an id is a
 * duplicate only when its content hash (content-hash.ts) matches the recorded one; different content under an
 * applied id is an `id_conflict`, dead-lettered, never silently dropped.
 */

/** The content hash of an item as published (before schema and upcasters), computed once and kept on it. */
export function itemHash(item: AcceptedItem): string {
  item.contentHash ??= contentHash(item.published ?? item.envelope);
  return item.contentHash;
}

export interface Repeats {
  /** The first occurrence of each event id, in batch order. */
  unique: AcceptedItem[];
  /** Later occurrences with the same content: duplicates of the first. */
  repeats: AcceptedItem[];
  /** Later occurrences with different content: id conflicts. */
  conflicts: AcceptedItem[];
}

/**
 * Split a batch into the first occurrence of each event id, its same-content repeats (a producer retry that
 * reached the stream twice, or the same entry read twice) and its different-content repeats. Pure; keeps order.
 * Content is hashed only for ids that repeat, so the usual batch hashes nothing here.
 */
export function splitRepeats(items: readonly AcceptedItem[]): Repeats {
  const first = new Map<string, AcceptedItem>();
  const out: Repeats = { unique: [], repeats: [], conflicts: [] };
  for (const item of items) {
    const seen = first.get(item.envelope.id);
    if (!seen) {
      first.set(item.envelope.id, item);
      out.unique.push(item);
    } else if (itemHash(seen) === itemHash(item)) out.repeats.push(item);
    else out.conflicts.push(item);
  }
  return out;
}

// Rows go in event-id order so two transactions holding overlapping ids (a reclaimed batch racing its first
// delivery) wait on each other in the same order instead of deadlocking: recordStatement sorts them as
// COLLATE "C" does (byte-order.ts), cheaper than a sort in the statement.
//
// The batch crosses as ONE text parameter, rows separated by U+0002 and fields by U+0001, split by
// string_to_array (as the event-log pipeline does): node-postgres escapes every element of a text[] parameter,
// which cost more worker CPU than the rest of the statement. Nothing comes back: when the row count is the
// batch's, every id was new (the usual case), and only otherwise does {@link RECORDED} ask which were held.
// Returning and anti-joining the ids on every batch cost Postgres about a quarter more. Hashes travel as hex,
// empty for "none". Named: each connection parses and plans it once.
const RECORD = `
INSERT INTO streamsink_inbox
  (pipeline, event_id, content_hash, stream, entry_id, event_type, pipeline_version, input_hash, proof)
SELECT $1, f[1], decode(f[4], 'hex'), $2, f[2], f[3], $4, decode(NULLIF(f[5], ''), 'hex'),
  decode(NULLIF(f[6], ''), 'hex')
FROM unnest(string_to_array($3, chr(2))) AS r(line), string_to_array(r.line, chr(1)) AS s(f)
ON CONFLICT (pipeline, event_id) DO NOTHING`;

// The same with parallel arrays, for the batch whose id or type holds a separator character (the envelope
// patterns refuse control characters, so only a caller that skipped decoding can get here).
const RECORD_ARRAYS = `
INSERT INTO streamsink_inbox
  (pipeline, event_id, content_hash, stream, entry_id, event_type, pipeline_version, input_hash, proof)
SELECT $1, t.event_id, decode(t.content_hash, 'hex'), $2, t.entry_id, t.event_type, $7,
  decode(t.input_hash, 'hex'), decode(t.proof, 'hex')
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $8::text[], $9::text[])
  AS t(event_id, entry_id, event_type, content_hash, input_hash, proof)
ORDER BY t.event_id COLLATE "C"
ON CONFLICT (pipeline, event_id) DO NOTHING`;

const FIELD = '\u0001';
const ROW = '\u0002';
// biome-ignore lint/suspicious/noControlCharactersInRegex: the separators are exactly what is looked for
const SEPARATOR = /[\u0001\u0002]/;

/** The RECORD statement and its parameters for `items`. Pure. */
export function recordStatement(
  pipeline: string,
  stream: string,
  items: readonly AcceptedItem[],
  version: string | null,
): { name?: string; text: string; values: unknown[] } {
  const sorted = sortByBytes(items, (i) => i.envelope.id);
  let text = '';
  for (let i = 0; i < sorted.length; i++) {
    const item = sorted[i] as AcceptedItem;
    const { id, type } = item.envelope;
    // Entry ids are Redis ids and the hashes hex: only the id and type could hold a separator.
    if (SEPARATOR.test(id) || SEPARATOR.test(type)) return recordArrays(pipeline, stream, items, version);
    const row = `${id}${FIELD}${item.entry.id}${FIELD}${type}${FIELD}${itemHash(item)}${FIELD}${item.inputHash ?? ''}${FIELD}${item.proof ?? ''}`;
    text += i === 0 ? row : `${ROW}${row}`;
  }
  return { name: 'streamsink-inbox-record', text: RECORD, values: [pipeline, stream, text, version] };
}

function recordArrays(
  pipeline: string,
  stream: string,
  items: readonly AcceptedItem[],
  version: string | null,
): { text: string; values: unknown[] } {
  return {
    text: RECORD_ARRAYS,
    values: [
      pipeline,
      stream,
      items.map((i) => i.envelope.id),
      items.map((i) => i.entry.id),
      items.map((i) => i.envelope.type),
      items.map(itemHash),
      version,
      items.map((i) => i.inputHash ?? null),
      items.map((i) => i.proof ?? null),
    ],
  };
}

// A separate statement, so under READ COMMITTED it sees rows that a concurrent transaction committed while the
// INSERT above waited on them (the INSERT's own snapshot predates them). A row this transaction inserted has
// its id as xmin (no savepoints are used around the inbox): those ids are new, the others were held already.
const RECORDED = `
SELECT event_id, encode(content_hash, 'hex') AS content_hash, xmin = pg_current_xact_id()::xid AS mine
FROM streamsink_inbox WHERE pipeline = $1 AND event_id = ANY($2::text[])`;

export interface InboxVerdict {
  /** New for this pipeline: recorded now; apply their effects in this transaction. */
  fresh: AcceptedItem[];
  /** Already applied with the same content (or recorded before content was kept): acknowledge only. */
  duplicates: AcceptedItem[];
  /** Already applied with different content: dead-letter as `id_conflict`. */
  conflicts: AcceptedItem[];
}

/** Record `items` (distinct event ids) as applied by `pipeline`, and sort them by what the inbox held. */
export async function recordInInbox(
  tx: Queryable,
  pipeline: string,
  stream: string,
  items: readonly AcceptedItem[],
  version: string | null = null,
): Promise<InboxVerdict> {
  // With its proof (docs/proof.md) when the pipeline proved the items first (pipeline.prove).
  const statement = recordStatement(pipeline, stream, items, version);
  const inserted = await tx.query(statement);
  const verdict: InboxVerdict = { fresh: [], duplicates: [], conflicts: [] };
  if (inserted.rowCount === items.length) {
    verdict.fresh.push(...items);
    return verdict;
  }
  const recorded = await tx.query<{ event_id: string; content_hash: string | null; mine: boolean }>(
    RECORDED,
    [pipeline, items.map((i) => i.envelope.id)],
  );
  const rows = new Map(recorded.rows.map((r) => [r.event_id, r]));
  for (const item of items) {
    const row = rows.get(item.envelope.id);
    // Gone between the two statements: only an inbox prune racing this batch can do that. Retry the batch.
    if (row === undefined) throw new TransientError(`inbox row for ${item.envelope.id} vanished; retrying`);
    if (row.mine) verdict.fresh.push(item);
    else if (row.content_hash === null || row.content_hash === itemHash(item)) verdict.duplicates.push(item);
    else verdict.conflicts.push(item);
  }
  return verdict;
}

/**
 * Take over the rows a consumer group recorded in the schema-1 inbox (`streamsink_processed_v1`, keyed by
 * group) for this stream, as this pipeline's (their content is unknown: recorded with no hash, they count as
 * duplicates). Runs once per (group, stream), at worker start, before anything is read; concurrent starts
 * serialise on a transaction-level advisory lock and the second finds the adoption recorded. Returns the
 * number of rows adopted by this call.
 */
export async function adoptLegacyInbox(
  pool: Pool,
  target: { pipeline: string; group: string; stream: string },
): Promise<number> {
  const params = [target.group, target.stream];
  const db = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client whose connection drops emits 'error'; unheard, that would crash the process.
  const onError = (error: Error) => {
    broken ??= error;
  };
  db.on('error', onError);
  try {
    await db.query('BEGIN');
    await db.query(
      `SELECT pg_advisory_xact_lock(hashtextextended('streamsink:adopt:' || $1 || ':' || $2, 0))`,
      params,
    );
    const done = await db.query(
      'SELECT 1 FROM streamsink_inbox_adoptions WHERE consumer_group = $1 AND stream = $2',
      params,
    );
    if (done.rows.length > 0) {
      await db.query('COMMIT');
      return 0;
    }
    const adopted = await db.query(
      `INSERT INTO streamsink_inbox (pipeline, event_id, content_hash, stream, entry_id, event_type, processed_at)
       SELECT $3, event_id, NULL, stream, entry_id, event_type, processed_at
       FROM streamsink_processed_v1 WHERE consumer_group = $1 AND stream = $2
       ON CONFLICT (pipeline, event_id) DO NOTHING`,
      [...params, target.pipeline],
    );
    const n = adopted.rowCount ?? 0;
    await db.query(
      `INSERT INTO streamsink_inbox_adoptions (consumer_group, stream, pipeline, adopted_rows)
       VALUES ($1, $2, $3, $4)`,
      [...params, target.pipeline, n],
    );
    await db.query('COMMIT');
    return n;
  } catch (error) {
    await db.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    db.off('error', onError);
    db.release(broken);
  }
}
