import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createStreamClient } from '../../src/consumers/stream-client.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { createProducer } from '../../src/producers/producer.ts';
import { uniqueName } from '../helpers/names.ts';

// An idle worker waits on the stream's doorbell (read-loop.ts). These tests give the wait 60 s: were the
// doorbell not rung, the test would time out (vitest's 20 s) instead of passing.
describe('doorbell: an idle reader wakes when a producer publishes', () => {
  let redis: Redis;
  let waiter: Redis;
  const prefix = uniqueName('bell');

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
    waiter = new Redis(inject('redisUrl'));
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    waiter.disconnect();
  });

  it('publish through the SDK wakes a waiting reader, and the doorbell never holds more than one ring', async () => {
    const keys = streamKeys(prefix, 'orders');
    const client = createStreamClient({
      redis: waiter,
      stream: keys.stream,
      group: 'g',
      consumer: 'c',
      doorbell: keys.doorbell,
    });
    await client.createGroup('$');
    const producer = createProducer({ redis, keyPrefix: prefix });
    const woken = client.waitForNew(60_000);
    // The BLPOP must be waiting before the publish, or the ring is simply left for it: either way it returns.
    await producer.publish('orders', { type: 'order.placed', key: 'k', data: { n: 1 } });
    await woken;
    for (let i = 0; i < 5; i++)
      await producer.publish('orders', { type: 'order.placed', key: 'k', data: { n: i } });
    expect(await redis.llen(keys.doorbell)).toBe(1);
    await client.waitForNew(60_000); // the one ring left answers at once
    expect(await redis.llen(keys.doorbell)).toBe(0);
  }, 20_000);

  it('without a ring the wait ends at its timeout (entries added by raw XADD are read at the next poll)', async () => {
    const keys = streamKeys(prefix, 'raw');
    const client = createStreamClient({
      redis: waiter,
      stream: keys.stream,
      group: 'g',
      consumer: 'c',
      doorbell: keys.doorbell,
    });
    await client.createGroup('$');
    await redis.xadd(keys.stream, '*', 'id', 'x');
    await client.waitForNew(50);
    expect(await redis.exists(keys.doorbell)).toBe(0);
  });
});
