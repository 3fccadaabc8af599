import {
  describeError,
  isPoisonError,
  PartitionFencedError,
  PoisonMessageError,
  StreamsinkError,
  TransientError,
} from '../lib/errors.ts';
import type { WorkerMetrics } from '../lib/metrics.ts';
import type { Pool, PoolClient, Queryable } from '../lib/pg.ts';
import { classifyPgError, type PgErrorClass } from '../lib/pg-errors.ts';
import { recordEnrichment } from './enrichment-store.ts';
import { adoptLegacyInbox, recordInInbox, splitRepeats } from './inbox.ts';
import type { AcceptedItem, BatchSink, Pipeline, PipelineContext, SinkResult } from './types.ts';

/**
 * The Postgres sink: one transaction per batch holding the inbox rows and the pipeline's effects.
 *
 * - Transient trouble (connection loss, deadlock, serialization failure, server shutting down) rolls back and
 *   throws {@link TransientError}: the caller retries the whole batch later, and whatever had committed comes
 *   back as duplicates. A Postgres outage never turns good events into poison.
 * - Anything else is blamed on the batch's content until proven otherwise: the batch is bisected so the good
 *   events commit and the bad one is isolated, as `poison` (typed poison, or Postgres class 22/23) or as
 *   `failed` (cause unknown: left pending, retried until its delivery count runs out).
 */
export interface SinkLogger {
  warn(obj: object, msg?: string): void;
}

export interface PgSinkOptions {
  pool: Pool;
  pipeline: Pipeline;
  stream: string;
  group: string;
  logger?: SinkLogger;
  metrics?: Pick<WorkerMetrics, 'postgresErrors'>;
  /**
   * Runs first in every transaction (ordered partitions: the fencing check, partitions/fencing.ts). A
   * {@link PartitionFencedError} it throws rolls back and reaches the caller as is, without bisecting.
   */
  fence?: (tx: Queryable) => Promise<void>;
  /**
   * Ordered mode: the key of an item. Once an item of a key is isolated (poison or failed), the later items of
   * that key in the same write are not written at all: they come back in `deferred`, so none of them commits
   * before the one that failed (bisection commits the halves in order).
   */
  orderKey?: (item: AcceptedItem) => string;
}

const MAX_ERROR_MESSAGE = 300;

interface Committed {
  applied: AcceptedItem[];
  duplicates: AcceptedItem[];
  /** Ids the inbox holds with other content: nothing of theirs was applied. */
  conflicts: AcceptedItem[];
}

