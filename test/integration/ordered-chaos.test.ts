import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrate } from '../../src/lib/migrations.ts';
import { createPartitionedStream, type StreamLayout } from '../../src/lib/partitions/stream-layout.ts';
import { createRedis, type RedisClient } from '../../src/lib/redis/client.ts';
import { sequencePipeline } from '../fixtures/sequence-pipeline.ts';
import { deletePrefixKeys, publishRouted, sequenceEvents, sequenceState } from '../helpers/partitioned.ts';
import { type OwnRedisCluster, startRedisCluster } from '../helpers/redis-cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { type ChildWorker, createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * The ordering promise under faults, with real `streamsink worker --ordering key` processes: 3 workers on a
 * 16-partition stream, one SIGKILLed, one SIGSTOPped past its lease and then continued (it must find its
 * partitions lost and commit nothing after the takeover), a 4th joining mid-run, and the same events published
 * twice. The sequence pipeline records every application that is not the key's last applied + 1: there must be
 * none, and every key must end at exactly its last sequence number, applied once per event.
 */
const SEQUENCE = fileURLToPath(new URL('../fixtures/sequence-pipeline.ts', import.meta.url));
const LEASE_TTL_MS = 2000;
const KEYS = 80;
const PER_KEY = 30;

interface ChaosTarget {
  /** A client of the target (single node or cluster) for publishing and inspection. */
  redis: RedisClient;
  /** Env for the worker processes that points them at the target. */
  env: Record<string, string>;
}

