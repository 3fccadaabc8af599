import PQueue from 'p-queue';
import type { WorkerConfig } from '../../lib/config.ts';
import { describeError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Pool } from '../../lib/pg.ts';
import type { RedisClient as Redis } from '../../lib/redis/client.ts';
import type { PartitionKeys } from '../../lib/redis/keys.ts';
import { groupMembersKey, partitionLeaseKey } from '../../lib/redis/keys.ts';
import { sleep } from '../wakeup.ts';
import { assignPartitions } from './assignment.ts';
import { acquireEpoch, type Fence } from './fencing.ts';
import { createPartitionLeases } from './lease.ts';
import { createMembership } from './membership.ts';
import type { PartitionMetrics } from './metrics.ts';
import type { PartitionRunner } from './partition-runner.ts';

/**
 * Ordered consumption of a partitioned stream: which partitions this worker works, and handing them over.
 *
 * Every tick (a fifth of the lease TTL) it beats in the membership ZSET, reads who holds each lease, computes
 * its share with the sticky capped rendezvous assignment (assignment.ts), renews the leases it holds, hands
 * over the partitions no longer assigned to it (stop reading, finish running batches, compare-and-expire the
 * lease: cooperative, only moved partitions pause) and acquires the ones newly assigned: SET NX PX, then the
 * fencing epoch in Postgres (fencing.ts), then a runner (partition-runner.ts) that first finishes the former
 * owner's pending entries. A renewal refused or a batch fenced drops the partition at once, unacknowledged.
 */
export interface OrderedConsumerOptions {
  redis: Redis;
  pool: Pool;
  prefix: string;
  stream: string;
  group: string;
  /** This process's unique member id (also its lease token). */
  member: string;
  partitions: readonly PartitionKeys[];
  config: Pick<WorkerConfig, 'maxInFlight' | 'shutdownTimeoutMs' | 'concurrency'> & { leaseTtlMs: number };
  /** Build the runner of one acquired partition. `limiter` runs every sink write (shared concurrency). */
  startRunner: (args: {
    keys: PartitionKeys;
    leaseKey: string;
    fence: Fence;
    limiter: PQueue;
    maxHeld: number;
    /** Key lanes for this partition: the worker's concurrency spread over the partitions it owns. */
    lanes: number;
    onLost: (why: 'lease' | 'fenced') => void;
  }) => PartitionRunner;
  logger: Logger;
  metrics?: PartitionMetrics;
  now: () => number;
}

export interface OrderedConsumer {
  start(): void;
  /** Hand every partition over, release the leases, leave the membership. Safe to call twice. */
  close(): Promise<void>;
  owned(): number[];
  heldEntries(): number;
  lastTickAt(): number;
}