export function createPgSink(options: PgSinkOptions): BatchSink {
  const { pool, pipeline, logger, metrics } = options;
  const context: PipelineContext = { stream: options.stream, group: options.group };

  async function commit(items: readonly AcceptedItem[]): Promise<Committed> {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      // Cannot even connect (server down, pool exhausted, bad credentials): never the events' fault.
      metrics?.postgresErrors.inc({ class: 'transient' });
      throw new TransientError(`postgres connect failed: ${describeError(error, MAX_ERROR_MESSAGE)}`, {
        cause: error,
      });
    }
    let broken: Error | undefined;
    // A checked-out client emits 'error' when its connection drops (pg_terminate_backend, server restart);
    // unheard, that event would crash the process. The failing query rejects as well, which is what we act on.
    const onError = (error: Error) => {
      broken ??= error;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      if (options.fence) await options.fence(client);
      let committed: Committed;
      if (pipeline.idempotent) {
        // Effects keyed by the event itself: applying a redelivery again changes nothing, no inbox needed.
        await pipeline.apply(client, items, context);
        committed = { applied: [...items], duplicates: [], conflicts: [] };
      } else {
        // Pure and cached on the items: a retried or bisected batch proves each event once.
        if (pipeline.prove) for (const item of items) pipeline.prove(item);
        const verdict = await recordInInbox(client, pipeline.name, context.stream, items, pipeline.version);
        if (verdict.fresh.length > 0) await pipeline.apply(client, verdict.fresh, context);
        if (pipeline.enrich) await recordEnrichment(client, pipeline.name, verdict.fresh);
        committed = { applied: verdict.fresh, duplicates: verdict.duplicates, conflicts: verdict.conflicts };
      }
      // A failed COMMIT (connection lost) leaves the outcome unknown; it is classified transient and the
      // retry is safe either way: committed events come back as duplicates.
      await client.query('COMMIT');
      return committed;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        // The connection is gone or unusable: hand the error to release() so the pool discards the client.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  function classify(error: unknown): PgErrorClass | 'poison' {
    if (isPoisonError(error)) return 'poison';
    if (error instanceof StreamsinkError) return error.retryable ? 'transient' : 'other';
    const cls = classifyPgError(error);
    metrics?.postgresErrors.inc({ class: cls });
    return cls;
  }

  async function writeIsolating(
    input: readonly AcceptedItem[],
    result: SinkResult,
    top: boolean,
    /** Ordered mode: keys with an isolated item in this write; their later items are deferred. */
    blocked: Set<string>,
  ): Promise<void> {
    let items = input;
    const { orderKey } = options;
    if (orderKey && blocked.size > 0) {
      items = input.filter((item) => !blocked.has(orderKey(item)));
      if (items.length < input.length) {
        result.deferred ??= [];
        result.deferred.push(...input.filter((item) => blocked.has(orderKey(item))));
      }
      if (items.length === 0) return;
    }
    try {
      const done = await commit(items);
      result.applied.push(...done.applied);
      result.duplicates.push(...done.duplicates);
      for (const item of done.conflicts) conflict(item, result, 'the inbox holds it with other content');
      return;
    } catch (error) {
      if (error instanceof TransientError || error instanceof PartitionFencedError) throw error;
      const cls = classify(error);
      if (cls === 'transient' || cls === 'systemic') {
        // Systemic (missing table, permission denied): every event would fail alike, so waiting for an
        // operator is right and dead-lettering them would be wrong. The worker pauses and retries.
        if (cls === 'systemic' && top)
          logger?.warn(
            { stream: context.stream, group: context.group, error: describeError(error) },
            'postgres refuses every write (schema or permissions): pausing until it is fixed',
          );
        throw new TransientError(`postgres: ${describeError(error, MAX_ERROR_MESSAGE)}`, { cause: error });
      }
      if (items.length === 1) {
        const item = items[0] as AcceptedItem;
        if (options.orderKey) blocked.add(options.orderKey(item));
        isolate(item, error, cls, result);
        return;
      }
      // Once per batch, not at every level of the bisection.
      if (top)
        logger?.warn(
          { stream: context.stream, group: context.group, size: items.length, error: loggable(error, cls) },
          'batch failed for a non-transient reason; bisecting it to isolate the bad event',
        );
    }
    // Halves in order, one after the other: the first transient error stops the whole write.
    const mid = Math.ceil(items.length / 2);
    await writeIsolating(items.slice(0, mid), result, false, blocked);
    await writeIsolating(items.slice(mid), result, false, blocked);
  }

  let adopted: Promise<void> | undefined;
  async function adoptLegacyRows(): Promise<void> {
    if (pipeline.idempotent) return;
    const rows = await adoptLegacyInbox(pool, {
      pipeline: pipeline.name,
      group: context.group,
      stream: context.stream,
    });
    if (rows > 0)
      logger?.warn(
        { stream: context.stream, group: context.group, pipeline: pipeline.name, adopted: rows },
        'adopted schema-1 inbox rows of this group and stream for this pipeline',
      );
  }

  function conflict(item: AcceptedItem, result: SinkResult, why: string): void {
    const error = new PoisonMessageError(
      'id_conflict',
      `id_conflict: event id ${item.envelope.id} was already applied by pipeline ${pipeline.name} with other content (${why}); this delivery was not applied`,
    );
    result.poison.push({ item, error });
    logger?.warn(
      {
        stream: context.stream,
        group: context.group,
        entryId: item.entry.id,
        eventId: item.envelope.id,
        eventType: item.envelope.type,
        reason: 'id_conflict',
      },
      'same event id with different content: dead-lettering this delivery',
    );
  }

  function isolate(item: AcceptedItem, error: unknown, cls: PgErrorClass | 'poison', result: SinkResult) {
    const where = {
      stream: context.stream,
      group: context.group,
      entryId: item.entry.id,
      eventId: item.envelope.id,
      eventType: item.envelope.type,
    };
    if (cls === 'poison') {
      const poison = error as PoisonMessageError;
      result.poison.push({ item, error: poison });
      logger?.warn({ ...where, reason: poison.reason }, 'event isolated as poison');
    } else if (cls === 'data') {
      const poison = new PoisonMessageError('data_error', pgErrorText(error), { cause: error });
      result.poison.push({ item, error: poison });
      logger?.warn(
        { ...where, reason: poison.reason, error: loggable(error, cls) },
        'event isolated as poison',
      );
    } else {
      result.failed.push({ item, error });
      logger?.warn({ ...where, error: describeError(error) }, 'event failed for an unknown reason');
    }
  }

  return {
    async write(items) {
      // Before the first write: rows this group recorded under schema 1 become this pipeline's (once; see
      // inbox.ts). Postgres down then is like Postgres down at any write: transient, the batch retries.
      adopted ??= adoptLegacyRows().catch((error: unknown) => {
        adopted = undefined;
        throw new TransientError(
          `adopting schema-1 inbox rows failed: ${describeError(error, MAX_ERROR_MESSAGE)}`,
          {
            cause: error,
          },
        );
      });
      await adopted;
      const result: SinkResult = { applied: [], duplicates: [], poison: [], failed: [] };
      const { unique, repeats, conflicts } = splitRepeats(items);
      result.duplicates.push(...repeats);
      for (const item of conflicts)
        conflict(item, result, 'an earlier entry of this batch has other content');
      if (unique.length > 0) await writeIsolating(unique, result, true, new Set<string>());
      return result;
    },
  };
}

/**
 * What of an error goes into a log line. Class 22/23 messages may quote the offending value (payload data,
 * which is never logged above debug), so for those only the SQLSTATE is logged; the full text travels with
 * the poison record to the dead-letter stream.
 */
function loggable(error: unknown, cls: PgErrorClass | 'poison'): string {
  if (cls !== 'data') return describeError(error);
  const code = (error as { code?: unknown } | null)?.code;
  return `SQLSTATE ${typeof code === 'string' ? code : 'unknown'}`;
}

/** `SQLSTATE message`, cut short; the error's detail (which shows whole rows) is left out. */
export function pgErrorText(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const text = typeof code === 'string' ? `${code} ${message}` : message;
  return text.length > MAX_ERROR_MESSAGE ? `${text.slice(0, MAX_ERROR_MESSAGE - 1)}…` : text;
}
