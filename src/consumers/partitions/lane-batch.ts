import type { WorkerConfig } from '../../lib/config.ts';
import { DEFAULT_DECODE_LIMITS } from '../../lib/envelope.ts';
import { describeError, PartitionFencedError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { WorkerMetrics } from '../../lib/metrics.ts';
import { entryIdMs } from '../../lib/redis/stream-ids.ts';
import { backoffDelay } from '../backoff.ts';
import { deadLetterRecord, intakeBatch } from '../batch-intake.ts';
import { deadLetterReason, decideOutcome, isTransient } from '../outcome.ts';
import { retry } from '../retry.ts';
import type { StreamClient } from '../stream-client.ts';
import type { BatchSink, DeadLetterer, DeadLetterRecord, Pipeline, StreamEntry } from '../types.ts';

/**
 * One batch of one key lane of an ordered partition (the lane's head, in stream order: lanes.ts pickBatch):
 *
 *   committed (applied or duplicate)  -> XACK, done
 *   deferred (behind a failed event   -> not written; stays in the lane, in order, for the next batch
 *     of its key in this batch)
 *   poison / undecodable              -> dead-letter, done (order is broken for that event: docs/scaling.md)
 *   failed, cause unknown             -> stays at the head of its key and is retried in place; its key's later
 *                                        entries wait. After maxDeliveries attempts: dead-letter.
 *   transient (Postgres down)         -> the whole batch is retried after a backoff; never dead-lettered
 *   fenced (another owner's epoch)    -> nothing committed, nothing acknowledged: the partition is dropped
 *
 * Unlike the unordered processor nothing is ever "left pending for later": a later delivery would come after
 * the key's next events.
 */
export interface LaneBatchDeps {
  client: StreamClient;
  sink: BatchSink;
  pipeline: Pipeline;
  deadLetterer: DeadLetterer | undefined;
  config: Pick<WorkerConfig, 'maxDeliveries' | 'maxPayloadBytes' | 'backoffBaseMs' | 'backoffMaxMs'>;
  logger: Logger;
  metrics: WorkerMetrics | undefined;
  labels: { stream: string; group: string; pipeline: string };
  /** Aborted when the partition is lost or the worker gives up: stop retrying Redis steps. */
  stop: AbortSignal;
  now: () => number;
  random: () => number;
}

export interface LaneBatchResult {
  /** Entries finished (committed and acknowledged, or dead-lettered): remove them from the lane. */
  done: string[];
  /** Wait this long before the lane's next batch (something is being retried); 0: go on. */
  delayMs: number;
  /** The fencing check refused the batch: drop the partition. */
  fenced: boolean;
}

export function createLaneBatch(
  deps: LaneBatchDeps,
): (batch: readonly StreamEntry[]) => Promise<LaneBatchResult> {
  const { config, logger, metrics, labels } = deps;
  const limits = { ...DEFAULT_DECODE_LIMITS, maxBytes: config.maxPayloadBytes };
  const delay = (attempt: number) =>
    backoffDelay(attempt, { baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs, random: deps.random });
  /** Failed attempts of entries retried in place, by entry id (this ownership only). */
  const attempts = new Map<string, number>();
  let transientAttempt = 0;

  async function redisStep(kind: 'ack' | 'dead_letter', step: () => Promise<unknown>): Promise<boolean> {
    const result = await retry(step, {
      backoff: delay,
      signal: deps.stop,
      onRetry: (error, attempt) => {
        metrics?.redisErrors.inc({ kind });
        logger.warn({ err: describeError(error), kind, attempt }, 'redis step failed, retrying');
      },
    });
    return result.status === 'done';
  }

  return async function processLaneBatch(batch) {
    const intake = intakeBatch(batch, {
      maxDeliveries: config.maxDeliveries,
      limits,
      pipeline: deps.pipeline,
      stream: labels.stream,
    });
    const dead: DeadLetterRecord[] = [...intake.dead];
    const done: string[] = [];
    let delayMs = 0;
    if (intake.items.length > 0) {
      const startedAt = deps.now();
      let written: Awaited<ReturnType<BatchSink['write']>>;
      try {
        written = await deps.sink.write(intake.items);
        transientAttempt = 0;
      } catch (error) {
        if (error instanceof PartitionFencedError) return { done: [], delayMs: 0, fenced: true };
        if (isTransient(error)) {
          metrics?.messages.inc({ ...labels, outcome: 'retried' }, intake.items.length);
          logger.warn({ err: describeError(error) }, 'ordered batch failed transiently; retrying it');
          // Nothing of it is done, not even its dead letters: the batch is taken again as a whole.
          return { done: [], delayMs: delay(transientAttempt++), fenced: false };
        }
        logger.error({ err: describeError(error), size: intake.items.length }, 'ordered batch failed');
        written = {
          applied: [],
          duplicates: [],
          poison: [],
          failed: intake.items.map((item) => ({ item, error })),
        };
      }
      const committed = [...written.applied, ...written.duplicates];
      if (committed.length > 0) {
        const committedAt = deps.now();
        metrics?.batchDuration.observe(labels, (committedAt - startedAt) / 1000);
        metrics?.batchSize.observe(labels, committed.length);
        // The labelled series once per batch: observe(labels, v) would hash the labels for every message.
        const endToEnd = metrics?.endToEndLatency.labels(labels);
        for (const item of written.applied) {
          const addedAt = entryIdMs(item.entry.id);
          if (endToEnd && Number.isFinite(addedAt))
            endToEnd.observe(Math.max(0, committedAt - addedAt) / 1000);
        }
        // Committed: done whether or not the XACK lands (a later owner's redelivery is a duplicate).
        await redisStep('ack', () => deps.client.ack(committed.map((i) => i.entry.id)));
        metrics?.messages.inc({ ...labels, outcome: 'acked' }, written.applied.length);
        metrics?.messages.inc({ ...labels, outcome: 'duplicate' }, written.duplicates.length);
        for (const i of committed) {
          done.push(i.entry.id);
          attempts.delete(i.entry.id);
        }
      }
      for (const { item, error } of written.poison)
        dead.push(deadLetterRecord(item.entry, error.reason, error.name, error.message, item.envelope));
      for (const { item, error } of written.failed) {
        const tries = (attempts.get(item.entry.id) ?? 0) + 1;
        attempts.set(item.entry.id, tries);
        const outcome = decideOutcome({
          error,
          deliveryCount: item.entry.deliveryCount + tries - 1,
          maxDeliveries: config.maxDeliveries,
        });
        if (outcome === 'dead-letter') {
          const name = error instanceof Error ? error.name : 'Error';
          dead.push(
            deadLetterRecord(item.entry, deadLetterReason(error), name, describeError(error), item.envelope),
          );
        } else {
          metrics?.messages.inc({ ...labels, outcome: 'retried' });
          logger.warn(
            { entryId: item.entry.id, eventId: item.envelope.id, attempt: tries, err: describeError(error) },
            'ordered entry failed: retried in place, later events of its key wait',
          );
          delayMs = Math.max(delayMs, delay(tries - 1));
        }
      }
    }
    if (dead.length > 0) {
      if (!deps.deadLetterer) {
        logger.error({ count: dead.length }, 'poison in an ordered partition and no dead-letterer: held');
        return { done, delayMs: Math.max(delayMs, delay(0)), fenced: false };
      }
      const moved = await redisStep('dead_letter', () =>
        (deps.deadLetterer as DeadLetterer).deadLetter(dead),
      );
      if (moved) {
        metrics?.messages.inc({ ...labels, outcome: 'dead_lettered' }, dead.length);
        for (const r of dead) {
          done.push(r.entry.id);
          attempts.delete(r.entry.id);
          logger.warn(
            { entryId: r.entry.id, eventId: r.eventId, reason: r.reason },
            'ordered entry dead-lettered: later events of its key go on without it',
          );
        }
      }
    }
    return { done, delayMs, fenced: false };
  };
}
