import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDeadLetterer } from '../../src/consumers/dead-letter.ts';
import { recordWatermark } from '../../src/consumers/stream-watermarks.ts';
import type { StreamEntry } from '../../src/consumers/types.ts';
import type { RedisConfig } from '../../src/lib/config.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { partitionOf } from '../../src/lib/partitions/partition-of.ts';
import { partitionSlotRange } from '../../src/lib/partitions/partition-tags.ts';
import { readStreamLayout } from '../../src/lib/partitions/stream-layout.ts';
import { createRedis, masterNodes, type RedisClient } from '../../src/lib/redis/client.ts';
import { type PartitionKeys, partitionLeaseKey, streamKeys } from '../../src/lib/redis/keys.ts';
import { createProducer } from '../../src/producers/producer.ts';
import { runCli } from '../helpers/cli-in-process.ts';
import { envelopeFields } from '../helpers/dead-letters.ts';
import { uniqueName } from '../helpers/names.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';
import { type OwnRedisCluster, startRedisCluster } from '../helpers/redis-cluster.ts';

/**
 * Partitioned streams from the producer's and the operator's side (stream create/describe, SDK and CLI
 * publish routing, status per partition, dlq across partitions), on the shared single node and on a real
 * 3-master Redis Cluster (REDIS_CLUSTER_NODES), where each partition lives on its own slot.
 */
