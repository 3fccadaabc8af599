import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';

describe('tcp proxy in front of real Redis', () => {
  const target = new URL(inject('redisUrl'));
  let proxy: TcpProxy;

  beforeAll(async () => {
    proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379) });
  });
  afterAll(async () => {
    await proxy.close();
  });

  const connect = (extra: RedisOptions = {}) =>
    new Redis({ host: proxy.host, port: proxy.port, lazyConnect: true, ...extra });

  it('passes commands through and counts connections', async () => {
    const redis = connect();
    try {
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
      const big = 'x'.repeat(200_000);
      expect(await redis.echo(big)).toBe(big);
      expect(proxy.connectionCount()).toBe(1);
    } finally {
      redis.disconnect();
    }
    await waitFor(() => proxy.connectionCount() === 0);
  });

  it('cut drops open connections and refuses new ones until restore', async () => {
    const redis = connect({ maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    const closed = new Promise<void>((resolve) => redis.once('end', () => resolve()));
    await redis.connect();
    expect(await redis.ping()).toBe('PONG');
    proxy.cut();
    await closed;
    expect(proxy.connectionCount()).toBe(0);

    const refused = connect({ retryStrategy: () => null, maxRetriesPerRequest: 0 });
    refused.on('error', () => {});
    // The TCP handshake may complete (the listener is up) but the proxy hangs up at once: no PONG comes back.
    await expect(refused.connect().then(() => refused.ping())).rejects.toThrow();
    refused.disconnect();

    proxy.restore();
    const again = connect();
    try {
      await again.connect();
      expect(await again.ping()).toBe('PONG');
    } finally {
      again.disconnect();
    }
  });

  it('a client with retries reconnects by itself after cut and restore', async () => {
    const redis = connect({ retryStrategy: () => 50 });
    redis.on('error', () => {});
    try {
      await redis.connect();
      await redis.set('tcp-proxy-test-key', '1', 'PX', 10_000);
      const before = proxy.acceptedCount();
      proxy.cut();
      setTimeout(() => proxy.restore(), 300);
      // Queued in the offline queue while cut, sent after the reconnect.
      expect(await redis.get('tcp-proxy-test-key')).toBe('1');
      expect(proxy.acceptedCount()).toBeGreaterThan(before);
    } finally {
      redis.disconnect();
    }
  });

  it('latency delays each round trip and keeps order', async () => {
    const redis = connect();
    try {
      await redis.connect();
      proxy.setLatency(100);
      const started = performance.now();
      const replies = await Promise.all([redis.echo('a'), redis.echo('b'), redis.echo('c')]);
      const elapsed = performance.now() - started;
      expect(replies).toEqual(['a', 'b', 'c']);
      // One delay each way at least; this is the behaviour under test, not a speed claim.
      expect(elapsed).toBeGreaterThanOrEqual(190);
      proxy.setLatency(0);
      expect(await redis.echo('d')).toBe('d');
    } finally {
      proxy.setLatency(0);
      redis.disconnect();
    }
  });
});