export function createOrderedConsumer(options: OrderedConsumerOptions): OrderedConsumer {
  const { redis, config, logger, metrics, now } = options;
  const P = options.partitions.length;
  const leases = createPartitionLeases(redis, options.member, config.leaseTtlMs);
  const leaseKeys = options.partitions.map((k) => partitionLeaseKey(k, options.group));
  const membership = createMembership(
    redis,
    groupMembersKey(options.prefix, options.stream, options.group),
    options.member,
    config.leaseTtlMs,
  );
  const tickMs = Math.max(50, Math.floor(config.leaseTtlMs / 5));
  const limiter = new PQueue({ concurrency: config.concurrency });
  const labels = { stream: options.stream, group: options.group };
  const runners = new Map<number, PartitionRunner>();
  /** Acquiring or handing over: not touched by the tick until that finishes. */
  const busy = new Set<number>();
  const stopTicking = new AbortController();
  let desired = new Set<number>();
  let lastTick = now();
  let ticking: Promise<void> = Promise.resolve();
  let closing: Promise<void> | undefined;
  let ticks = 0;

  const plabels = (p: number) => ({ ...labels, partition: String(p) });
  function forget(p: number): void {
    runners.delete(p);
    metrics?.owned.set(plabels(p), 0);
    metrics?.epoch.set(plabels(p), 0);
    metrics?.lag.remove(plabels(p));
  }

  function lose(p: number, runner: PartitionRunner, reason: 'expired' | 'fenced'): void {
    if (runners.get(p) !== runner) return;
    forget(p);
    metrics?.leaseLosses.inc({ ...labels, reason });
    logger.warn(
      { partition: p, reason },
      'partition lost: dropped without acknowledging its unfinished entries',
    );
    busy.add(p);
    void runner
      .stop()
      .then(() => leases.release(leaseKeys[p] as string))
      .catch(() => undefined)
      .finally(() => busy.delete(p));
  }

  async function handOver(p: number, runner: PartitionRunner): Promise<void> {
    forget(p);
    busy.add(p);
    try {
      await runner.stop();
      await leases.release(leaseKeys[p] as string);
      metrics?.handovers.inc({ ...labels, direction: 'out' });
      logger.info({ partition: p }, 'partition handed over');
    } catch (error) {
      logger.warn(
        { partition: p, err: describeError(error) },
        'releasing a partition failed; its lease expires',
      );
    } finally {
      busy.delete(p);
    }
  }

  async function acquire(p: number, share: number): Promise<void> {
    busy.add(p);
    const leaseKey = leaseKeys[p] as string;
    try {
      if (!(await leases.acquire(leaseKey))) return;
      let fence: Fence;
      try {
        fence = await acquireEpoch(
          options.pool,
          { stream: options.stream, group: options.group, partition: p },
          options.member,
        );
      } catch (error) {
        logger.warn(
          { partition: p, err: describeError(error) },
          'could not take the fencing epoch; retrying',
        );
        await leases.release(leaseKey).catch(() => undefined);
        return;
      }
      if (stopTicking.signal.aborted) {
        await leases.release(leaseKey).catch(() => undefined);
        return;
      }
      const maxHeld = Math.max(1, Math.floor(config.maxInFlight / Math.max(1, share)));
      let runner: PartitionRunner | undefined;
      runner = options.startRunner({
        keys: options.partitions[p] as PartitionKeys,
        leaseKey,
        fence,
        limiter,
        maxHeld,
        lanes: Math.max(1, Math.ceil(config.concurrency / Math.max(1, share))),
        onLost: (why) => {
          if (runner) lose(p, runner, why === 'fenced' ? 'fenced' : 'expired');
        },
      });
      runners.set(p, runner);
      metrics?.owned.set(plabels(p), 1);
      metrics?.epoch.set(plabels(p), fence.epoch);
      metrics?.handovers.inc({ ...labels, direction: 'in' });
      logger.info({ partition: p, epoch: fence.epoch }, 'partition acquired');
    } catch (error) {
      logger.warn({ partition: p, err: describeError(error) }, 'acquiring a partition failed; retrying');
    } finally {
      busy.delete(p);
    }
  }

  async function tick(): Promise<void> {
    const members = await membership.beat(now());
    const holders = await leases.holders(leaseKeys);
    const mine = assignPartitions({ members, partitions: P, owners: holders }).get(options.member) ?? [];
    const next = new Set(mine);
    if (next.size !== desired.size || mine.some((p) => !desired.has(p))) {
      if (ticks > 0) metrics?.rebalances.inc(labels);
      logger.info({ partitions: mine, members: members.length }, 'assigned partitions');
    }
    desired = next;
    // Renew first: a partition whose lease is gone was lost (its batches may be fenced), not handed over.
    for (const [p, runner] of [...runners]) {
      if (!(await leases.renew(leaseKeys[p] as string))) lose(p, runner, 'expired');
      else {
        metrics?.leaseRenewals.inc(labels);
        if (!desired.has(p)) void handOver(p, runner);
      }
    }
    for (const p of desired) {
      if (runners.has(p) || busy.has(p)) continue;
      const holder = holders[p];
      if (holder === undefined || holder === options.member) void acquire(p, desired.size);
    }
    if (metrics && ticks % 5 === 0) await sampleLag();
    ticks += 1;
  }

  async function sampleLag(): Promise<void> {
    for (const p of runners.keys()) {
      const keys = options.partitions[p] as PartitionKeys;
      try {
        const groups = (await redis.xinfo('GROUPS', keys.stream)) as Array<Array<string | number | null>>;
        for (const flat of groups) {
          const i = flat.indexOf('name');
          if (flat[i + 1] !== options.group) continue;
          const lag = flat[flat.indexOf('lag') + 1];
          if (typeof lag === 'number') metrics?.lag.set(plabels(p), lag);
        }
      } catch {
        // sampling is best effort
      }
    }
  }

  async function loop(): Promise<void> {
    let failures = 0;
    while (!stopTicking.signal.aborted) {
      try {
        await tick();
        failures = 0;
      } catch (error) {
        logger.warn({ err: describeError(error), attempt: failures++ }, 'partition coordination failed');
      }
      // The liveness heartbeat: the loop goes round, even while Redis fails (as the read loop's turns do).
      lastTick = now();
      await sleep(tickMs, stopTicking.signal);
    }
  }

  return {
    start() {
      ticking = loop();
    },
    close() {
      closing ??= (async () => {
        stopTicking.abort();
        await ticking;
        const deadline = now() + config.shutdownTimeoutMs;
        const stops = [...runners].map(([p, runner]) => handOver(p, runner));
        // The timer ends with the race: left running, it kept the process alive after a prompt handover.
        const handedOver = new AbortController();
        await Promise.race([Promise.all(stops), sleep(config.shutdownTimeoutMs, handedOver.signal)]);
        handedOver.abort();
        // Acquisitions in flight release what they got once they see the stop; bounded by the same deadline.
        while (busy.size > 0 && now() < deadline) await sleep(20);
        await membership.leave().catch(() => undefined);
      })();
      return closing;
    },
    owned: () => [...runners.keys()].sort((a, b) => a - b),
    heldEntries: () => [...runners.values()].reduce((n, r) => n + r.held(), 0),
    lastTickAt: () => lastTick,
  };
}
