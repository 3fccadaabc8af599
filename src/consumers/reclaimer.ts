import type { WorkerConfig } from '../lib/config.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { WorkerMetrics } from '../lib/metrics.ts';
import type { SinkHealth } from './batch-processor.ts';
import { freeCapacity } from './capacity.ts';
import type { InFlight } from './in-flight.ts';
import { isNoGroupError, type StreamClient } from './stream-client.ts';
import type { StreamEntry } from './types.ts';
import { sleep } from './wakeup.ts';

/**
 * Takes over entries left pending by crashed or stuck consumers (and this worker's own entries left pending
 * after an unknown failure), and removes consumers that are long idle and hold nothing.
 *
 * XAUTOCLAIM pages through the group's pending list with a cursor; each page asks only for free capacity. Its
 * reply has no delivery counts, so they are read back with one XPENDING over the claimed id range for this
 * consumer. Ids that Redis 7 reports as deleted (trimmed from the stream while pending) are acknowledged and
 * counted, never retried. Reclaiming pauses while the sink is failing: there is no point taking on more work.
 */
export interface ReclaimerDeps {
  client: StreamClient;
  inFlight: InFlight;
  sinkHealth: SinkHealth;
  config: Pick<
    WorkerConfig,
    'consumer' | 'maxInFlight' | 'batchSize' | 'claimIdleMs' | 'claimIntervalMs' | 'consumerIdleDeleteMs'
  >;
  dispatch: (entries: StreamEntry[]) => void;
  logger: Logger;
  metrics: WorkerMetrics | undefined;
  labels: { stream: string; group: string };
  stop: AbortSignal;
  now: () => number;
}

/** Pages of XAUTOCLAIM per round, so one round never monopolises the connection. */
const MAX_PAGES_PER_ROUND = 10;

export async function runReclaimer(deps: ReclaimerDeps): Promise<void> {
  let lastConsumerSweep = deps.now();
  const sweepEvery = Math.min(
    60_000,
    Math.max(deps.config.claimIntervalMs, deps.config.consumerIdleDeleteMs / 2),
  );
  while (!deps.stop.aborted) {
    await sleep(deps.config.claimIntervalMs, deps.stop);
    if (deps.stop.aborted || deps.sinkHealth.failing) continue;
    try {
      await reclaimOnce(deps);
      if (deps.now() - lastConsumerSweep >= sweepEvery) {
        lastConsumerSweep = deps.now();
        await removeStaleConsumers(deps);
      }
    } catch (error) {
      // NOGROUP: the read loop recreates the group; nothing to reclaim until then.
      if (!isNoGroupError(error)) {
        deps.metrics?.redisErrors.inc({ kind: 'reclaim' });
        deps.logger.warn({ err: describeError(error) }, 'reclaim round failed');
      }
    }
  }
}

/** One round of XAUTOCLAIM paging. Returns the number of entries taken on. */
export async function reclaimOnce(deps: ReclaimerDeps): Promise<number> {
  const { client, inFlight, config, metrics, labels } = deps;
  let cursor = '0-0';
  let taken = 0;
  for (let page = 0; page < MAX_PAGES_PER_ROUND && !deps.stop.aborted; page++) {
    const free = freeCapacity({ inFlight: inFlight.size, maxInFlight: config.maxInFlight });
    if (free === 0) break;
    const result = await client.autoClaim(config.claimIdleMs, cursor, Math.min(free, config.batchSize));
    cursor = result.cursor;

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
      const first = fresh[0] as StreamEntry;
      const last = fresh[fresh.length - 1] as StreamEntry;
      const counts = await client.pendingCounts(first.id, last.id, config.maxInFlight + fresh.length);
      for (const entry of fresh) entry.deliveryCount = counts.get(entry.id) ?? 1;
      metrics?.claimed.inc(labels, fresh.length);
      deps.logger.info({ count: fresh.length, first: first.id }, 'claimed idle pending entries');
      deps.dispatch(fresh);
      taken += fresh.length;
    }
    if (cursor === '0-0') break;
  }
  return taken;
}

/** Delete consumers idle longer than consumerIdleDeleteMs that hold no pending entries; never this one. */
export async function removeStaleConsumers(deps: ReclaimerDeps): Promise<string[]> {
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
