import type { WorkerConfig } from '../lib/config.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { WorkerMetrics } from '../lib/metrics.ts';
import { backoffDelay } from './backoff.ts';
import type { SinkHealth } from './batch-processor.ts';
import { idlePollDelay, readBytes, readCount } from './capacity.ts';
import type { InFlight } from './in-flight.ts';
import type { Reclaimer } from './reclaimer.ts';
import { isGroupGoneError, type ReadPage, type StreamClient } from './stream-client.ts';
import type { StreamEntry } from './types.ts';
import { sleep, type Wakeup } from './wakeup.ts';

/**
 * The read loop, on its own connection: XREADGROUP only for the free capacity, in entries and in bytes, and not
 * at all while the worker is full or its sink is failing (backpressure: the backlog waits in Redis, not in this
 * process's memory, and no entry starts its pending-idle clock long before it can be worked on).
 *
 * What one read brings in is bounded by bytes: a plain XREADGROUP sized from the entry sizes seen so far and
 * cut off past the budget, or a Lua script (read-entries.lua) that measures every entry in Redis, where an
 * entry over the payload limit is dead-lettered, never allocated here (read-path.ts says which). A script
 * cannot block, and Redis 7 has no blocking stream read that does not hand over the entry itself,
 * whatever its size. So an idle loop waits on the stream's doorbell instead (BLPOP on a one-item list that
 * the producer pushes after each publish, keys.ts): a published event is read at once. The wait is bounded
 * (1 ms after a read that found nothing, doubling up to STREAMSINK_POLL_MS), so entries added without a ring
 * (a raw XADD, a producer in another language) are read within STREAMSINK_POLL_MS.
 */
export interface ReadLoopDeps {
  client: StreamClient;
  inFlight: InFlight;
  sinkHealth: SinkHealth;
  wakeup: Wakeup;
  config: Pick<
    WorkerConfig,
    'maxInFlight' | 'maxInFlightBytes' | 'batchSize' | 'blockMs' | 'pollMs' | 'backoffBaseMs' | 'backoffMaxMs'
  >;
  /** Re-create the group after it vanished. */
  recreateGroup: () => Promise<void>;
  /** Run between reads, so reading and reclaiming never take the same free capacity. */
  reclaimer: Reclaimer;
  dispatch: (entries: StreamEntry[]) => void;
  /** Entries the read script dead-lettered inside Redis (oversize): count and log them. */
  onDeadLettered: (records: ReadPage['deadLettered']) => void;
  /**
   * Entries the worker may hold now, when less than STREAMSINK_MAX_IN_FLIGHT: what the current concurrency
   * limit's batches hold (concurrency-limiter.ts). At the limit, the backlog stays in the stream.
   */
  maxInFlight?: () => number;
  /** True while suspects run in quarantine (quarantine.ts): neither read nor reclaim, so they run alone. */
  holdReading?: () => boolean;
  logger: Logger;
  metrics: WorkerMetrics | undefined;
  labels: { stream: string; group: string };
  /** Called on every turn of the loop, paused or not: the liveness heartbeat. */
  onTurn: () => void;
  /** Aborted when the worker stops reading. */
  stop: AbortSignal;
  random: () => number;
}

export async function runReadLoop(deps: ReadLoopDeps): Promise<void> {
  const { client, inFlight, sinkHealth, config, logger, metrics, labels, stop } = deps;
  let failures = 0;
  let emptyReads = 0;
  let paused = -1;
  const setPaused = (value: 0 | 1) => {
    if (value === paused) return;
    paused = value;
    metrics?.backpressurePaused.set(labels, value);
  };

  while (!stop.aborted) {
    deps.onTurn();
    const held = deps.holdReading?.() ?? false;
    if (!held && deps.reclaimer.due()) await deps.reclaimer.run();
    // Paused while failing batches retry. With nothing in flight nobody would ever clear the mark: read, and
    // let the next batch find out whether the sink is back.
    const blocked = deps.holdReading?.() || (sinkHealth.failing && inFlight.size > 0);
    const count = blocked
      ? 0
      : readCount({
          inFlight: inFlight.size,
          maxInFlight: deps.maxInFlight?.() ?? config.maxInFlight,
          batchSize: config.batchSize,
        });
    const bytes =
      count === 0
        ? 0
        : readBytes({
            inFlight: inFlight.size,
            inFlightBytes: inFlight.bytes,
            maxInFlightBytes: config.maxInFlightBytes,
          });
    if (count === 0 || bytes === 0) {
      setPaused(1);
      // Woken early when room frees up, the sink recovers or the worker stops; the timeout keeps onTurn ticking.
      await deps.wakeup.wait(config.blockMs);
      continue;
    }
    setPaused(0);
    let page: ReadPage;
    try {
      page = await client.readNew(count, bytes);
      failures = 0;
    } catch (readError) {
      if (stop.aborted) break;
      let error = readError;
      if (isGroupGoneError(error)) {
        logger.warn({ ...labels }, 'consumer group or stream vanished: recreating it');
        metrics?.groupRecreated.inc(labels);
        try {
          await deps.recreateGroup();
          continue;
        } catch (recreateError) {
          error = recreateError;
        }
      }
      metrics?.redisErrors.inc({ kind: 'read' });
      logger.warn({ err: describeError(error), attempt: failures }, 'XREADGROUP failed, retrying');
      await sleep(
        backoffDelay(failures++, {
          baseMs: config.backoffBaseMs,
          maxMs: config.backoffMaxMs,
          random: deps.random,
        }),
        stop,
      );
      continue;
    }
    if (page.cutOff) {
      metrics?.readsCutOff.inc(labels);
      logger.warn(
        { ...labels, ...page.cutOff },
        'a read passed the byte budget and was cut off: its entries stay pending until the reclaimer claims them (STREAMSINK_CLAIM_IDLE_MS); reading through the measuring script for a while',
      );
    }
    if (page.deadLettered.length > 0) deps.onDeadLettered(page.deadLettered);
    // Entries that arrive after stop was asked are ours now (pending on this consumer): work them off too.
    if (page.entries.length > 0) deps.dispatch(page.entries);
    // Nothing new: wait for the doorbell, or poll again shortly. Dead-lettering was progress.
    if (page.entries.length > 0 || page.deadLettered.length > 0 || page.cutOff) emptyReads = 0;
    else if (!stop.aborted) await client.waitForNew(idlePollDelay(emptyReads++, config.pollMs), stop);
  }
  setPaused(1);
}
