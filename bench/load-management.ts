/**
 * Adaptive vs fixed concurrency, healthy and slowed, in one run each (docs/load-management.md#benchmark).
 *
 * For each mode, a worker (payments pipeline, in-process, its Postgres pool through a TCP proxy) works off a
 * preloaded backlog through three phases of `--phase` seconds each:
 *
 *   healthy     no added latency
 *   slowed      the proxy delays every chunk by `--latency` ms in both directions (default 20)
 *   recovered   latency removed again, in the same run (no restart)
 *
 * and prints, per phase: events committed per second, p50/p99 of the batch write (enrich, breaker, limiter
 * and the Postgres transaction) and the mean concurrency limit. The recovered phase is also shown for its
 * second half ("recovered*"), once the limit had time to climb back. Events committed after the backlog ran
 * out would understate throughput: the bench says so when it happens (raise --events).
 *
 *   npm run bench:load -- [--events 150000] [--phase 10] [--latency 20] [--concurrency 8] [--batch 100]
 *       [--only adaptive,fixed] [--json]
 *   REDIS_URL, DATABASE_URL (defaults: local servers). Every key and schema it creates is deleted at the end.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { BUILT_IN_PIPELINES } from '../src/consumers/pipelines/index.ts';
import { startWorker } from '../src/consumers/start-worker.ts';
import { parseConfig } from '../src/lib/config.ts';
import { encodeEnvelope } from '../src/lib/envelope.ts';
import { createRegistry, createWorkerMetrics } from '../src/lib/metrics.ts';
import { migrate } from '../src/lib/migrations.ts';
import { streamKeys } from '../src/lib/redis/keys.ts';
import { generatePaymentEvents } from '../test/helpers/payments-model.ts';
import { createTestSchema } from '../test/helpers/pg.ts';
import { startTcpProxy } from '../test/helpers/tcp-proxy.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '150000' },
    phase: { type: 'string', default: '10' },
    latency: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '8' },
    batch: { type: 'string', default: '100' },
    only: { type: 'string', default: 'adaptive,fixed' },
    json: { type: 'boolean', default: false },
  },
});
const positive = (name: string, v: string | undefined) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got ${v}`);
  return n;
};
const N = positive('events', values.events);
const PHASE_MS = positive('phase', values.phase) * 1000;
const LATENCY = positive('latency', values.latency);
const CONCURRENCY = positive('concurrency', values.concurrency);
const BATCH = positive('batch', values.batch);
const MODES = (values.only ?? '').split(',').map((s) => s.trim());
for (const m of MODES) if (m !== 'adaptive' && m !== 'fixed') throw new Error(`--only: unknown mode ${m}`);

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RUN = randomBytes(4).toString('hex');
const PHASES = ['healthy', 'slowed', 'recovered'] as const;

interface Write {
  endedAt: number;
  ms: number;
  committed: number;
  limit: number;
}

interface Row {
  mode: string;
  phase: string;
  eventsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  meanLimit: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function summarise(mode: string, phase: string, writes: Write[], from: number, to: number): Row {
  const inPhase = writes.filter((w) => w.endedAt >= from && w.endedAt < to);
  const ms = inPhase.map((w) => w.ms).sort((a, b) => a - b);
  const committed = inPhase.reduce((s, w) => s + w.committed, 0);
  return {
    mode,
    phase,
    eventsPerSecond: Math.round(committed / ((to - from) / 1000)),
    p50Ms: Math.round(quantile(ms, 0.5)),
    p99Ms: Math.round(quantile(ms, 0.99)),
    meanLimit: inPhase.length
      ? Number((inPhase.reduce((s, w) => s + w.limit, 0) / inPhase.length).toFixed(1))
      : 0,
  };
}

async function runMode(mode: 'adaptive' | 'fixed', events: ReturnType<typeof generatePaymentEvents>) {
  const schema = await createTestSchema(DATABASE_URL, `bench_load_${mode}`);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const streamName = `load_${RUN}_${mode}`;
  const keys = streamKeys(`bench_${RUN}`, streamName);
  const target = new URL(DATABASE_URL);
  const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
  const proxied = new URL(schema.url);
  proxied.host = `${proxy.host}:${proxy.port}`;
  const pool = new pg.Pool({ connectionString: proxied.toString(), max: CONCURRENCY + 2 });
  pool.on('error', () => {});
  const definition = BUILT_IN_PIPELINES.payments?.({ currencies: ['EUR', 'USD', 'GBP'] });
  if (!definition) throw new Error('no payments pipeline');
  try {
    const admin = new pg.Pool({ connectionString: schema.url, max: 1 });
    await migrate(admin, undefined, { pipelines: [definition] });
    await admin.end();
    for (let i = 0; i < events.length; i += 5000) {
      const p = redis.pipeline();
      for (const e of events.slice(i, i + 5000)) p.xadd(keys.stream, '*', ...encodeEnvelope(e));
      await p.exec();
    }
    const metrics = createWorkerMetrics(createRegistry({ defaultMetrics: false }));
    const writes: Write[] = [];
    const settings = parseConfig({
      STREAMSINK_CONCURRENCY: String(CONCURRENCY),
      STREAMSINK_CONCURRENCY_MODE: mode,
      STREAMSINK_BATCH_SIZE: String(BATCH),
      STREAMSINK_MAX_IN_FLIGHT: String(CONCURRENCY * BATCH),
    }).worker;
    const limitNow = async () => (await metrics.concurrencyLimit.get()).values[0]?.value ?? Number.NaN;
    const worker = await startWorker({
      pipeline: definition,
      stream: streamName,
      redis,
      pool,
      keyPrefix: `bench_${RUN}`,
      consumer: 'bench',
      settings,
      metrics,
      sinkMiddleware: (sink) => ({
        async write(items) {
          const startedAt = performance.now();
          const result = await sink.write(items);
          const endedAt = performance.now();
          writes.push({
            endedAt,
            ms: endedAt - startedAt,
            committed: result.applied.length + result.duplicates.length,
            limit: await limitNow(),
          });
          return result;
        },
      }),
    });
    const start = performance.now();
    const bounds = PHASES.map((_, i) => start + i * PHASE_MS);
    await new Promise((r) => setTimeout(r, PHASE_MS));
    proxy.setLatency(LATENCY);
    await new Promise((r) => setTimeout(r, PHASE_MS));
    proxy.setLatency(0);
    await new Promise((r) => setTimeout(r, PHASE_MS));
    const end = performance.now();
    const committedTotal = writes.reduce((s, w) => s + w.committed, 0);
    await worker.close();
    const rows = PHASES.map((phase, i) =>
      summarise(mode, phase, writes, bounds[i] as number, (bounds[i + 1] ?? end) as number),
    );
    rows.push(summarise(mode, 'recovered*', writes, start + 2.5 * PHASE_MS, end));
    return { rows, ranOut: committedTotal >= events.length };
  } finally {
    await pool.end().catch(() => {});
    await proxy.close();
    await redis.del(keys.stream, keys.deadLetter).catch(() => {});
    redis.disconnect();
    await schema.drop();
  }
}

const events = generatePaymentEvents({ count: N, seed: 1515, accounts: 20_000, prefix: `lb${RUN}` });
const all: Row[] = [];
for (const mode of MODES as Array<'adaptive' | 'fixed'>) {
  const { rows, ranOut } = await runMode(mode, events);
  if (ranOut) console.error(`${mode}: the backlog ran out before the end; raise --events for a fair figure`);
  all.push(...rows);
}
if (values.json) console.log(JSON.stringify(all, null, 2));
else {
  console.log(
    `load management: payments pipeline, concurrency ${CONCURRENCY}, batch ${BATCH}, +${LATENCY} ms per chunk while slowed, ${PHASE_MS / 1000} s per phase`,
  );
  console.log('mode      phase        events/s   p50 ms   p99 ms   mean limit');
  for (const r of all)
    console.log(
      `${r.mode.padEnd(9)} ${r.phase.padEnd(12)} ${String(r.eventsPerSecond).padStart(8)} ${String(r.p50Ms).padStart(8)} ${String(r.p99Ms).padStart(8)} ${String(r.meanLimit).padStart(12)}`,
    );
}
