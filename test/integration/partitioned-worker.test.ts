import { afterAll, describe, expect, inject, it } from 'vitest';
import { definePipeline } from '../../src/consumers/define-pipeline.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { partitionOf } from '../../src/lib/partitions/partition-of.ts';
import { createPartitionedStream } from '../../src/lib/partitions/stream-layout.ts';
import { sequencePipeline } from '../fixtures/sequence-pipeline.ts';
import { deletePrefixKeys, publishRouted, sequenceEvents, sequenceState } from '../helpers/partitioned.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * Failures on partitioned streams, in process on the real servers: in ordered mode a failing event is retried
 * in place and its key's later events wait behind it (nothing overtakes it), a poison event goes to its
 * partition's dead-letter stream and its key goes on; unordered mode reads every partition and dead-letters to
 * the partition's own dead-letter stream.
 */
const P = 4;

describe('failures on a partitioned stream', () => {
  const benches: WorkerBench[] = [];
  afterAll(async () => {
    for (const bench of benches) {
      await deletePrefixKeys(bench.redis, bench.prefix);
      await bench.cleanup();
    }
  });

  /** A bench of its own per test: its own stream (partitioned), group, prefix and schema. */
  async function freshBench() {
    const bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), {
      STREAMSINK_LEASE_TTL_MS: '2000',
      STREAMSINK_BATCH_SIZE: '50',
      STREAMSINK_MAX_IN_FLIGHT: '400',
      STREAMSINK_MAX_DELIVERIES: '5',
    });
    benches.push(bench);
    await migrate(bench.db, undefined, { pipelines: [sequencePipeline] });
    return bench;
  }

  async function freshStream() {
    const bench = await freshBench();
    const { layout } = await createPartitionedStream(
      bench.redis,
      bench.prefix,
      bench.streamName,
      P,
      Date.now(),
    );
    if (layout.kind !== 'partitioned') throw new Error('partitioned');
    return { bench, layout };
  }

  it('ordered: an event that fails is retried in place and its key waits; other keys go on', async () => {
    const { bench, layout } = await freshStream();
    const events = sequenceEvents(5, 20, 'flaky');
    const flakyId = 'flaky-k2-s7';
    let failing = true;
    let failures = 0;
    const flaky = definePipeline({
      ...sequencePipeline,
      async apply(tx, batch, ctx) {
        if (failing && batch.some((e) => e.id === flakyId)) {
          failures += 1;
          throw new Error('flaky dependency'); // unknown cause: not poison, not transient
        }
        await sequencePipeline.apply?.(tx, batch, ctx);
      },
    });
    const w = await bench.startWorker({
      pipeline: flaky,
      consumer: 'flaky',
      env: { STREAMSINK_ORDERING: 'key', STREAMSINK_MAX_DELIVERIES: '1000' },
    });
    await publishRouted(bench.redis, layout, events);
    const last = async () =>
      new Map(
        (await bench.db.query<{ key: string; last: string }>('SELECT key, last FROM seq_state')).rows.map(
          (r) => [r.key, Number(r.last)],
        ),
      );
    // While its event keeps failing, every other key finishes and this key stays right before it.
    await waitFor(
      async () => {
        const l = await last();
        return failures >= 3 && ['k0', 'k1', 'k3', 'k4'].every((k) => l.get(`flaky-${k}`) === 20);
      },
      { timeoutMs: 60_000, describe: async () => JSON.stringify({ failures, last: [...(await last())] }) },
    );
    expect((await last()).get('flaky-k2')).toBe(6);
    failing = false;
    await waitFor(async () => (await sequenceState(bench.db, 20)).applied === events.length, {
      timeoutMs: 60_000,
      describe: async () => JSON.stringify(await sequenceState(bench.db, 20)),
    });
    expect(await sequenceState(bench.db, 20)).toEqual({ applied: 100, keys: 5, wrong: 0, violations: 0 });
    const dlq = layout.partitions[partitionOf('flaky-k2', P)]?.deadLetter as string;
    expect(await bench.redis.xlen(dlq)).toBe(0);
    await w.close();
  });

  it('ordered: a poison event goes to its partition dead-letter stream; its key goes on without it', async () => {
    const { bench, layout } = await freshStream();
    const events = sequenceEvents(3, 10, 'poison');
    const poisonIndex = events.findIndex((e) => e.id === 'poison-k1-s4');
    // seq 0 fails the schema (min 1): schema_violation, dead-lettered without reaching Postgres.
    events[poisonIndex] = { ...(events[poisonIndex] as (typeof events)[0]), data: { seq: 0 } };
    const w = await bench.startWorker({
      pipeline: sequencePipeline,
      consumer: 'poison',
      env: { STREAMSINK_ORDERING: 'key' },
    });
    await publishRouted(bench.redis, layout, events);
    await waitFor(async () => (await sequenceState(bench.db, 10)).applied === events.length - 1);
    const dlq = layout.partitions[partitionOf('poison-k1', P)]?.deadLetter as string;
    // The key's later events may share the poison's batch and commit before its dead letter is written
    // (after the commit: a crash between the two leaves it pending, and it is dead-lettered when reclaimed).
    await waitFor(async () => (await bench.redis.xlen(dlq)) >= 1);
    expect(await bench.redis.xlen(dlq)).toBe(1);
    // The key's next event was applied after the gap the dead letter left: the checker saw exactly that one.
    const { rows } = await bench.db.query('SELECT key, expected, got FROM seq_violations');
    expect(rows).toEqual([{ key: 'poison-k1', expected: '4', got: '5' }]);
    await w.close();
  });

  it('a doorbell Redis refuses to BLPOP is counted (redis errors, kind doorbell); the partitions go on by polling', async () => {
    const { bench, layout } = await freshStream();
    // Not a list: every BLPOP over the doorbells fails with WRONGTYPE.
    await bench.redis.set(layout.partitions[0]?.doorbell as string, 'not a list');
    const w = await bench.startWorker({ pipeline: sequencePipeline, consumer: 'bells' });
    const events = sequenceEvents(8, 2, 'bells');
    await publishRouted(bench.redis, layout, events);
    await waitFor(async () => (await sequenceState(bench.db, 2)).applied === events.length);
    const doorbellErrors = async () =>
      (await w.metrics.redisErrors.get()).values.find((v) => v.labels.kind === 'doorbell')?.value ?? 0;
    expect(await waitFor(async () => (await doorbellErrors()) > 0)).toBe(true);
    await w.close();
  });

  it('unordered: one worker reads every partition and dead-letters to the partition of the event', async () => {
    const { bench, layout } = await freshStream();
    const events = sequenceEvents(40, 3, 'un');
    const poisonIndex = events.findIndex((e) => e.id === 'un-k7-s3');
    events[poisonIndex] = { ...(events[poisonIndex] as (typeof events)[0]), data: { seq: 0 } };
    const w = await bench.startWorker({
      pipeline: sequencePipeline,
      consumer: 'unordered',
      env: { STREAMSINK_ORDERING: 'none' },
    });
    await publishRouted(bench.redis, layout, events);
    await waitFor(async () => (await sequenceState(bench.db, 3)).applied === events.length - 1);
    const home = partitionOf('un-k7', P);
    await waitFor(async () => (await bench.redis.xlen(layout.partitions[home]?.deadLetter as string)) >= 1);
    for (const [p, keys] of layout.partitions.entries())
      expect(await bench.redis.xlen(keys.deadLetter)).toBe(p === home ? 1 : 0);
    // Acknowledged after the commit that the applied count sees: wait for the last XACK.
    for (const keys of layout.partitions)
      await waitFor(
        async () => Number(((await bench.redis.xpending(keys.stream, bench.group)) as [number])[0]) === 0,
      );
    expect(w.worker.ownedPartitions?.()).toEqual([]);
    await w.close();
  });

  it("refuses ordering 'key' on an unpartitioned stream, naming the fix", async () => {
    const bench = await freshBench();
    await expect(
      bench.startWorker({ pipeline: sequencePipeline, env: { STREAMSINK_ORDERING: 'key' } }),
    ).rejects.toThrow(/needs a partitioned stream/);
  });
});