describe.each(['single node', 'cluster'] as const)('partitioned streams on a %s', (target) => {
  let cluster: OwnRedisCluster | undefined;
  let redis: RedisClient;
  let env: Record<string, string>;
  let schema: TestSchema;
  let db: pg.Pool;
  const prefix = uniqueName('part');
  const P = 8;

  beforeAll(async () => {
    const config: RedisConfig = { url: inject('redisUrl'), keyPrefix: prefix };
    if (target === 'cluster') {
      cluster = await startRedisCluster();
      config.url = 'redis://127.0.0.1:1'; // only its (absent) credentials are used with clusterNodes
      config.clusterNodes = cluster.nodes.map((n) => ({ host: n.host, port: n.port }));
    }
    redis = createRedis(config, { name: 'partitioned-test' });
    schema = await createTestSchema(inject('databaseUrl'), 'part');
    db = new pg.Pool({ connectionString: schema.url, max: 2 });
    await migrate(db);
    env = {
      REDIS_URL: config.url,
      STREAMSINK_KEY_PREFIX: prefix,
      DATABASE_URL: schema.url,
      ...(cluster ? { REDIS_CLUSTER_NODES: cluster.nodesEnv } : {}),
    };
  });
  afterAll(async () => {
    if (!cluster && redis) {
      // The shared server: remove exactly this file's keys (its own prefix).
      for (const node of await masterNodes(redis)) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await node.del(...keys);
        } while (cursor !== '0');
      }
    }
    redis?.disconnect();
    await db?.end();
    await schema?.drop();
    await cluster?.stop();
  });

  async function partitions(stream: string): Promise<readonly PartitionKeys[]> {
    const layout = await readStreamLayout(redis, prefix, stream);
    if (layout.kind !== 'partitioned') throw new Error(`${stream} is not partitioned`);
    return layout.partitions;
  }

  /** Every entry of every partition: [partition, key field, id field]. */
  async function entriesByPartition(stream: string) {
    const out: Array<{ partition: number; key: string; id: string }> = [];
    for (const keys of await partitions(stream)) {
      const entries = (await redis.xrange(keys.stream, '-', '+')) as Array<[string, string[]]>;
      for (const [, fields] of entries) {
        const field = (name: string) => fields[fields.indexOf(name) + 1] as string;
        out.push({ partition: keys.partition, key: field('key'), id: field('id') });
      }
    }
    return out;
  }

  it('stream create fixes P; describe shows each partition on its own slice of the slots', async () => {
    const stream = uniqueName('orders');
    const created = await runCli(
      ['stream', 'create', '--stream', stream, '--partitions', String(P), '--json'],
      env,
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ stream, partitions: P, created: true });
    const again = await runCli(
      ['stream', 'create', '--stream', stream, '--partitions', String(P), '--json'],
      env,
    );
    expect(JSON.parse(again.stdout)).toMatchObject({ created: false });
    const other = await runCli(['stream', 'create', '--stream', stream, '--partitions', '5'], env);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/already has 8 partitions; the count is fixed at creation/);

    const described = await runCli(['stream', 'describe', '--stream', stream, '--json'], env);
    expect(described.code).toBe(0);
    const d = JSON.parse(described.stdout);
    expect(d).toMatchObject({ stream, partitioned: true, partitions: P, hash: 'sha256-u32be' });
    expect(d.parts).toHaveLength(P);
    for (const part of d.parts) {
      const { from, to } = partitionSlotRange(part.partition, P);
      expect(part.slot).toBeGreaterThanOrEqual(from);
      expect(part.slot).toBeLessThan(to);
    }
    if (cluster) {
      // 8 partitions over 3 masters of ~5461 slots each: every master holds at least two of them.
      const owners = new Map<number, number>();
      for (const part of d.parts) {
        const node = await cluster.ownerOf(part.slot);
        owners.set(node.port, (owners.get(node.port) ?? 0) + 1);
      }
      expect(owners.size).toBe(3);
      expect(Math.min(...owners.values())).toBeGreaterThanOrEqual(2);
    }

    // A stream that already has unpartitioned entries cannot become partitioned (they would be stranded).
    const plain = uniqueName('plain');
    await redis.xadd(streamKeys(prefix, plain).stream, '*', 'n', '1');
    const refused = await runCli(['stream', 'create', '--stream', plain, '--partitions', '4'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already exists unpartitioned \(1 entries\)/);
  });

  it('the SDK routes each event to partitionOf(key, P), dedupes per partition, and leaves unpartitioned streams as they were', async () => {
    const stream = uniqueName('orders');
    expect(
      (await runCli(['stream', 'create', '--stream', stream, '--partitions', String(P)], env)).code,
    ).toBe(0);
    const producer = createProducer({ redis, keyPrefix: prefix, chunkSize: 16 });
    const events = Array.from({ length: 300 }, (_, i) => ({
      id: `e-${i}`,
      key: `acct-${i % 37}`,
      type: 'payment.captured',
      data: { n: i },
    }));
    const first = await producer.publishBatch(stream, events);
    expect(first.every((r) => r.status === 'added')).toBe(true);
    const one = await producer.publish(stream, { id: 'single', key: 'acct-x', type: 't', data: {} });
    expect(one.status).toBe('added');

    const seen = await entriesByPartition(stream);
    expect(seen).toHaveLength(301);
    for (const e of seen) expect(e.partition, e.key).toBe(partitionOf(e.key, P));
    expect(new Set(seen.map((e) => e.partition)).size).toBeGreaterThan(P / 2);

    // The same ids again: every one is a duplicate of its first publish, nothing is added anywhere.
    const second = await producer.publishBatch(stream, events);
    expect(second.map((r) => r.status)).toEqual(events.map(() => 'duplicate'));
    expect(second.map((r) => (r.status === 'duplicate' ? r.entryId : ''))).toEqual(
      first.map((r) => (r.status === 'added' ? r.entryId : '')),
    );
    expect(await entriesByPartition(stream)).toHaveLength(301);

    const plain = uniqueName('plain');
    await producer.publishBatch(plain, events.slice(0, 10));
    expect(await redis.xlen(streamKeys(prefix, plain).stream)).toBe(10);
  });

  it('`publish` routes NDJSON lines by key, and a re-run adds nothing', async () => {
    const stream = uniqueName('orders');
    await runCli(['stream', 'create', '--stream', stream, '--partitions', String(P)], env);
    const lines = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({ id: `l-${i}`, key: `k-${i % 11}`, type: 'order.placed', data: { i } }),
    ).join('\n');
    const run1 = await runCli(['publish', '--stream', stream, '--json'], env, lines);
    expect(run1.code).toBe(0);
    expect(JSON.parse(run1.stdout)).toMatchObject({ published: 50, duplicates: 0 });
    const run2 = await runCli(['publish', '--stream', stream, '--json'], env, lines);
    expect(JSON.parse(run2.stdout)).toMatchObject({ published: 0, duplicates: 50 });
    const seen = await entriesByPartition(stream);
    expect(seen).toHaveLength(50);
    for (const e of seen) expect(e.partition).toBe(partitionOf(e.key, P));
  });

  it('status reports each partition (length, lag, pending, owner from the lease key) and the totals', async () => {
    const stream = uniqueName('orders');
    await runCli(['stream', 'create', '--stream', stream, '--partitions', String(P)], env);
    const producer = createProducer({ redis, keyPrefix: prefix });
    await producer.publishBatch(
      stream,
      Array.from({ length: 80 }, (_, i) => ({ id: `s-${i}`, key: `a-${i}`, type: 't', data: {} })),
    );
    const parts = await partitions(stream);
    const group = 'g';
    for (const keys of parts) await redis.xgroup('CREATE', keys.stream, group, '0', 'MKSTREAM');
    const p0 = parts[0] as PartitionKeys;
    const p1 = parts[1] as PartitionKeys;
    await redis.xreadgroup('GROUP', group, 'pod-a', 'COUNT', 2, 'STREAMS', p0.stream, '>');
    await redis.set(partitionLeaseKey(p1, group), 'worker-7', 'PX', 60_000);

    const result = await runCli(['status', '--stream', stream, '--group', group, '--json'], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    const lengths = await Promise.all(parts.map((k) => redis.xlen(k.stream)));
    expect(report).toMatchObject({ partitioned: true, partitions: P, length: 80, lag: 78, pending: 2 });
    expect(report.dataLoss).toMatchObject({ checked: true, suspected: false });
    expect(report.parts.map((p: { length: number }) => p.length)).toEqual(lengths);
    expect(report.parts[0]).toMatchObject({ pending: 2, lag: (lengths[0] as number) - 2, owner: null });
    expect(report.parts[1]).toMatchObject({ owner: 'worker-7', pending: 0 });
    expect(report.consumers).toEqual([expect.objectContaining({ name: 'pod-a', pending: 2, partitions: 1 })]);

    const text = await runCli(['status', '--stream', stream, '--group', group], env);
    expect(text.stdout).toMatch(/stream +\S+ \(8 partitions\)/);
    expect(text.stdout).toMatch(/worker-7/);

    // A watermark recorded for one partition's key beyond what Redis holds: data loss, named by partition key.
    const p2 = parts[2] as PartitionKeys;
    await recordWatermark(db, p2.stream, group, { committedId: '99999999999999-0', entriesAdded: null });
    const lost = await runCli(['status', '--stream', stream, '--group', group, '--json'], env);
    expect(lost.code).toBe(3);
    expect(JSON.parse(lost.stdout).dataLoss).toMatchObject({ suspected: true, signs: ['last_id_behind'] });
    expect(lost.stderr).toContain(`${p2.stream}: the stream's last id`);
  });

  it('dlq list/show/redrive/purge span every partition; redrive puts each event back on its own partition', async () => {
    const stream = uniqueName('orders');
    await runCli(['stream', 'create', '--stream', stream, '--partitions', String(P)], env);
    const producer = createProducer({ redis, keyPrefix: prefix });
    const keysUsed = ['k-1', 'k-2', 'k-3', 'k-4', 'k-5', 'k-6'];
    await producer.publishBatch(
      stream,
      keysUsed.map((key, i) => ({ id: `d-${i}`, key, type: 'payment.captured', data: { i } })),
    );
    const parts = await partitions(stream);
    const byPartition = new Map<number, number>();
    // Dead-letter every entry through the real dead-letterer of its partition.
    for (const keys of parts) {
      await redis.xgroup('CREATE', keys.stream, 'g', '0', 'MKSTREAM');
      const read = (await redis.xreadgroup('GROUP', 'g', 'c', 'STREAMS', keys.stream, '>')) as Array<
        [string, Array<[string, string[]]>]
      > | null;
      const entries: StreamEntry[] = (read?.[0]?.[1] ?? []).map(([id, fields]) => ({
        id,
        fields,
        deliveryCount: 1,
      }));
      if (entries.length === 0) continue;
      byPartition.set(keys.partition, entries.length);
      const dl = createDeadLetterer({
        redis,
        keys,
        group: 'g',
        consumer: 'c',
        pipelineName: 'payments',
        pipelineVersion: '1',
      });
      await dl.deadLetter(
        entries.map((entry) => ({
          entry,
          reason: 'unsupported_currency' as const,
          errorClass: 'PoisonMessageError',
          errorMessage: 'JPY',
          eventType: 'payment.captured',
        })),
      );
    }
    expect(byPartition.size).toBeGreaterThan(1);

    const listed = await runCli(['dlq', 'list', '--stream', stream, '--json'], env);
    expect(listed.code).toBe(0);
    const entries = JSON.parse(listed.stdout) as Array<{ id: string; partition: number }>;
    expect(entries).toHaveLength(6);
    for (const e of entries) expect(e.id).toMatch(new RegExp(`^${e.partition}/\\d+-\\d+$`));
    const stats = JSON.parse((await runCli(['dlq', 'stats', '--stream', stream, '--json'], env)).stdout);
    expect(stats).toMatchObject({ total: 6, byReason: { unsupported_currency: 6 } });
    const shown = await runCli(['dlq', 'show', (entries[0] as { id: string }).id, '--stream', stream], env);
    expect(shown.code).toBe(0);

    const lengthsBefore = await Promise.all(parts.map((k) => redis.xlen(k.stream)));
    const redriven = await runCli(['dlq', 'redrive', '--stream', stream, '--all', '--json'], env);
    expect(redriven.code).toBe(0);
    expect(JSON.parse(redriven.stdout)).toMatchObject({ selected: 6, redriven: 6, failed: 0 });
    for (const keys of parts) {
      expect(await redis.xlen(keys.deadLetter)).toBe(0);
      // Back on its own partition: one more entry where it had been, and its key still routes there.
      expect(await redis.xlen(keys.stream)).toBe(
        (lengthsBefore[keys.partition] as number) + (byPartition.get(keys.partition) ?? 0),
      );
    }
    const seen = await entriesByPartition(stream);
    for (const e of seen) expect(e.partition).toBe(partitionOf(e.key, P));

    // Purge: dead-letter one entry again in two partitions, then delete both for good.
    const two = [...byPartition.keys()].slice(0, 2);
    for (const p of two) {
      const keys = parts[p] as PartitionKeys;
      await redis.xadd(keys.deadLetter, '*', ...envelopeFields(`x-${p}`, 't', {}));
    }
    const purged = await runCli(['dlq', 'purge', '--stream', stream, '--all', '--yes', '--json'], env);
    expect(JSON.parse(purged.stdout)).toMatchObject({ selected: 2, purged: 2 });
  });
});
