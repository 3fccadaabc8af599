import type { WorkerConfig } from '../lib/config.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { WorkerMetrics } from '../lib/metrics.ts';
import type { SinkHealth } from './batch-processor.ts';
import { freeCapacity, readBytes } from './capacity.ts';
import type { InFlight } from './in-flight.ts';
import { isSuspect } from './quarantine.ts';
import { reclaimDue } from './reclaim-due.ts';
import { type AutoClaimPage, isNoGroupError, type StreamClient } from './stream-client.ts';
import type { StreamEntry } from './types.ts';
import { sleep } from './wakeup.ts';

/**
 * Takes over entries left pending by crashed or stuck consumers (and this worker's own entries left pending
 * after an unknown failure), and removes consumers that are long idle and hold nothing.
 *
 * Claiming pages through the group's pending list with a cursor (read-entries.lua: XPENDING IDLE, then XCLAIM
 * one entry at a time); each page asks only for free capacity, in entries and in bytes, and comes back with
 * delivery counts. Entries past STREAMSINK_MAX_DELIVERIES or over the payload limit are dead-lettered inside
 * Redis without being loaded here (a message that kills the process is never brought back into it), and a
 * suspect comes alone in its page, so suspects are claimed one at a time. A round that ended on a suspect is
 * followed by the next as soon as the suspect has finished, not a claim interval later (reclaim-due.ts). Ids
 * that Redis 7 reports as deleted (trimmed from the stream while pending) are acknowledged and counted, never
 * retried.
 *
 * Reclaiming runs on the read loop's turns (see read-loop.ts), not beside it: the loop and the reclaimer both
 * take in-flight capacity, and taking it from one place is what keeps in-flight from ever passing the limit.
 */
export interface ReclaimerDeps {
  client: StreamClient;
  inFlight: InFlight;
  sinkHealth: SinkHealth;
  config: Pick<
    WorkerConfig,
    | 'consumer'
    | 'maxInFlight'
    | 'maxInFlightBytes'
    | 'batchSize'
    | 'claimIdleMs'
    | 'claimIntervalMs'
    | 'consumerIdleDeleteMs'
    | 'maxDeliveries'
  >;
  dispatch: (entries: StreamEntry[]) => void;
  /** Entries the claim script dead-lettered inside Redis: count and log them. */
  onDeadLettered?: (records: AutoClaimPage['deadLettered']) => void;
  logger: Logger;
  metrics: WorkerMetrics | undefined;
  labels: { stream: string; group: string };
  stop: AbortSignal;
  now: () => number;
  /** True while suspects run in quarantine (quarantine.ts): claim no more pages, so they run alone. */
  holdBack?: () => boolean;
}

export interface Reclaimer {
  /**
   * A reclaim round is due: the sink is not failing, no suspect is in quarantine, and claimIntervalMs passed
   * since the last round or that round ended on a suspect (reclaim-due.ts).
   */
  due(): boolean;
  /** One round; never throws (errors are logged and counted). */
  run(): Promise<void>;
}

/** Pages of XAUTOCLAIM per round, so one round never holds up the read loop for long. */
const MAX_PAGES_PER_ROUND = 10;

export function createReclaimer(deps: ReclaimerDeps): Reclaimer {
  let lastRoundAt = deps.now();
  let lastRoundClaimedSuspect = false;
  /** Where the last round stopped with more of the pending list left: the next round starts there. */
  let resumeAt: string | undefined;
  const trigger = () =>
    reclaimDue({
      now: deps.now(),
      lastRoundAt,
      claimIntervalMs: deps.config.claimIntervalMs,
      sinkFailing: deps.sinkHealth.failing,
      quarantined: deps.holdBack?.() ?? false,
      lastRoundClaimedSuspect,
      lastRoundUnfinished: resumeAt !== undefined,
    });
  return {
    due: () => trigger() !== undefined,
    async run() {
      const why = trigger() ?? 'interval';
      const from = why === 'resume' ? resumeAt : undefined;
      // A resumed round that finds the worker still full claims nothing and leaves the interval's clock be.
      if (why !== 'resume') lastRoundAt = deps.now();
      lastRoundClaimedSuspect = false; // a round that fails claims nothing: the interval applies
      resumeAt = undefined;
      try {
        const round = await reclaimOnce(deps, from);
        lastRoundClaimedSuspect = round.endedOnSuspect;
        resumeAt = round.resumeAt;
        if (why !== 'resume' || round.taken > 0)
          deps.logger.debug({ trigger: why, ...round }, 'reclaim round');
      } catch (error) {
        // NOGROUP: the read loop recreates the group; nothing to reclaim until then.
        if (!isNoGroupError(error)) {
          deps.metrics?.redisErrors.inc({ kind: 'reclaim' });
          deps.logger.warn({ err: describeError(error) }, 'reclaim round failed');
        }
      }
    },
  };
}

