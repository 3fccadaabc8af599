/**
 * Redis Cluster vs a single Redis node, on this machine: both started here on loopback ports (a 3-master
 * cluster without replicas, and one redis-server with the same settings), so neither is the shared server.
 *
 *   publish      SDK idempotent publishBatch of N events (chunks of 200): to one stream on the single node, to one
 *                stream on the cluster (one slot: one master does the work), and to a 16-partition stream on
 *                the cluster (partitions spread over the three masters)
 *   worker       one `streamsink worker` process (event-log pipeline) draining N preloaded events of one
 *                unpartitioned stream, single node vs cluster; the clock runs from the worker's spawn to the
 *                N-th committed row, so it includes start-up (about a second: compare the two lines, not
 *                with bench/worker.ts). Partitioned consumption comes with the ordered worker.
 *
 *   node bench/cluster.ts [--events 20000] [--json]      DATABASE_URL (default: local Postgres)
 *
 * On a shared 2-core machine the three masters, the worker and Postgres compete for the same cores: the
 * figures say what the cluster costs in round trips and redirections here, not what three machines would give.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { RedisConfig } from '../src/lib/config.ts';
import { migrate } from '../src/lib/migrations.ts';
import { createPartitionedStream } from '../src/lib/partitions/stream-layout.ts';
import { createRedis, type RedisClient } from '../src/lib/redis/client.ts';
import { createProducer } from '../src/producers/producer.ts';
import { createTestSchema } from '../test/helpers/pg.ts';
import { startRedisCluster } from '../test/helpers/redis-cluster.ts';
import { startOwnRedis } from '../test/helpers/servers-own.ts';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '20000' }, json: { type: 'boolean', default: false } },
});
const N = Number(values.events);
if (!Number.isInteger(N) || N < 1)
  throw new Error(`--events: expected a positive integer, got ${values.events}`);
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Line {
  what: string;
  target: string;
  events: number;
  seconds: number;
  perSecond: number;
}
const lines: Line[] = [];
const record = (what: string, target: string, seconds: number) =>
  lines.push({ what, target, events: N, seconds, perSecond: Math.round(N / seconds) });

const events = (tag: string) =>
  Array.from({ length: N }, (_, i) => ({
    id: `${tag}-${i}`,
    key: `customer-${i % 1000}`,
    type: 'order.placed',
    data: { orderId: `o-${i}`, amountMinor: 1000 + (i % 5000), currency: 'EUR' },
  }));

async function publishAll(redis: RedisClient, stream: string, tag: string): Promise<number> {
  const producer = createProducer({ redis, keyPrefix: 'bench' });
  const all = events(tag);
  const started = performance.now();
  for (let i = 0; i < all.length; i += 2000) await producer.publishBatch(stream, all.slice(i, i + 2000));
  return (performance.now() - started) / 1000;
}

async function drain(env: Record<string, string>, stream: string, schemaUrl: string): Promise<number> {
  const db = new pg.Pool({ connectionString: schemaUrl, max: 1 });
  const started = performance.now();
  const child = spawn(process.execPath, ['src/cli/main.ts', 'worker'], {
    env: {
      ...process.env,
      ...env,
      DATABASE_URL: schemaUrl,
      STREAMSINK_KEY_PREFIX: 'bench',
      STREAMSINK_STREAM: stream,
      STREAMSINK_PIPELINE: 'event-log',
      STREAMSINK_CONSUMER: 'bench-worker',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (;;) {
      const { rows } = await db.query<{ n: string }>(
        'SELECT count(*) AS n FROM event_log WHERE stream = $1',
        [stream],
      );
      if (Number(rows[0]?.n) >= N) return (performance.now() - started) / 1000;
      if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await db.end();
  }
}

const single = await startOwnRedis();
const cluster = await startRedisCluster();
const schema = await createTestSchema(DATABASE_URL, 'benchc');
try {
  const db = new pg.Pool({ connectionString: schema.url, max: 1 });
  await migrate(db);
  await db.end();
  const singleConfig: RedisConfig = { url: single.url, keyPrefix: 'bench' };
  const clusterConfig: RedisConfig = {
    url: 'redis://127.0.0.1:1',
    keyPrefix: 'bench',
    clusterNodes: cluster.nodes.map((n) => ({ host: n.host, port: n.port })),
  };
  const one = createRedis(singleConfig);
  const many = createRedis(clusterConfig);
  await createPartitionedStream(many, 'bench', 'parts', 16, Date.now());

  record('publish', 'single node, 1 stream', await publishAll(one, 'orders', 's'));
  record('publish', 'cluster, 1 stream', await publishAll(many, 'orders-c', 'c'));
  record('publish', 'cluster, 16 partitions', await publishAll(many, 'parts', 'p'));
  record('worker', 'single node, 1 stream', await drain({ REDIS_URL: single.url }, 'orders', schema.url));
  record(
    'worker',
    'cluster, 1 stream',
    await drain(
      { REDIS_URL: clusterConfig.url, REDIS_CLUSTER_NODES: cluster.nodesEnv },
      'orders-c',
      schema.url,
    ),
  );
  one.disconnect();
  many.disconnect();
} finally {
  await schema.drop();
  await cluster.stop();
  await single.stop();
}

if (values.json) console.log(JSON.stringify(lines));
else
  for (const l of lines)
    console.log(
      `${l.what.padEnd(8)} ${l.target.padEnd(24)} ${String(l.events).padStart(7)} events  ${l.seconds.toFixed(2).padStart(7)} s  ${String(l.perSecond).padStart(7)} /s`,
    );