async function ownersByPrefix(bench: WorkerBench): Promise<Map<string, number>> {
  const { rows } = await bench.db.query<{ owner: string }>(
    'SELECT owner FROM streamsink_partition_owners WHERE stream = $1 AND consumer_group = $2',
    [bench.streamName, bench.group],
  );
  const counts = new Map<string, number>();
  for (const { owner } of rows) {
    const name = owner.replace(/-[0-9a-f]{8}$/, '');
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

async function pendingTotal(redis: RedisClient, layout: StreamLayout, group: string): Promise<number> {
  if (layout.kind !== 'partitioned') return -1;
  let total = 0;
  for (const p of layout.partitions) {
    const summary = (await redis.xpending(p.stream, group)) as [number];
    total += Number(summary[0]);
  }
  return total;
}

async function runOrderedChaos(bench: WorkerBench, target: ChaosTarget): Promise<void> {
  const { redis } = target;
  const { layout } = await createPartitionedStream(redis, bench.prefix, bench.streamName, 16, Date.now());
  const events = sequenceEvents(KEYS, PER_KEY, 'chaos');
  const third = Math.ceil(events.length / 3);
  const state = () => sequenceState(bench.db, PER_KEY);
  const children: Array<[string, ChildWorker]> = [];
  const describeState = async () =>
    JSON.stringify({
      state: await state(),
      owners: Object.fromEntries(await ownersByPrefix(bench)),
      output: Object.fromEntries(children.map(([name, c]) => [name, c.output().slice(-600)])),
    });
  const spawn = (name: string): ChildWorker => {
    const child = bench.spawnWorker(name, target.env);
    children.push([name, child]);
    return child;
  };

  const w1 = spawn('w1');
  const w2 = spawn('w2');
  const w3 = spawn('w3');
  await waitFor(
    async () => {
      const owners = await ownersByPrefix(bench);
      return ['w1', 'w2', 'w3'].every((w) => (owners.get(w) ?? 0) >= 1);
    },
    // Three processes starting at once on a busy machine (the full suite) can take long.
    { timeoutMs: 150_000, describe: describeState },
  );

  await publishRouted(redis, layout, events.slice(0, third), 200);
  await waitFor(async () => (await state()).applied >= third / 2, {
    timeoutMs: 60_000,
    describe: describeState,
  });

  // kill -9 in the middle of the work: its partitions are taken over after the lease runs out.
  w1.child.kill('SIGKILL');
  await w1.exited;
  await publishRouted(redis, layout, events.slice(third, 2 * third), 200);
  await waitFor(async () => !(await ownersByPrefix(bench)).has('w1'), {
    timeoutMs: 60_000,
    describe: describeState,
  });

  // SIGSTOP past the lease while it works, then SIGCONT: it must find its partitions lost, and whatever it
  // still tries to commit is refused by the epoch check.
  const appliedBefore = (await state()).applied;
  await waitFor(async () => (await state()).applied > appliedBefore || (await state()).applied >= 2 * third);
  w2.child.kill('SIGSTOP');
  await waitFor(async () => !(await ownersByPrefix(bench)).has('w2'), {
    timeoutMs: 60_000,
    describe: describeState,
  });
  w2.child.kill('SIGCONT');
  await waitFor(() => /partition lost/.test(w2.output()), {
    timeoutMs: 30_000,
    describe: () => w2.output().slice(-2000),
  });

  // A fourth worker joins mid-run and gets a share.
  const w4 = spawn('w4');
  await publishRouted(redis, layout, events.slice(2 * third), 200);
  await waitFor(async () => ((await ownersByPrefix(bench)).get('w4') ?? 0) >= 1, {
    timeoutMs: 60_000,
    describe: describeState,
  });

  // The same file published again: every event a duplicate, none applied twice.
  await publishRouted(redis, layout, events, 500);
  await waitFor(
    async () =>
      (await state()).applied === events.length && (await pendingTotal(redis, layout, bench.group)) === 0,
    { timeoutMs: 120_000, describe: describeState },
  );
  // Settled: nothing more arrives, and nothing was applied out of order or twice.
  const final = await state();
  expect(final).toEqual({ applied: events.length, keys: KEYS, wrong: 0, violations: 0 });
  const { rows } = await bench.db.query<{ n: string }>(
    'SELECT count(*) AS n FROM streamsink_inbox WHERE pipeline = $1',
    [sequencePipeline.name],
  );
  expect(Number(rows[0]?.n)).toBe(events.length);

  for (const w of [w2, w3, w4]) w.child.kill('SIGTERM');
  for (const w of [w2, w3, w4]) expect((await w.exited).code, w.output().slice(-2000)).toBe(0);
}

describe.each(['single node', 'cluster'] as const)(
  'ordered consumption under kill -9, SIGSTOP past the lease, a join and duplicates (%s)',
  (kind) => {
    let bench: WorkerBench;
    let cluster: OwnRedisCluster | undefined;
    let target: ChaosTarget;
    beforeAll(async () => {
      bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), {
        STREAMSINK_PIPELINE: SEQUENCE,
        STREAMSINK_ORDERING: 'key',
        STREAMSINK_LEASE_TTL_MS: String(LEASE_TTL_MS),
        // A worker frozen inside a transaction holds the epoch row FOR SHARE; the server ends that session
        // soon, so the next owner's epoch bump is not held up for the default 30 s.
        STREAMSINK_PG_IDLE_IN_TX_TIMEOUT_MS: '1500',
        STREAMSINK_BATCH_SIZE: '40',
        STREAMSINK_MAX_IN_FLIGHT: '400',
        STREAMSINK_SHUTDOWN_TIMEOUT_MS: '5000',
        LOG_LEVEL: 'warn',
      });
      await migrate(bench.db, undefined, { pipelines: [sequencePipeline] });
      if (kind === 'cluster') {
        cluster = await startRedisCluster();
        const clusterNodes = cluster.nodes.map((n) => ({ host: n.host, port: n.port }));
        const redis = createRedis({ url: inject('redisUrl'), keyPrefix: bench.prefix, clusterNodes });
        target = { redis, env: { REDIS_CLUSTER_NODES: cluster.nodesEnv } };
      } else {
        target = { redis: bench.redis, env: {} };
      }
    });
    afterAll(async () => {
      if (kind === 'single node' && bench) await deletePrefixKeys(bench.redis, bench.prefix);
      if (target && target.redis !== bench?.redis) target.redis.disconnect();
      await bench?.cleanup();
      await cluster?.stop();
    });

    it('applies every key in order, exactly once', { timeout: 420_000 }, async () => {
      await runOrderedChaos(bench, target);
    });
  },
);