export interface ReclaimRound {
  /** Entries taken on (dispatched). */
  taken: number;
  /** The last page claimed a suspect: it stopped the round, and more may be idle behind it. */
  endedOnSuspect: boolean;
  /**
   * The cursor to go on from when the round stopped with more of the pending list to page through: the worker
   * was full, or the round reached its page limit. Undefined when it went round to the start (or was stopped,
   * or ended on a suspect, which has its own way back).
   */
  resumeAt?: string;
}

/** One round of XAUTOCLAIM paging, from `from` (a cursor a stopped round returned) or the start. */
export async function reclaimOnce(deps: ReclaimerDeps, from = '0-0'): Promise<ReclaimRound> {
  const { client, inFlight, config, metrics, labels } = deps;
  let cursor = from;
  let taken = 0;
  let endedOnSuspect = false;
  let stoppedFull = false;
  let page = 0;
  for (; page < MAX_PAGES_PER_ROUND && !deps.stop.aborted && !deps.holdBack?.(); page++) {
    const free = freeCapacity({ inFlight: inFlight.size, maxInFlight: config.maxInFlight });
    const bytes = readBytes({
      inFlight: inFlight.size,
      inFlightBytes: inFlight.bytes,
      maxInFlightBytes: config.maxInFlightBytes,
    });
    if (free === 0 || bytes === 0) {
      stoppedFull = true;
      break;
    }
    const result = await client.autoClaim(
      config.claimIdleMs,
      cursor,
      Math.min(free, config.batchSize),
      bytes,
    );
    cursor = result.cursor;
    endedOnSuspect = false;
    if (result.deadLettered.length > 0) deps.onDeadLettered?.(result.deadLettered);
    if (result.deletedIds.length > 0) {
      await client.ack(result.deletedIds);
      metrics?.claimedDeleted.inc(labels, result.deletedIds.length);
      deps.logger.warn(
        { count: result.deletedIds.length, first: result.deletedIds[0] },
        'pending entries were deleted from the stream before processing: acknowledged',
      );
    }
    // An entry we still hold (its lease ran out under a very slow batch) stays with the batch that holds it.
    const fresh = result.entries.filter((e) => !inFlight.has(e.id));
    if (fresh.length > 0) {
      const first = (fresh[0] as StreamEntry).id;
      const last = (fresh[fresh.length - 1] as StreamEntry).id;
      // The claim script reports raised counts; a client that does not (count 0) is asked with XPENDING.
      if (fresh.some((e) => e.deliveryCount === 0)) {
        const counts = await client.pendingCounts(first, last, config.maxInFlight + fresh.length);
        for (const entry of fresh) entry.deliveryCount = counts.get(entry.id) ?? 1;
      }
      metrics?.claimed.inc(labels, fresh.length);
      deps.logger.info({ count: fresh.length, first }, 'claimed idle pending entries');
      endedOnSuspect = fresh.some((e) => isSuspect(e.deliveryCount, config.maxDeliveries));
      deps.dispatch(fresh);
      taken += fresh.length;
    }
    if (cursor === '0-0') break;
  }
  // Stopped on a full worker (also before its first page: then it resumes from where it began) or at the
  // page limit: the cursor has not come round to the start, so there is more to look at.
  const unfinished = !endedOnSuspect && !deps.stop.aborted && (stoppedFull || page === MAX_PAGES_PER_ROUND);
  return unfinished ? { taken, endedOnSuspect, resumeAt: cursor } : { taken, endedOnSuspect };
}

/** Every so often, remove stale consumers. Takes no capacity, so it runs on its own timer. */
export async function runConsumerSweeper(deps: ReclaimerDeps): Promise<void> {
  const every = Math.min(60_000, Math.max(deps.config.claimIntervalMs, deps.config.consumerIdleDeleteMs / 2));
  while (!deps.stop.aborted) {
    await sleep(every, deps.stop);
    if (deps.stop.aborted) break;
    try {
      await removeStaleConsumers(deps);
    } catch (error) {
      if (!isNoGroupError(error)) {
        deps.metrics?.redisErrors.inc({ kind: 'reclaim' }); // the sweep is part of reclaiming (docs/metrics.md kinds)
        deps.logger.warn({ err: describeError(error) }, 'stale consumer sweep failed');
      }
    }
  }
}

/** Delete consumers idle longer than consumerIdleDeleteMs that hold no pending entries; never this one. */
export async function removeStaleConsumers(
  deps: Pick<ReclaimerDeps, 'client' | 'config' | 'logger'>,
): Promise<string[]> {
  const removed: string[] = [];
  for (const c of await deps.client.consumers()) {
    if (c.name === deps.config.consumer) continue;
    if (c.pending > 0 || c.idleMs <= deps.config.consumerIdleDeleteMs) continue;
    // Checked again inside Lua: it may have read entries since XINFO answered.
    if (await deps.client.deleteConsumerIfIdle(c.name)) {
      removed.push(c.name);
      deps.logger.info({ consumer: c.name, idleMs: c.idleMs }, 'removed stale consumer');
    }
  }
  return removed;
}
