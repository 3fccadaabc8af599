import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { acquireEpoch, checkEpoch } from '../../src/consumers/partitions/fencing.ts';
import { createPartitionLeases } from '../../src/consumers/partitions/lease.ts';
import type { BatchSink } from '../../src/consumers/types.ts';
import { PartitionFencedError } from '../../src/lib/errors.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { createPartitionedStream } from '../../src/lib/partitions/stream-layout.ts';
import { partitionLeaseKey } from '../../src/lib/redis/keys.ts';
import { sequencePipeline } from '../fixtures/sequence-pipeline.ts';
import { deletePrefixKeys, publishRouted, sequenceEvents, sequenceState } from '../helpers/partitioned.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * Ordered consumption in process, on the real servers: two workers share a 16-partition stream and apply
 * every key in order; and the fencing epoch refuses the commit of a worker whose lease was stolen while it
 * held a batch.
 */
const ORDERED_ENV = {
  STREAMSINK_ORDERING: 'key',
  STREAMSINK_LEASE_TTL_MS: '2000',
  STREAMSINK_BATCH_SIZE: '50',
  STREAMSINK_MAX_IN_FLIGHT: '400',
};

async function lossCount(
  w: {
    partitionMetrics: {
      leaseLosses: { get(): Promise<{ values: Array<{ labels: Record<string, unknown>; value: number }> }> };
    };
  },
  reason: string,
) {
  return (
    (await w.partitionMetrics.leaseLosses.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0
  );
}

describe('ordered consumption of a partitioned stream', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), ORDERED_ENV);
    await migrate(bench.db, undefined, { pipelines: [sequencePipeline] });
  });
  afterAll(async () => {
    if (bench) await deletePrefixKeys(bench.redis, bench.prefix);
    await bench?.cleanup();
  });

  it('two workers split 16 partitions and apply every key in order, exactly once', async () => {
    const { layout } = await createPartitionedStream(
      bench.redis,
      bench.prefix,
      bench.streamName,
      16,
      Date.now(),
    );
    const a = await bench.startWorker({ pipeline: sequencePipeline, consumer: 'a' });
    const b = await bench.startWorker({ pipeline: sequencePipeline, consumer: 'b' });
    const perKey = 30;
    const events = sequenceEvents(60, perKey, 'two');
    await publishRouted(bench.redis, layout, events);
    await publishRouted(bench.redis, layout, events); // the same events again: duplicates, never re-applied
    await waitFor(async () => (await sequenceState(bench.db, perKey)).applied === events.length, {
      timeoutMs: 90_000,
      describe: async () => JSON.stringify(await sequenceState(bench.db, perKey)),
    });
    // Ownership settles by itself (a handover may still be under way when the last event commits).
    const owned = () =>
      [...(a.worker.ownedPartitions?.() ?? []), ...(b.worker.ownedPartitions?.() ?? [])].sort(
        (x, y) => x - y,
      );
    await waitFor(async () => owned().length === 16 && a.worker.ownedPartitions?.().length === 8, {
      timeoutMs: 30_000,
      describe: async () => `a ${a.worker.ownedPartitions?.()} b ${b.worker.ownedPartitions?.()}`,
    });
    expect(owned()).toEqual(Array.from({ length: 16 }, (_, p) => p));
    const state = await sequenceState(bench.db, perKey);
    expect(state).toEqual({ applied: events.length, keys: 60, wrong: 0, violations: 0 });
    await a.close();
    await b.close();
  });
});

describe('fencing', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), ORDERED_ENV);
    await migrate(bench.db, undefined, { pipelines: [sequencePipeline] });
  });
  afterAll(async () => {
    if (bench) await deletePrefixKeys(bench.redis, bench.prefix);
    await bench?.cleanup();
  });

  it('a worker whose lease is stolen while it holds a batch open cannot commit it', async () => {
    const { layout } = await createPartitionedStream(
      bench.redis,
      bench.prefix,
      bench.streamName,
      1,
      Date.now(),
    );
    if (layout.kind !== 'partitioned') throw new Error('partitioned');
    const leaseKey = partitionLeaseKey(layout.partitions[0] as (typeof layout.partitions)[0], bench.group);
    let arrived!: () => void;
    const held = new Promise<void>((r) => {
      arrived = r;
    });
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const outcomes: unknown[] = [];
    const w = await bench.startWorker({
      pipeline: sequencePipeline,
      consumer: 'victim',
      wrapSink: (sink: BatchSink): BatchSink => ({
        async write(items) {
          arrived();
          await gate; // the batch is held open here, after it was read and before its transaction
          try {
            const result = await sink.write(items);
            outcomes.push('committed');
            return result;
          } catch (error) {
            outcomes.push(error);
            throw error;
          }
        },
      }),
    });
    const events = sequenceEvents(5, 1, 'fence');
    await publishRouted(bench.redis, layout, events);
    await held;
    // Another worker takes over: the lease becomes its own, then it bumps the epoch, as acquire does.
    await bench.redis.set(leaseKey, 'thief', 'PX', 60_000);
    await acquireEpoch(bench.db, { stream: bench.streamName, group: bench.group, partition: 0 }, 'thief');
    open();
    await waitFor(() => outcomes.length > 0);
    expect(outcomes[0]).toBeInstanceOf(PartitionFencedError);
    await waitFor(async () => (await lossCount(w, 'fenced')) + (await lossCount(w, 'expired')) >= 1);
    expect(w.worker.ownedPartitions?.()).toEqual([]);
    // Nothing applied, nothing acknowledged: the thief (the next owner) gets every entry.
    expect((await sequenceState(bench.db, 1)).applied).toBe(0);
    const pending = (await bench.redis.xpending(layout.partitions[0]?.stream as string, bench.group)) as [
      number,
    ];
    expect(Number(pending[0])).toBe(events.length);
    await w.close();
    expect(await bench.redis.get(leaseKey)).toBe('thief'); // closing never deletes another worker's lease
  });
});

describe('leases and epochs', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
  });
  afterAll(async () => {
    if (bench) await deletePrefixKeys(bench.redis, bench.prefix);
    await bench?.cleanup();
  });

  it('a lease is held by one token; only its holder renews or releases it', async () => {
    const key = `${bench.prefix}:{lease-test}:lease:g`;
    const a = createPartitionLeases(bench.redis, 'a', 60_000);
    const b = createPartitionLeases(bench.redis, 'b', 60_000);
    expect(await a.acquire(key)).toBe(true);
    expect(await b.acquire(key)).toBe(false);
    expect(await b.renew(key)).toBe(false);
    expect(await b.release(key)).toBe(false);
    expect(await a.holders([key, `${key}:none`])).toEqual(['a', undefined]);
    expect(await a.renew(key)).toBe(true);
    expect(await a.release(key)).toBe(true);
    expect(await a.renew(key)).toBe(false); // released: a renewal never brings a lease back
    await waitFor(() => b.acquire(key)); // free within a millisecond
    expect(await a.holders([key])).toEqual(['b']);
  });

  it('each acquire bumps the epoch; a check with an older epoch is refused', async () => {
    const ref = { stream: bench.streamName, group: bench.group, partition: 3 };
    const first = await acquireEpoch(bench.db, ref, 'a');
    const second = await acquireEpoch(bench.db, ref, 'b');
    expect(second.epoch).toBe(first.epoch + 1);
    await expect(checkEpoch(bench.db, second)).resolves.toBeUndefined();
    await expect(checkEpoch(bench.db, first)).rejects.toBeInstanceOf(PartitionFencedError);
  });
});
