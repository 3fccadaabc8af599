import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUILT_IN_PIPELINES } from '../../src/consumers/pipelines/index.ts';
import { startWorker, type WorkerHandle } from '../../src/consumers/start-worker.ts';
import type { BatchSink } from '../../src/consumers/types.ts';
import type { RedisConfig } from '../../src/lib/config.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { partitionOf } from '../../src/lib/partitions/partition-of.ts';
import { createPartitionedStream } from '../../src/lib/partitions/stream-layout.ts';
import { createRedis, isCluster, type RedisClient } from '../../src/lib/redis/client.ts';
import { keyHashSlot } from '../../src/lib/redis/key-slot.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { createProducer } from '../../src/producers/producer.ts';
import { uniqueName } from '../helpers/names.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';
import { type OwnRedisCluster, startRedisCluster } from '../helpers/redis-cluster.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The SDK and the worker on a real 3-master Redis Cluster (REDIS_CLUSTER_NODES): publish and drain, and a
 * resharding of the live stream's slot (MIGRATING/IMPORTING, MIGRATE key by key: clients see ASK, TRYAGAIN for
 * the multi-key scripts, then MOVED) while a producer publishes and a worker consumes. Every event is applied
 * exactly once and the stream holds each event once.
 */
describe('SDK and worker on a Redis Cluster', () => {
  let cluster: OwnRedisCluster;
  let schema: TestSchema;
  let db: pg.Pool;
  let config: RedisConfig;
  let producerRedis: RedisClient;
  const prefix = uniqueName('rc');
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    cluster = await startRedisCluster();
    schema = await createTestSchema(inject('databaseUrl'), 'rc');
    db = new pg.Pool({ connectionString: schema.url, max: 4 });
    await migrate(db);
    config = {
      url: 'redis://127.0.0.1:1',
      keyPrefix: prefix,
      clusterNodes: cluster.nodes.map((n) => ({ host: n.host, port: n.port })),
    };
    producerRedis = createRedis(config, { name: 'rc-producer' });
    producerRedis.on('error', () => {});
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    producerRedis?.disconnect();
    await db?.end();
    await schema?.drop();
    await cluster?.stop();
  });

  /** Applications per event id, counted at the sink: more than one would be a double application. */
  function countingSink(counts: Map<string, number>) {
    return (sink: BatchSink): BatchSink => ({
      async write(items) {
        const result = await sink.write(items);
        for (const item of result.applied)
          counts.set(item.envelope.id, (counts.get(item.envelope.id) ?? 0) + 1);
        return result;
      },
    });
  }

  async function runWorker(stream: string, counts: Map<string, number>): Promise<WorkerHandle> {
    const redis = createRedis(config, { name: `rc-worker-${stream}` });
    redis.on('error', () => {});
    expect(isCluster(redis)).toBe(true);
    const pool = new pg.Pool({ connectionString: schema.url, max: 4 });
    pool.on('error', () => {});
    const worker = await startWorker({
      pipeline: (BUILT_IN_PIPELINES['event-log'] as () => never)(),
      stream,
      redis,
      pool,
      group: 'g',
      consumer: uniqueName('c'),
      keyPrefix: prefix,
      settings: { blockMs: 100, pollMs: 20, claimIdleMs: 2000, batchSize: 50 },
      sinkMiddleware: countingSink(counts),
    });
    cleanups.push(async () => {
      await worker.close();
      redis.disconnect();
      await pool.end();
    });
    return worker;
  }

  async function rowsFor(streamKeyNames: readonly string[]): Promise<number> {
    const { rows } = await db.query<{ n: string }>(
      'SELECT count(*) AS n FROM event_log WHERE stream = ANY($1)',
      [streamKeyNames],
    );
    return Number(rows[0]?.n);
  }

  it('publishes with the SDK and drains with a worker, unpartitioned and partitioned', async () => {
    const producer = createProducer({ redis: producerRedis, keyPrefix: prefix });
    const stream = uniqueName('orders');
    const counts = new Map<string, number>();
    await runWorker(stream, counts);
    const events = Array.from({ length: 400 }, (_, i) => ({
      id: `u-${i}`,
      key: `k-${i % 13}`,
      type: 't',
      data: { i },
    }));
    await producer.publishBatch(stream, events);
    await waitFor(() => counts.size === 400, { describe: () => `applied ${counts.size} of 400` });
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(await rowsFor([stream])).toBe(400);

    // A partitioned stream: the producer spreads events over partitions on all three masters. Until the
    // partition-aware worker is merged (h-order), each partition is drained by a worker pointed at its key.
    const partitioned = uniqueName('ledger');
    // 6 partitions: slices [0,2730) [5461,8192) and [13653,16384) lie inside the three masters' ranges (redis-cli
    // --cluster create splits 16384 slots in thirds), so partitions always land on all three, whatever the name.
    const { layout } = await createPartitionedStream(producerRedis, prefix, partitioned, 6, Date.now());
    if (layout.kind !== 'partitioned') throw new Error('not partitioned');
    const masters = new Set<number>();
    for (const keys of layout.partitions) masters.add((await cluster.ownerOf(keyHashSlot(keys.stream))).port);
    expect(masters.size).toBe(3);
    const pCounts = new Map<string, number>();
    for (const keys of layout.partitions) await runWorker(keys.tag, pCounts);
    const pEvents = Array.from({ length: 400 }, (_, i) => ({
      id: `p-${i}`,
      key: `acct-${i % 29}`,
      type: 't',
      data: {},
    }));
    const results = await producer.publishBatch(partitioned, pEvents);
    expect(results.every((r) => r.status === 'added')).toBe(true);
    await waitFor(() => pCounts.size === 400, { describe: () => `applied ${pCounts.size} of 400` });
    expect([...pCounts.values()].every((n) => n === 1)).toBe(true);
    const lengths = await Promise.all(layout.partitions.map((k) => producerRedis.xlen(k.stream)));
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(400);
    // Each partition holds exactly the events whose key routes there (partitionOf, the documented hash).
    expect(lengths).toEqual(
      layout.partitions.map(
        (_, p) => pEvents.filter((e) => partitionOf(e.key, layout.partitions.length) === p).length,
      ),
    );
  });

  it('survives a resharding of the live stream slot: nothing lost, nothing doubled', async () => {
    const producer = createProducer({ redis: producerRedis, keyPrefix: prefix, chunkSize: 10 });
    const stream = uniqueName('moving');
    const keys = streamKeys(prefix, stream);
    const counts = new Map<string, number>();
    await runWorker(stream, counts);

    let next = 0;
    let retries = 0;
    /** Publish a batch of fresh ids; a failed publish is retried with the same ids (safe: idempotent). */
    const publishSome = async (n: number) => {
      const batch = Array.from({ length: n }, () => {
        const i = next++;
        return { id: `m-${i}`, key: `k-${i % 17}`, type: 't', data: { i } };
      });
      for (;;) {
        try {
          await producer.publishBatch(stream, batch);
          return;
        } catch {
          retries += 1;
        }
      }
    };
    await publishSome(200); // the dedupe keys give the slot 200+ keys to move
    const slot = keyHashSlot(keys.stream);
    const from = await cluster.ownerOf(slot);
    const to = cluster.nodes.find((n) => n !== from) as (typeof cluster.nodes)[number];

    let publishing = true;
    const background = (async () => {
      while (publishing) await publishSome(10);
    })();
    // Keys move 20 at a time, with publishes started in between: the stream and its dedupe keys end up split
    // across two nodes for a while, when the multi-key publish and read scripts get TRYAGAIN (retried, then
    // a TransientError the publisher retries with the same ids). The move does not wait for them, as
    // `redis-cli --cluster reshard` would not.
    const during: Promise<void>[] = [];
    const { moved } = await cluster.migrateSlot(slot, to, {
      batch: 20,
      betweenBatches: async () => {
        during.push(publishSome(5));
      },
    });
    await publishSome(100); // after the move: MOVED, then the new owner
    await Promise.all(during);
    publishing = false;
    await background;

    expect(moved).toBeGreaterThan(200);
    expect((await cluster.ownerOf(slot)).port).toBe(to.port);
    const total = next;
    await waitFor(() => counts.size === total, {
      timeoutMs: 60_000,
      describe: () => `applied ${counts.size} of ${total} (publish retries: ${retries})`,
    });
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
    expect(await rowsFor([stream])).toBe(total);
    // Each event once in the stream: a retried publish found its dedupe key instead of adding again.
    const entries = (await producerRedis.xrange(keys.stream, '-', '+')) as Array<[string, string[]]>;
    const ids = entries.map(([, f]) => f[f.indexOf('id') + 1]);
    expect(new Set(ids).size).toBe(total);
    expect(ids).toHaveLength(total);
    await waitFor(
      async () => Number(((await producerRedis.xpending(keys.stream, 'g')) as [number])[0]) === 0,
    );
  });

  it('`streamsink worker` with REDIS_CLUSTER_NODES drains a stream on the cluster and stops cleanly', async () => {
    const stream = uniqueName('cli');
    const producer = createProducer({ redis: producerRedis, keyPrefix: prefix });
    await producer.publishBatch(
      stream,
      Array.from({ length: 150 }, (_, i) => ({ id: `w-${i}`, key: `k-${i % 7}`, type: 't', data: { i } })),
    );
    const child = spawn(process.execPath, ['src/cli/main.ts', 'worker'], {
      env: {
        ...process.env,
        REDIS_URL: config.url,
        REDIS_CLUSTER_NODES: cluster.nodesEnv,
        DATABASE_URL: schema.url,
        STREAMSINK_KEY_PREFIX: prefix,
        STREAMSINK_STREAM: stream,
        STREAMSINK_GROUP: 'cli',
        STREAMSINK_PIPELINE: 'event-log',
        STREAMSINK_CONSUMER: 'cli-worker',
        STREAMSINK_METRICS_SAMPLE_INTERVAL_MS: '200',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    await waitFor(async () => (await rowsFor([stream])) === 150, {
      timeoutMs: 60_000,
      describe: async () => `${await rowsFor([stream])} rows; worker output: ${output.slice(-2000)}`,
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).not.toMatch(/"level":(50|60)/);
  });
});
