import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyHashSlot } from '../../src/lib/redis/key-slot.ts';
import { type OwnRedisCluster, startRedisCluster } from '../helpers/redis-cluster.ts';

describe('own Redis Cluster (test helper)', () => {
  let cluster: OwnRedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('starts 3 masters that cover every slot, and moves a slot with its keys', async () => {
    expect(cluster.nodes).toHaveLength(3);
    for (const node of cluster.nodes) {
      expect(await cluster.cli(node, 'CLUSTER', 'INFO')).toContain('cluster_slots_assigned:16384');
    }
    const client = new Cluster(
      cluster.nodes.map((n) => ({ host: n.host, port: n.port })),
      { redisOptions: { maxRetriesPerRequest: 3 } },
    );
    try {
      const key = '{helper-test}:s';
      for (let i = 0; i < 20; i++) await client.xadd(key, '*', 'n', String(i));
      const slot = keyHashSlot(key);
      const from = await cluster.ownerOf(slot);
      const to = cluster.nodes.find((n) => n !== from) as (typeof cluster.nodes)[number];
      const { moved } = await cluster.migrateSlot(slot, to);
      expect(moved).toBe(1);
      expect(await cluster.ownerOf(slot)).toBe(to);
      expect(await client.xlen(key)).toBe(20);
    } finally {
      client.disconnect();
    }
  });
});
