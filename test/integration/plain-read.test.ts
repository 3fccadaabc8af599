import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createStreamClient, type ReadLimits } from '../../src/consumers/stream-client.ts';
import { canTripwireRead, READER_OPTIONS, tripwireRead } from '../../src/consumers/tripwire-read.ts';
import { decodeDeadLetter } from '../../src/lib/dead-letter-entry.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { uniqueName } from '../helpers/names.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Plain reads (read-path.ts, tripwire-read.ts) against a real Redis: a reply that passes the byte budget is
 * cut off without losing what Redis handed over (it stays pending), and an entry over the payload limit that
 * arrives inside the budget is dead-lettered by the script, by id, with its reason.
 */
describe('plain reads with a tripwire', () => {
  let redis: Redis;
  let reader: Redis;
  const prefix = uniqueName('plain');

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
    reader = new Redis(inject('redisUrl'), { ...READER_OPTIONS, retryStrategy: () => 20 });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    reader.disconnect();
  });

  async function addEntries(stream: string, sizes: number[]): Promise<string[]> {
    const ids: string[] = [];
    for (const [i, size] of sizes.entries())
      ids.push(String(await redis.xadd(stream, '*', 'id', `e${i}`, 'data', 'x'.repeat(size))));
    return ids;
  }

  it('only a connection that neither resends nor waits for a reconnect is read plainly', () => {
    const plain = new Redis(inject('redisUrl'), { lazyConnect: true });
    expect(canTripwireRead(plain)).toBe(false);
    expect(canTripwireRead(reader)).toBe(true);
    plain.disconnect();
  });

  it('a reply past the byte limit is cut off; every entry Redis handed over is pending, the connection comes back', async () => {
    const keys = streamKeys(prefix, 'trip');
    await redis.xgroup('CREATE', keys.stream, 'g', '0', 'MKSTREAM');
    const ids = await addEntries(keys.stream, [100, 100, 3_000_000, 100, 100]);
    await reader.ping();
    const before = process.memoryUsage().arrayBuffers;
    const result = await tripwireRead(reader, {
      stream: keys.stream,
      group: 'g',
      consumer: 'c',
      count: 10,
      byteLimit: 256 * 1024,
    });
    expect(result?.tripped).toBe(true);
    // Cut off soon after the limit: far from the 3 MB the reply would have been.
    expect(result?.bytesReceived).toBeGreaterThan(256 * 1024);
    expect(result?.bytesReceived).toBeLessThan(1024 * 1024);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(2 * 1024 * 1024);
    const pending = (await redis.xpending(keys.stream, 'g', '-', '+', 10, 'c')) as Array<[string]>;
    expect(pending.map((p) => p[0])).toEqual(ids);
    // The command was not resent after the reconnect: nothing more was read.
    await waitFor(async () => (await reader.ping()) === 'PONG', { timeoutMs: 5000, intervalMs: 20 });
    const info = (await redis.xinfo('GROUPS', keys.stream)) as Array<Array<string | number>>;
    expect(info[0]?.[info[0].indexOf('pending') + 1]).toBe(5);
    // And the next plain read works on the new connection.
    await addEntries(keys.stream, [10]);
    const next = await tripwireRead(reader, {
      stream: keys.stream,
      group: 'g',
      consumer: 'c',
      count: 10,
      byteLimit: 256 * 1024,
    });
    expect(next?.tripped).toBe(false);
    expect(next?.tripped === false && next.entries.length).toBe(1);
  });

  it('the stream client reads plainly within budget; an entry over the payload limit is dead-lettered by the script', async () => {
    const keys = streamKeys(prefix, 'client');
    const limits: ReadLimits = {
      maxPayloadBytes: 2000,
      maxDeliveries: 5,
      suspectThreshold: 2,
      pipelineName: 'p',
      pipelineVersion: '1',
      deadLetterKey: keys.deadLetter,
    };
    const client = createStreamClient({
      redis: reader,
      stream: keys.stream,
      group: 'g',
      consumer: 'c',
      limits,
      plainReads: { cooldownMs: 60_000 },
    });
    await client.createGroup('0');
    const ids = await addEntries(keys.stream, [100, 5000, 100]);
    const page = await client.readNew(10, 1024 * 1024);
    expect(page.entries.map((e) => e.id)).toEqual([ids[0], ids[2]]);
    expect(page.entries.map((e) => e.deliveryCount)).toEqual([1, 1]);
    expect(page.entries[0]?.size).toBe('id'.length + 2 + 'data'.length + 100);
    expect(page.deadLettered).toEqual([{ id: ids[1], reason: 'oversize' }]);
    const [dead] = await redis.xrange(keys.deadLetter, '-', '+');
    const decoded = decodeDeadLetter(dead?.[1] ?? []);
    expect(decoded.ok && decoded.value.meta.sourceId).toBe(ids[1]);
    expect(decoded.ok && decoded.value.meta.reason).toBe('oversize');
    // Acknowledged by the move: only the two returned entries are pending.
    const pending = (await redis.xpending(keys.stream, 'g', '-', '+', 10)) as Array<[string]>;
    expect(pending.map((p) => p[0])).toEqual([ids[0], ids[2]]);
  });

  it('a doorbell wait whose connection drops returns instead of throwing (the read loop then reads)', async () => {
    const keys = streamKeys(prefix, 'bell');
    const client = createStreamClient({
      redis: reader,
      stream: keys.stream,
      group: 'g',
      consumer: 'c',
      doorbell: keys.doorbell,
    });
    await reader.ping();
    const waiting = client.waitForNew(200);
    await new Promise((resolve) => setTimeout(resolve, 20));
    (reader as unknown as { stream: { destroy(): void } }).stream.destroy();
    await expect(waiting).resolves.toBeUndefined();
    await waitFor(async () => (await reader.ping()) === 'PONG', { timeoutMs: 5000, intervalMs: 20 });
  });
});
