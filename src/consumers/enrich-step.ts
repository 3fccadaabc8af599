import { describeError, type PoisonMessageError, TransientError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { Queryable } from '../lib/pg.ts';
import type { DependencyCaller } from './dependency-caller.ts';
import { recordedEnrichment } from './enrichment-store.ts';
import type { AcceptedItem, BatchSink, Pipeline, SinkResult } from './types.ts';

/**
 * The enrich stage, as a sink middleware in front of the Postgres sink: before each batch write it enriches
 * the items that have no enrichment yet, outside any database transaction, then hands the rest on.
 *
 * - Recorded by an earlier delivery (the inbox keeps it): reused, the service is not called again.
 * - Refused for good (PermanentDependencyError): that item goes to the result's `poison` and is dead-lettered
 *   with its reason; its batch-mates are written.
 * - An outage (DependencyUnavailableError, or failing to read the recorded enrichment) is thrown as it is:
 *   transient, so the batch processor pauses reading and retries the batch with backoff. Items already
 *   enriched keep their result across those retries (it lives on the item), so a retry calls only for the rest.
 */
export interface EnrichStepOptions {
  pipeline: Pipeline;
  caller: DependencyCaller;
  /** Reads recorded enrichment (the worker's pool). */
  db: Queryable;
  stream: string;
  group: string;
  logger?: Pick<Logger, 'warn'>;
}

export function enrichStep(sink: BatchSink, options: EnrichStepOptions): BatchSink {
  const { pipeline, caller, db, logger } = options;
  if (!pipeline.enrich) return sink;
  const enrich: NonNullable<Pipeline['enrich']> = pipeline.enrich.bind(pipeline);
  const context = { stream: options.stream, group: options.group, call: caller.call };
  const done = new WeakSet<AcceptedItem>();
  const refused = new WeakMap<AcceptedItem, PoisonMessageError>();

  async function enrichMissing(items: readonly AcceptedItem[]): Promise<void> {
    const todo = items.filter((i) => !done.has(i) && !refused.has(i));
    if (todo.length === 0) return;
    let recorded: Map<string, unknown>;
    try {
      recorded = pipeline.idempotent
        ? new Map()
        : await recordedEnrichment(
            db,
            pipeline.name,
            todo.map((i) => i.envelope.id),
          );
    } catch (error) {
      throw new TransientError(`reading recorded enrichment failed: ${describeError(error, 300)}`, {
        cause: error,
      });
    }
    const fresh: AcceptedItem[] = [];
    for (const item of todo) {
      if (recorded.has(item.envelope.id)) {
        item.enrichment = recorded.get(item.envelope.id);
        done.add(item);
      } else fresh.push(item);
    }
    if (fresh.length === 0) return;
    const outcomes = await enrich(fresh, context);
    outcomes.forEach((outcome, i) => {
      const item = fresh[i] as AcceptedItem;
      if (outcome.ok) {
        if (outcome.value !== undefined) item.enrichment = outcome.value;
        done.add(item);
      } else {
        refused.set(item, outcome.error);
        logger?.warn(
          {
            stream: options.stream,
            group: options.group,
            entryId: item.entry.id,
            eventId: item.envelope.id,
            reason: outcome.error.reason,
            error: describeError(outcome.error),
          },
          'enrich: a service refused the event; dead-lettering it',
        );
      }
    });
  }

  return {
    async write(items) {
      // Thrown as is: an outage is transient (the batch waits and retries); a bug in enrich fails the batch
      // like a bug in apply (left pending until its deliveries run out).
      await enrichMissing(items);
      const ready = items.filter((i) => !refused.has(i));
      const result: SinkResult =
        ready.length > 0 ? await sink.write(ready) : { applied: [], duplicates: [], poison: [], failed: [] };
      for (const item of items) {
        const error = refused.get(item);
        if (error) result.poison.push({ item, error });
      }
      return result;
    },
  };
}
