/**
 * Ordered against unordered consumption of the same partitioned stream, on one machine: one in-process worker
 * (the real startWorker, real Redis and Postgres) drains a preloaded stream of N events spread over K keys and
 * P partitions, with the built-in event-log pipeline (the same work per event in both modes), once with
 * `ordering: 'none'` and once with `ordering: 'key'`, for R rounds each, alternating.
 *
 *   npm run bench:ordered -- [--events 20000] [--keys 5000] [--partitions 16] [--rounds 3] [--json]
 *   REDIS_URL, DATABASE_URL (defaults: local servers); STREAMSINK_* variables pass through to the workers.
 *
 * The clock starts when the worker starts (ordered mode includes acquiring its leases: a second or so of
 * coordination, once) and stops when Postgres holds all N rows. Each round uses its own stream, group and
 * schema; everything the bench creates is deleted at the end. Figures on a shared machine are noisy.
 *
 * Then, the worker idle, each round publishes --lone events through the SDK one every 100 ms (each rings its
 * partition's doorbell) and takes publish -> commit from the row's commit time (a column Postgres stamps):
 * an idle partition should read at once, not at its next poll (STREAMSINK_POLL_MS).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import pino from 'pino';
import { BUILT_IN_PIPELINES } from '../src/consumers/pipelines/index.ts';
import { startWorker } from '../src/consumers/start-worker.ts';
import { parseConfig } from '../src/lib/config.ts';
import { encodeEnvelope } from '../src/lib/envelope.ts';
import { migrate } from '../src/lib/migrations.ts';
import { partitionOf } from '../src/lib/partitions/partition-of.ts';
import { createPartitionedStream } from '../src/lib/partitions/stream-layout.ts';
import { createProducer } from '../src/producers/producer.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    keys: { type: 'string', default: '5000' },
    partitions: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
    lone: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  },
});
const positive = (name: string, v: string | undefined) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got ${v}`);
  return n;
};
const N = positive('events', values.events);
const K = positive('keys', values.keys);
const P = positive('partitions', values.partitions);
const ROUNDS = positive('rounds', values.rounds);
const LONE = positive('lone', values.lone);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RUN = randomBytes(4).toString('hex');
const PREFIX = `bench_ord_${RUN}`;

const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
const schemas: string[] = [];
const pipeline = (BUILT_IN_PIPELINES['event-log'] as NonNullable<(typeof BUILT_IN_PIPELINES)['event-log']>)({
  currencies: ['EUR'],
});

/** Publish -> commit of `LONE` events published one every 100 ms, ms, sorted. */
async function loneEvents(stream: string, pool: pg.Pool, tag: string): Promise<number[]> {
  const producer = createProducer({ redis, keyPrefix: PREFIX });
  const sentAt = new Map<string, number>();
  for (let n = 0; n < LONE; n++) {
    await new Promise((r) => setTimeout(r, 100));
    const id = `lone-${tag}-${n}`;
    sentAt.set(id, performance.timeOrigin + performance.now());
    await producer.publish(stream, { id, type: 'bench.step', key: `lone-${n}`, data: { n } });
  }
  for (;;) {
    const { rows } = await pool.query<{ event_id: string; at: number }>(
      `SELECT event_id, extract(epoch FROM applied_at) * 1000 AS at FROM event_log WHERE event_id LIKE 'lone-%'`,
    );
    if (rows.length >= LONE)
      return rows.map((r) => Number(r.at) - (sentAt.get(r.event_id) as number)).sort((a, b) => a - b);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function round(mode: 'key' | 'none', i: number): Promise<{ rate: number; lone: number[] }> {
  const tag = `${mode}_${i}`;
  const schema = `bench_ord_${tag}_${RUN}`;
  await admin.query(`CREATE SCHEMA "${schema}"`);
  schemas.push(schema);
  const url = new URL(DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const pool = new pg.Pool({ connectionString: url.toString(), max: 8 });
  pool.on('error', () => {});
  await migrate(pool, undefined, { pipelines: [pipeline] });
  await pool.query(
    'ALTER TABLE event_log ADD COLUMN applied_at timestamptz NOT NULL DEFAULT clock_timestamp()',
  );
  const stream = `ord-${tag}`;
  const { layout } = await createPartitionedStream(redis, PREFIX, stream, P, Date.now());
  if (layout.kind !== 'partitioned') throw new Error('expected a partitioned stream');
  const ts = new Date().toISOString();
  for (let start = 0; start < N; start += 2000) {
    const batch = redis.pipeline();
    for (let n = start; n < Math.min(N, start + 2000); n++) {
      const key = `k${n % K}`;
      const fields = encodeEnvelope({ id: `e-${tag}-${n}`, type: 'bench.step', v: 1, key, ts, data: { n } });
      batch.xadd(layout.partitions[partitionOf(key, P)]?.stream as string, '*', ...fields);
    }
    await batch.exec();
  }
  const workerRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const started = performance.now();
  const worker = await startWorker({
    pipeline,
    stream,
    redis: workerRedis,
    pool,
    group: `g-${tag}`,
    consumer: `bench-${tag}`,
    keyPrefix: PREFIX,
    settings: { ...parseConfig(process.env).worker, ordering: mode, leaseTtlMs: 5000 },
    logger: pino({ level: 'warn' }),
  });
  for (;;) {
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM event_log');
    if (Number(rows[0]?.n) >= N) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  const lone = await loneEvents(stream, pool, tag);
  await worker.close();
  workerRedis.disconnect();
  await pool.end();
  return { rate: N / seconds, lone };
}

async function cleanup(): Promise<void> {
  for (const s of schemas) await admin.query(`DROP SCHEMA "${s}" CASCADE`).catch(() => undefined);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  await admin.end();
}

const results: Record<'none' | 'key', number[]> = { none: [], key: [] };
const lone: Record<'none' | 'key', number[]> = { none: [], key: [] };
try {
  for (let i = 0; i < ROUNDS; i++) {
    for (const mode of ['none', 'key'] as const) {
      const r = await round(mode, i);
      results[mode].push(r.rate);
      lone[mode].push(...r.lone);
    }
  }
} finally {
  await cleanup();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
function loneSummary(ms: number[]): { p50: number; p90: number; max: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) =>
    Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(1));
  return { p50: at(0.5), p90: at(0.9), max: at(1) };
}
const summary = {
  events: N,
  keys: K,
  partitions: P,
  rounds: ROUNDS,
  unorderedPerSecond: results.none.map(Math.round),
  orderedPerSecond: results.key.map(Math.round),
  ratio: Number((median(results.key) / median(results.none)).toFixed(2)),
  loneMs: { unordered: loneSummary(lone.none), ordered: loneSummary(lone.key) },
};
if (values.json) console.log(JSON.stringify(summary));
else {
  console.log(`${N} events, ${K} keys, ${P} partitions, ${ROUNDS} rounds, one worker (median):`);
  console.log(
    `  unordered  ${Math.round(median(results.none))} events/s   ${summary.unorderedPerSecond.join(' ')}`,
  );
  console.log(
    `  ordered    ${Math.round(median(results.key))} events/s   ${summary.orderedPerSecond.join(' ')}`,
  );
  console.log(`  ordered / unordered = ${summary.ratio} (target >= 0.5)`);
  const line = (name: string, l: { p50: number; p90: number; max: number }) =>
    `  ${name}  lone events: p50 ${l.p50} ms, p90 ${l.p90} ms, max ${l.max} ms`;
  console.log(`publish -> commit of ${LONE} lone events per round (1 per 100 ms, idle worker):`);
  console.log(line('unordered', summary.loneMs.unordered));
  console.log(line('ordered  ', summary.loneMs.ordered));
}
