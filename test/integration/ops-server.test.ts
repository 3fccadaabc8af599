import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startMetricsSampler } from '../../src/consumers/metrics-sampler.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createRegistry, createWorkerMetrics, registerBuildInfo } from '../../src/lib/metrics.ts';
import { type HealthSnapshot, type OpsServer, startOpsServer } from '../../src/lib/ops-server.ts';
import { createPool, type Pool } from '../../src/lib/pg.ts';
import { createRedis, type RedisClient as Redis } from '../../src/lib/redis/client.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { uniqueName } from '../helpers/names.ts';
import { promtoolCheckMetrics } from '../helpers/promtool.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The ops server and the stats sampler on their own, against real Redis and Postgres reached through TCP
 * proxies that the test cuts to simulate an outage. The worker-level test is observability-worker.test.ts.
 */

const silent = createLogger({ level: 'silent', redactPaths: [] });

async function get(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
}

/** The value of one sample line, e.g. sample(text, 'streamsink_pending_messages', { group: 'g' }). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('ops server against real dependencies', () => {
  const redisTarget = new URL(inject('redisUrl'));
  const pgTarget = new URL(inject('databaseUrl'));
  let redisProxy: TcpProxy;
  let pgProxy: TcpProxy;
  let redis: Redis;
  let pool: Pool;
  let ops: OpsServer;
  const health: HealthSnapshot = {
    loopTurnedAt: Date.now(),
    sinkFailing: false,
    shuttingDown: false,
    inFlight: 0,
  };
  const registry = createRegistry({ defaultMetrics: true });
  const metrics = createWorkerMetrics(registry);
  registerBuildInfo(registry, { version: '0.0.0-test' });

  beforeAll(async () => {
    redisProxy = await startTcpProxy({
      targetHost: redisTarget.hostname,
      targetPort: Number(redisTarget.port || 6379),
    });
    pgProxy = await startTcpProxy({
      targetHost: pgTarget.hostname,
      targetPort: Number(pgTarget.port || 5432),
    });
    redis = createRedis({ url: `redis://${redisProxy.host}:${redisProxy.port}`, keyPrefix: 'x' });
    redis.on('error', () => {}); // expected while the proxy is cut
    const pgUrl = new URL(pgTarget);
    pgUrl.hostname = pgProxy.host;
    pgUrl.port = String(pgProxy.port);
    pool = createPool({ url: pgUrl.toString(), poolSize: 2 });
    ops = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      registry,
      health: () => ({ ...health }),
      checks: { redis: () => redis.ping(), postgres: () => pool.query('SELECT 1') },
      livenessDeadlineMs: 1000,
      checkTimeoutMs: 500,
      logger: silent,
    });
  });

  afterAll(async () => {
    await ops?.close();
    redis?.disconnect();
    await pool?.end();
    await redisProxy?.close();
    await pgProxy?.close();
  });

  it('serves Prometheus text from the registry it was given', async () => {
    // The loop "turned" just now: on a loaded machine setup alone can outlast the 1 s liveness deadline.
    health.loopTurnedAt = Date.now();
    metrics.messages.inc({ stream: 's', group: 'g', pipeline: 'event-log', outcome: 'acked' }, 3);
    const res = await get(ops.port, '/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/plain');
    expect(sample(res.body, 'streamsink_messages_total', { outcome: 'acked' })).toBe(3);
    expect(sample(res.body, 'streamsink_build_info', { version: '0.0.0-test' })).toBe(1);
    expect(res.body).toContain('process_cpu_seconds_total');
    expect((await get(ops.port, '/nope')).status).toBe(404);
    const post = await fetch(`http://127.0.0.1:${ops.port}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    const head = await fetch(`http://127.0.0.1:${ops.port}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('passes promtool check metrics', async () => {
    const res = await get(ops.port, '/metrics');
    const out = await promtoolCheckMetrics(res.body);
    expect(out.code, out.output).toBe(0);
  });

  it('is ready with both dependencies up, and names Postgres while it is unreachable; alive throughout', async () => {
    const ready = await get(ops.port, '/readyz');
    expect(ready.status, ready.body).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'ready', failing: [] });

    pgProxy.cut();
    await pool.query('SELECT 1').catch(() => undefined); // the pool notices the dead connection
    const down = await waitFor(async () => {
      const r = await get(ops.port, '/readyz');
      return r.status === 503 ? r : undefined;
    });
    expect(JSON.parse(down.body)).toMatchObject({ status: 'not_ready', failing: ['postgres'] });
    health.loopTurnedAt = Date.now();
    expect((await get(ops.port, '/healthz')).status).toBe(200);

    pgProxy.restore();
    await waitFor(async () => (await get(ops.port, '/readyz')).status === 200, { timeoutMs: 15_000 });
  });

  it('names Redis while it is unreachable and recovers after', async () => {
    redisProxy.cut();
    const down = await waitFor(async () => {
      const r = await get(ops.port, '/readyz');
      return r.status === 503 ? r : undefined;
    });
    expect(JSON.parse(down.body).failing).toEqual(['redis']);
    redisProxy.restore();
    await waitFor(async () => (await get(ops.port, '/readyz')).status === 200, { timeoutMs: 15_000 });
  });

  it('fails liveness only when the loop is stuck, not while the sink fails', async () => {
    health.loopTurnedAt = Date.now() - 5000;
    health.sinkFailing = true;
    expect((await get(ops.port, '/healthz')).status).toBe(200);
    health.sinkFailing = false;
    const stuck = await get(ops.port, '/healthz');
    expect(stuck.status).toBe(503);
    expect(JSON.parse(stuck.body).status).toBe('stuck');
    health.loopTurnedAt = Date.now();
    expect((await get(ops.port, '/healthz')).status).toBe(200);
  });

  it('fails readiness for good once shutdown starts', async () => {
    expect((await get(ops.port, '/readyz')).status).toBe(200);
    ops.failReadiness();
    const r = await get(ops.port, '/readyz');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).shuttingDown).toBe(true);
  });
});

describe('stats sampler against real Redis', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniqueName('obs');
  const keys = streamKeys(prefix, 'payments');
  const group = 'workers';
  let redis: Redis;

  beforeAll(() => {
    redis = createRedis({ url: redisUrl, keyPrefix: prefix });
  });
  afterAll(async () => {
    await redis.del(keys.stream, keys.deadLetter);
    redis.disconnect();
  });

  it('reports lag, pending, oldest pending age, stream and dead-letter length', async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const metrics = createWorkerMetrics(registry);
    const start = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await redis.xadd(keys.stream, '*', 'n', String(i))) as string);
    await redis.xgroup('CREATE', keys.stream, group, '0');
    // Deliver 4, acknowledge 1: pending 3, lag 6.
    await redis.xreadgroup('GROUP', group, 'c1', 'COUNT', 4, 'STREAMS', keys.stream, '>');
    await redis.xack(keys.stream, group, ids[0] as string);
    await redis.xadd(keys.deadLetter, '*', 'reason', 'schema_violation');
    await redis.xadd(keys.deadLetter, '*', 'reason', 'oversize');

    const now = start + 30_000;
    const sampler = startMetricsSampler({
      redis,
      keys,
      group,
      metrics,
      intervalMs: 60_000,
      logger: silent,
      now: () => now,
    });
    try {
      expect(await sampler.sampleNow()).toBe(true);
      const text = await registry.metrics();
      const labels = { stream: 'payments', group };
      expect(sample(text, 'streamsink_consumer_lag_messages', labels)).toBe(6);
      expect(sample(text, 'streamsink_pending_messages', labels)).toBe(3);
      const oldestMs = Number((ids[1] as string).split('-')[0]);
      expect(sample(text, 'streamsink_oldest_pending_age_seconds', labels)).toBeCloseTo(
        (now - oldestMs) / 1000,
        3,
      );
      expect(sample(text, 'streamsink_stream_length_messages', { stream: 'payments' })).toBe(10);
      expect(sample(text, 'streamsink_dead_letter_messages', { stream: 'payments' })).toBe(2);
      expect(sample(text, 'streamsink_stats_sampled_timestamp_seconds', labels)).toBe(now / 1000);

      // Everything delivered and acknowledged: lag and pending go to 0.
      const rest = (await redis.xreadgroup(
        'GROUP',
        group,
        'c1',
        'COUNT',
        100,
        'STREAMS',
        keys.stream,
        '>',
      )) as Array<[string, Array<[string, string[]]>]>;
      const restIds = rest[0]?.[1].map(([id]) => id) ?? [];
      await redis.xack(keys.stream, group, ...ids.slice(1, 4), ...restIds);
      expect(await sampler.sampleNow()).toBe(true);
      const after = await registry.metrics();
      expect(sample(after, 'streamsink_consumer_lag_messages', labels)).toBe(0);
      expect(sample(after, 'streamsink_pending_messages', labels)).toBe(0);
      expect(sample(after, 'streamsink_oldest_pending_age_seconds', labels)).toBe(0);
    } finally {
      await sampler.close();
    }
  });

  it('counts a failed sample as a Redis error, keeps the last values, and recovers', async () => {
    const target = new URL(redisUrl);
    const proxy = await startTcpProxy({
      targetHost: target.hostname,
      targetPort: Number(target.port || 6379),
    });
    const viaProxy = createRedis(
      { url: `redis://${proxy.host}:${proxy.port}`, keyPrefix: prefix },
      // The worker's own connection settings otherwise: commands wait in the offline queue during the outage.
      { overrides: { retryStrategy: () => 50 } },
    );
    viaProxy.on('error', () => {}); // expected while the proxy is cut
    const registry = createRegistry({ defaultMetrics: false });
    const metrics = createWorkerMetrics(registry);
    const sampler = startMetricsSampler({
      redis: viaProxy,
      keys,
      group,
      metrics,
      intervalMs: 100,
      logger: silent,
    });
    try {
      await waitFor(async () => sample(await registry.metrics(), 'streamsink_stream_length_messages') === 10);
      proxy.cut();
      await waitFor(
        async () =>
          (sample(await registry.metrics(), 'streamsink_redis_errors_total', { kind: 'stats' }) ?? 0) >= 2,
      );
      expect(sample(await registry.metrics(), 'streamsink_stream_length_messages')).toBe(10);
      proxy.restore();
      await waitFor(() => sampler.sampleNow(), { timeoutMs: 15_000 });
    } finally {
      await sampler.close();
      viaProxy.disconnect();
      await proxy.close();
    }
  });
});
