import type { Effect } from '../consumers/decide/effects.ts';
import { foldEffects } from '../consumers/decide/effects.ts';
import { type TableStatements, writeFolded } from '../consumers/decide/upsert-sql.ts';
import type { AnyPipeline } from '../consumers/define-pipeline.ts';
import { toRuntimePipeline } from '../consumers/pipeline-adapter.ts';
import type { AcceptedItem } from '../consumers/types.ts';
import { decodeEntry } from '../lib/envelope.ts';
import type { Queryable } from '../lib/pg.ts';
import {
  addToTally,
  classifyEntry,
  newTally,
  type Recomputed,
  type RecordedRow,
  type ReplayTally,
} from './classify.ts';

/**
 * Replay (docs/proof.md#replay): read a stream's entries with XRANGE, page by page (`(lastId`, exclusive),
 * re-run the pipeline on each (decode, schema, check, decide), and compare with what the inbox recorded.
 * Read-only on Redis: no consumer group, no pending list is touched. Memory is one page plus the tally
 * (counts and the first few examples per class), whatever the stream's length.
 *
 * With `shadow`, the effects of every entry the live pipeline applied from this stream are also written
 * into the shadow schema's tables (through `shadow.db`, whose search_path is that schema only).
 */
export interface XRangeClient {
  xrange(
    key: string,
    start: string,
    end: string,
    count: 'COUNT',
    n: number,
  ): Promise<Array<[string, string[]]>>;
}

export interface ReplayOptions {
  redis: XRangeClient;
  /** Reads the inbox (the live schema). */
  db: Queryable;
  pipeline: AnyPipeline;
  /** Logical stream name (as the inbox records it) and its Redis key. */
  stream: string;
  key: string;
  from?: string;
  to?: string;
  pageSize?: number;
  maxExamples?: number;
  shadow?: { db: Queryable; schema: string };
  onPage?: (tally: ReplayTally, lastId: string) => void;
  signal?: AbortSignal;
}

const RECORDED = `
SELECT event_id, stream, entry_id, encode(content_hash, 'hex') AS content_hash,
  encode(input_hash, 'hex') AS input_hash, encode(proof, 'hex') AS proof, pipeline_version, enrichment
FROM streamsink_inbox WHERE pipeline = $1 AND event_id = ANY($2::text[])`;

export async function runReplay(options: ReplayOptions): Promise<ReplayTally> {
  const { redis, db, pipeline, stream } = options;
  const runtime = toRuntimePipeline(pipeline);
  const pageSize = options.pageSize ?? 500;
  const maxExamples = options.maxExamples ?? 5;
  const end = options.to ?? '+';
  const tally = newTally();
  const statements = new Map<string, TableStatements>();
  let start = options.from ?? '-';
  for (;;) {
    options.signal?.throwIfAborted();
    const page = await redis.xrange(options.key, start, end, 'COUNT', pageSize);
    if (page.length === 0) break;
    // The recorded rows first: an enriched event's decide gets the enrichment recorded with it.
    const ids = [...new Set(page.flatMap(([, fields]) => eventIdOf(fields)))];
    const { rows } = await db.query<{
      event_id: string;
      stream: string;
      entry_id: string;
      content_hash: string | null;
      input_hash: string | null;
      proof: string | null;
      pipeline_version: string | null;
      enrichment: unknown;
    }>(RECORDED, [pipeline.name, ids]);
    const enrichments = new Map(
      rows.filter((r) => r.enrichment !== null).map((r) => [r.event_id, r.enrichment]),
    );
    const items: Array<{ entryId: string; item?: AcceptedItem; now: Recomputed }> = page.map(([id, fields]) =>
      recompute(runtime, stream, id, fields, enrichments),
    );
    const recorded = new Map<string, RecordedRow>(
      rows.map((r) => [
        r.event_id,
        {
          stream: r.stream,
          entryId: r.entry_id,
          contentHash: r.content_hash,
          inputHash: r.input_hash,
          proof: r.proof,
          version: r.pipeline_version,
        },
      ]),
    );
    const applied: Effect[] = [];
    for (const { entryId, item, now } of items) {
      const row = item ? recorded.get(item.envelope.id) : undefined;
      const verdict = classifyEntry({ stream, entryId, version: pipeline.version, recorded: row, now });
      addToTally(tally, verdict, { entryId, ...(item ? { eventId: item.envelope.id } : {}) }, maxExamples);
      // The shadow gets what the live pipeline applied from this entry, recomputed by today's decide.
      if (row && row.stream === stream && row.entryId === entryId && item?.effects)
        applied.push(...item.effects);
    }
    if (options.shadow && applied.length > 0 && pipeline.tables)
      await writeFolded(
        options.shadow.db,
        foldEffects(applied, pipeline.tables),
        statements,
        options.shadow.schema,
      );
    const lastId = (page[page.length - 1] as [string, string[]])[0];
    options.onPage?.(tally, lastId);
    if (page.length < pageSize) break;
    start = `(${lastId}`;
  }
  return tally;
}

/** The `id` field of an entry, without decoding the rest (the recorded rows are fetched by it). */
function eventIdOf(fields: string[]): string[] {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'id') return [fields[i + 1] as string];
  return [];
}

function recompute(
  runtime: ReturnType<typeof toRuntimePipeline>,
  stream: string,
  entryId: string,
  fields: string[],
  enrichments: ReadonlyMap<string, unknown>,
): { entryId: string; item?: AcceptedItem; now: Recomputed } {
  const decoded = decodeEntry(fields);
  if (!decoded.ok) return { entryId, now: { ok: false, why: `${decoded.reason}: ${decoded.message}` } };
  const accepted = runtime.accept(decoded.envelope, { entryId, stream });
  const item: AcceptedItem = {
    entry: { id: entryId, fields, deliveryCount: 0 },
    envelope: accepted.ok ? accepted.envelope : decoded.envelope,
  };
  if (item.envelope !== decoded.envelope) item.published = decoded.envelope;
  const enrichment = enrichments.get(decoded.envelope.id);
  if (enrichment !== undefined) item.enrichment = enrichment;
  // The hashes of what the stream holds, even when the pipeline refuses it now.
  runtime.prove?.(item);
  if (!accepted.ok) {
    const { proof: _proof, effects: _effects, ...rest } = item;
    return {
      entryId,
      item: rest,
      now: {
        ok: false,
        why: accepted.error.message,
        ...(item.contentHash ? { contentHash: item.contentHash } : {}),
        ...(item.inputHash ? { inputHash: item.inputHash } : {}),
      },
    };
  }
  if (item.decideError !== undefined || item.proof === undefined || item.inputHash === undefined)
    return {
      entryId,
      item,
      now: {
        ok: false,
        why: `decide threw: ${item.decideError instanceof Error ? item.decideError.message : String(item.decideError)}`,
        ...(item.contentHash ? { contentHash: item.contentHash } : {}),
        ...(item.inputHash ? { inputHash: item.inputHash } : {}),
      },
    };
  return {
    entryId,
    item,
    now: { ok: true, contentHash: item.contentHash as string, inputHash: item.inputHash, proof: item.proof },
  };
}
