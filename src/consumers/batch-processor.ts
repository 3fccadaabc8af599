import type { WorkerConfig } from '../lib/config.ts';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../lib/envelope.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { RedisErrorKind, WorkerMetrics } from '../lib/metrics.ts';
import { entryIdMs } from '../lib/redis/stream-ids.ts';
import { backoffDelay } from './backoff.ts';
import { deadLetterRecord, intakeBatch } from './batch-intake.ts';
import type { CommitWatermark } from './data-loss.ts';
import { createDeadLetterStep } from './dead-letter-step.ts';
import { deadLetterReason, decideOutcome, isTransient } from './outcome.ts';
import { retry } from './retry.ts';
import { isNoGroupError, type StreamClient } from './stream-client.ts';
import type {
  AcceptedItem,
  BatchResult,
  BatchSink,
  DeadLetterer,
  DeadLetterRecord,
  Pipeline,
  StreamEntry,
} from './types.ts';
import { sleep } from './wakeup.ts';

/**
 * One batch, from entries to acknowledgements:
 *
 *   over max deliveries -> dead-letter (a message that kills the process every time still ends somewhere)
 *   undecodable / refused by the pipeline -> dead-letter with its reason
 *   the rest -> sink.write, in one transaction; then ONE XACK for everything committed
 *
 * Ack only after commit: a crash between the two redelivers the entries, and the inbox makes the second
 * write a no-op. A TransientError from the sink (Postgres down) retries the batch with backoff until it works
 * or the worker stops; the entries stay held (their leases renewed), so nothing good is ever dead-lettered
 * because of an outage.
 */
export interface SinkHealth {
  readonly failing: boolean;
  /** `cause`: the error that made the sink fail, so the worker can tell an unreachable database apart. */
  set(failing: boolean, cause?: unknown): void;
}

export interface BatchProcessorDeps {
  client: StreamClient;
  sink: BatchSink;
  pipeline: Pipeline;
  deadLetterer: DeadLetterer | undefined;
  config: Pick<WorkerConfig, 'maxDeliveries' | 'maxPayloadBytes' | 'backoffBaseMs' | 'backoffMaxMs'>;
  logger: Logger;
  metrics: WorkerMetrics | undefined;
  labels: { stream: string; group: string; pipeline: string };
  sinkHealth: SinkHealth;
  /** Aborted when the worker gives up (shutdown deadline): stop retrying and leave entries pending. */
  giveUp: AbortSignal;
  now: () => number;
  random: () => number;
  /** Told every committed entry id (memory only); the metrics sampler writes the highest to Postgres. */
  commitWatermark?: CommitWatermark;
}

export type { BatchResult } from './types.ts';

export interface BatchProcessor {
  process(entries: readonly StreamEntry[]): Promise<BatchResult>;
}

