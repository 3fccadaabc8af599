import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeEntry } from '../../src/lib/envelope.ts';
import { TransientError } from '../../src/lib/errors.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { createProducer, type PublishResult } from '../../src/producers/producer.ts';
import { uniqueName } from '../helpers/names.ts';
import { type OwnRedis, startOwnRedis } from '../helpers/servers-own.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';

const prefix = uniqueName('ssf');
let shared: Redis;

beforeAll(() => {
  shared = new Redis(inject('redisUrl'));
});

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await shared.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await shared.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  shared.disconnect();
});

const events = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({ id: `${tag}-${i}`, type: 'tick', data: { i } }));

function statusCounts(results: PublishResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

describe('producer under faults', () => {
  // SCRIPT FLUSH would disturb everyone on the shared server, so this runs on a Redis of its own.
  describe('script cache flushed', () => {
    let own: OwnRedis;
    let redis: Redis;
    beforeAll(async () => {
      own = await startOwnRedis();
      redis = new Redis(own.url);
    });
    afterAll(async () => {
      redis.disconnect();
      await own.stop();
    });

    it('keeps publishing idempotently after SCRIPT FLUSH (NOSCRIPT falls back to the script body)', async () => {
      const producer = createProducer({ redis, keyPrefix: prefix, chunkSize: 10 });
      const first = await producer.publishBatch('flushed', events(50, 'a'));
      expect(statusCounts(first)).toEqual({ added: 50 });
      expect(await redis.script('FLUSH')).toBe('OK');
      const again = await producer.publishBatch('flushed', [...events(50, 'a'), ...events(50, 'b')]);
      expect(statusCounts(again)).toEqual({ duplicate: 50, added: 50 });
      await redis.script('FLUSH');
      expect((await producer.publish('flushed', { id: 'c-1', type: 'tick', data: {} })).status).toBe('added');
      expect(await redis.xlen(streamKeys(prefix, 'flushed').stream)).toBe(101);
    });
  });

  describe('connection cut in the middle of a batch', () => {
    let proxy: TcpProxy;
    let redis: Redis;
    const target = () => {
      const url = new URL(inject('redisUrl'));
      return { targetHost: url.hostname, targetPort: Number(url.port || 6379) };
    };
    beforeAll(async () => {
      proxy = await startTcpProxy(target());
      redis = new Redis({
        host: proxy.host,
        port: proxy.port,
        maxRetriesPerRequest: 1,
        retryStrategy: () => 50,
        enableOfflineQueue: true,
      });
      redis.on('error', () => {}); // connection errors are the point here; the publish result reports them
    });
    afterAll(async () => {
      redis.disconnect();
      await proxy.close();
    });

    it('fails with a TransientError, and a retry of the same batch adds each event exactly once', async () => {
      const stream = uniqueName('cut');
      const key = streamKeys(prefix, stream).stream;
      const producer = createProducer({ redis, keyPrefix: prefix, chunkSize: 50 });
      const batch = events(20_000, stream);
      proxy.setLatency(20);
      const publishing = producer.publishBatch(stream, batch).then(
        () => undefined,
        (error: unknown) => error,
      );
      await waitFor(async () => (await shared.xlen(key)) > 0, { intervalMs: 5 });
      // Closing the listener (not only cutting) makes reconnects fail outright, so ioredis gives up after
      // maxRetriesPerRequest; a proxy that accepts and drops would reset its retry count on every connect.
      const port = proxy.port;
      await proxy.close();
      const error = await publishing;
      expect(error).toBeInstanceOf(TransientError);
      expect((error as TransientError).retryable).toBe(true);
      const partial = await shared.xlen(key);
      expect(partial).toBeGreaterThan(0);
      expect(partial).toBeLessThan(20_000);

      proxy = await startTcpProxy({ ...target(), listenPort: port });
      const retry = await producer.publishBatch(stream, batch);
      const counts = statusCounts(retry);
      expect(counts.rejected).toBeUndefined();
      expect((counts.added ?? 0) + (counts.duplicate ?? 0)).toBe(20_000);
      expect(counts.duplicate).toBeGreaterThanOrEqual(partial);

      const entries = await shared.xrange(key, '-', '+');
      expect(entries).toHaveLength(20_000);
      const ids = entries.map(([, f]) => {
        const d = decodeEntry(f);
        return d.ok ? d.envelope.id : 'undecodable';
      });
      expect(new Set(ids).size).toBe(20_000);
    });
  });
});
