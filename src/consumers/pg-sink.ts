import { describeError, PoisonMessageError, StreamsinkError, TransientError } from '../lib/errors.ts';
import type { WorkerMetrics } from '../lib/metrics.ts';
import type { Pool, PoolClient } from '../lib/pg.ts';
import { classifyPgError, type PgErrorClass } from '../lib/pg-errors.ts';
import { recordInInbox, splitRepeats } from './inbox.ts';
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
}

const MAX_ERROR_MESSAGE = 300;

type Committed = Pick<SinkResult, 'applied' | 'duplicates'>;

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
      const applied: AcceptedItem[] = [];
      const duplicates: AcceptedItem[] = [];
      if (pipeline.recordsInbox) {
        // The pipeline writes inbox rows and effects in one statement and reports which events were new.
        const inbox: NonNullable<PipelineContext['inbox']> = { duplicates: undefined };
        await pipeline.apply(client, items, { ...context, inbox });
        const seen = inbox.duplicates;
        // Never commit effects without knowing the inbox was written (a wrapper that dropped the request).
        if (!seen) throw new Error(`pipeline ${pipeline.name} did not record the inbox`);
        if (seen.size === 0) applied.push(...items);
        else for (const item of items) (seen.has(item.envelope.id) ? duplicates : applied).push(item);
      } else {
        const fresh = await recordInInbox(client, context.group, context.stream, items);
        for (const item of items) (fresh.has(item.envelope.id) ? applied : duplicates).push(item);
        await pipeline.apply(client, applied, context);
      }
      // A failed COMMIT (connection lost) leaves the outcome unknown; it is classified transient and the
      // retry is safe either way: committed events come back as duplicates.
      await client.query('COMMIT');
      return { applied, duplicates };
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
    if (error instanceof PoisonMessageError) return 'poison';
    if (error instanceof StreamsinkError) return error.retryable ? 'transient' : 'other';
    const cls = classifyPgError(error);
    metrics?.postgresErrors.inc({ class: cls });
    return cls;
  }

  async function writeIsolating(
    items: readonly AcceptedItem[],
    result: SinkResult,
    top: boolean,
  ): Promise<void> {
    try {
      const done = await commit(items);
      result.applied.push(...done.applied);
      result.duplicates.push(...done.duplicates);
      return;
    } catch (error) {
      if (error instanceof TransientError) throw error;
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
        isolate(items[0] as AcceptedItem, error, cls, result);
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
    await writeIsolating(items.slice(0, mid), result, false);
    await writeIsolating(items.slice(mid), result, false);
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
      const result: SinkResult = { applied: [], duplicates: [], poison: [], failed: [] };
      const { unique, repeats } = splitRepeats(items);
      result.duplicates.push(...repeats);
      if (unique.length > 0) await writeIsolating(unique, result, true);
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