export function createBatchProcessor(deps: BatchProcessorDeps): BatchProcessor {
  const { client, sink, pipeline, config, logger, metrics, labels, sinkHealth, giveUp, now } = deps;
  const limits: DecodeLimits = { ...DEFAULT_DECODE_LIMITS, maxBytes: config.maxPayloadBytes };
  const delay = (attempt: number) =>
    backoffDelay(attempt, { baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs, random: deps.random });

  /**
   * Run a Redis step until it succeeds or the worker gives up. NOGROUP is not retried: the group and its
   * pending list are gone (the read loop recreates the group), and what that means is the caller's to say.
   */
  async function redisStep(
    kind: RedisErrorKind,
    step: () => Promise<unknown>,
  ): Promise<'done' | 'given_up' | 'group_gone'> {
    const result = await retry(step, {
      backoff: delay,
      signal: giveUp,
      shouldRetry: (error) => !isNoGroupError(error),
      onRetry: (error, attempt) => {
        metrics?.redisErrors.inc({ kind });
        logger.warn({ err: describeError(error), kind, attempt }, 'redis step failed, retrying');
      },
    });
    return result.status === 'stopped' ? 'group_gone' : result.status;
  }

  const deadLetter = createDeadLetterStep({
    deadLetterer: deps.deadLetterer,
    redisStep: (step) => redisStep('dead_letter', step),
    logger,
    metrics,
    labels,
  });

  async function ack(items: readonly AcceptedItem[]): Promise<boolean> {
    if (items.length === 0) return true;
    // NOGROUP: nothing is left to acknowledge. The commit stands; if the recreated group delivers these
    // entries again, the inbox makes them duplicates.
    return (await redisStep('ack', () => client.ack(items.map((i) => i.entry.id)))) !== 'given_up';
  }

  // The labelled series, looked up once: observe(labels, v) hashes the labels on every call, per message.
  const endToEnd = metrics?.endToEndLatency.labels(labels);
  function observeCommitted(applied: readonly AcceptedItem[], committedAt: number): void {
    if (!endToEnd) return;
    for (const item of applied) {
      const addedAt = entryIdMs(item.entry.id);
      if (Number.isFinite(addedAt)) endToEnd.observe(Math.max(0, committedAt - addedAt) / 1000);
    }
  }

  return {
    async process(entries) {
      const result: BatchResult = { acked: 0, duplicates: 0, deadLettered: 0, leftPending: 0 };
      const intake = intakeBatch(entries, {
        maxDeliveries: config.maxDeliveries,
        limits,
        pipeline,
        stream: labels.stream,
      });
      const dead: DeadLetterRecord[] = intake.dead;
      let items: AcceptedItem[] = intake.items;

      let attempt = 0;
      while (items.length > 0) {
        if (attempt > 0) {
          metrics?.messages.inc({ ...labels, outcome: 'retried' }, items.length);
          await sleep(delay(attempt - 1), giveUp);
        }
        if (giveUp.aborted) {
          result.leftPending += items.length;
          break;
        }
        attempt += 1;
        const startedAt = now();
        let written: Awaited<ReturnType<BatchSink['write']>>;
        try {
          written = await sink.write(items);
        } catch (error) {
          if (isTransient(error)) {
            if (!sinkHealth.failing)
              logger.warn({ err: describeError(error) }, 'sink failing: reading paused, retrying batch');
            sinkHealth.set(true, error);
            continue;
          }
          // Not transient and not isolated by the sink: judge each entry by its own delivery count. The sink
          // answered, so it is not down: clear the failing mark, or reading would stay paused with nothing
          // left in flight to clear it.
          logger.error({ err: describeError(error), size: items.length }, 'batch failed');
          sinkHealth.set(false);
          items = settleFailed(
            items.map((item) => ({ item, error })),
            dead,
            result,
          );
          continue;
        }
        const committedAt = now();
        if (sinkHealth.failing) logger.info('sink recovered: reading resumes');
        sinkHealth.set(false);
        metrics?.batchDuration.observe(labels, (committedAt - startedAt) / 1000);
        metrics?.batchSize.observe(labels, items.length);
        observeCommitted(written.applied, committedAt);

        const committed = [...written.applied, ...written.duplicates];
        // Committed, so these entries were in the stream: a stream later behind them lost data.
        deps.commitWatermark?.observe(committed.map((i) => i.entry.id));
        if (await ack(committed)) {
          result.acked += written.applied.length;
          result.duplicates += written.duplicates.length;
          metrics?.messages.inc({ ...labels, outcome: 'acked' }, written.applied.length);
          metrics?.messages.inc({ ...labels, outcome: 'duplicate' }, written.duplicates.length);
        } else {
          // Committed but not acknowledged: redelivered later and deduplicated by the inbox.
          result.leftPending += committed.length;
        }
        for (const { item, error } of written.poison)
          dead.push(deadLetterRecord(item.entry, error.reason, error.name, error.message, item.envelope));
        items = settleFailed(written.failed, dead, result);
      }

      await deadLetter(dead, result);
      return result;
    },
  };

  /** Sort isolated failures: the ones to retry now are returned, the rest are dead-lettered or left pending. */
  function settleFailed(
    failed: ReadonlyArray<{ item: AcceptedItem; error: unknown }>,
    dead: DeadLetterRecord[],
    result: BatchResult,
  ): AcceptedItem[] {
    const again: AcceptedItem[] = [];
    for (const { item, error } of failed) {
      const outcome = decideOutcome({
        error,
        deliveryCount: item.entry.deliveryCount,
        maxDeliveries: config.maxDeliveries,
      });
      if (outcome === 'retry') again.push(item);
      else if (outcome === 'dead-letter') {
        const name = error instanceof Error ? error.name : 'Error';
        dead.push(
          deadLetterRecord(item.entry, deadLetterReason(error), name, describeError(error), item.envelope),
        );
      } else {
        result.leftPending += 1;
        metrics?.messages.inc({ ...labels, outcome: 'retried' });
        logger.warn(
          {
            entryId: item.entry.id,
            eventId: item.envelope.id,
            deliveryCount: item.entry.deliveryCount,
            err: describeError(error),
          },
          'entry failed: left pending for a later delivery',
        );
      }
    }
    return again;
  }
}
