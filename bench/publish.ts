/**
 * Publish throughput: raw pipelined XADD (the floor Redis allows) against the producer's `publishBatch`,
 * non-idempotent and idempotent, measured in the same run on the same server, each on a fresh stream.
 *
 *   npm run bench:publish -- [--events 100000] [--batch 1000] [--rounds 3] [--chunk 200]
 *   REDIS_URL=redis://127.0.0.1:6379 (default)
 *
 * The raw baseline sends field lists encoded before the clock starts, so it pays for nothing but Redis;
 * the producer's figures include its validation and encoding. Each variant runs `rounds` times, interleaved,
 * after a warm-up; the median is reported. Every key the bench creates is under its own prefix and is deleted.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { encodeEnvelope } from '../src/lib/envelope.ts';
import { streamKeys } from '../src/lib/keys.ts';
import type { PublishInput } from '../src/producers/prepare-event.ts';
import { createProducer } from '../src/producers/producer.ts';
import { createUuidV7 } from '../src/producers/uuidv7.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: process.env.BENCH_EVENTS ?? '100000' },
    batch: { type: 'string', default: process.env.BENCH_BATCH ?? '1000' },
    rounds: { type: 'string', default: process.env.BENCH_ROUNDS ?? '3' },
    chunk: { type: 'string', default: process.env.BENCH_CHUNK ?? '200' },
  },
});
const EVENTS = Number(values.events);
const BATCH = Number(values.batch);
const ROUNDS = Number(values.rounds);
const CHUNK = Number(values.chunk);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `bench_${randomBytes(4).toString('hex')}`;

const newId = createUuidV7();
function makeEvents(n: number): PublishInput<object>[] {
  return Array.from({ length: n }, (_, i) => ({
    id: newId(),
    type: 'payment.captured',
    key: `acct-${i % 1000}`,
    ts: new Date().toISOString(),
    data: { paymentId: `pay_${i}`, amountMinor: 1000 + (i % 5000), currency: 'EUR', merchant: 'm_42' },
  }));
}

type Variant = (stream: string, events: PublishInput<object>[]) => Promise<void>;

const redis = new Redis(REDIS_URL, { enableAutoPipelining: false });
const plain = createProducer({ redis, keyPrefix: prefix, idempotent: false, chunkSize: CHUNK });
const idempotent = createProducer({ redis, keyPrefix: prefix, chunkSize: CHUNK });

const variants: Record<string, Variant> = {
  'raw pipelined XADD': async (stream, events) => {
    const key = streamKeys(prefix, stream).stream;
    const encoded = events.map((e) =>
      encodeEnvelope({ v: 1, ...e, key: e.key ?? '', ts: String(e.ts) } as never),
    );
    const started = performance.now();
    for (let i = 0; i < encoded.length; i += BATCH) {
      const pipeline = redis.pipeline();
      for (const fields of encoded.slice(i, i + BATCH)) pipeline.xadd(key, '*', ...fields);
      await pipeline.exec();
    }
    timings.push(performance.now() - started);
  },
  'publishBatch (idempotent: false)': async (stream, events) => {
    const started = performance.now();
    for (let i = 0; i < events.length; i += BATCH)
      await plain.publishBatch(stream, events.slice(i, i + BATCH));
    timings.push(performance.now() - started);
  },
  'publishBatch (idempotent)': async (stream, events) => {
    const started = performance.now();
    for (let i = 0; i < events.length; i += BATCH)
      await idempotent.publishBatch(stream, events.slice(i, i + BATCH));
    timings.push(performance.now() - started);
  },
};
let timings: number[] = [];

async function cleanup(): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

try {
  const info = await redis.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
  console.log(
    `publish bench: ${EVENTS} events per run, batches of ${BATCH}, Lua chunks of ${CHUNK}, ` +
      `${ROUNDS} rounds, Redis ${version} at ${new URL(REDIS_URL).host}, Node ${process.version}`,
  );
  // Warm-up: JIT, connection, script load.
  for (const [name, run] of Object.entries(variants)) await run(`warm_${name.length}`, makeEvents(5000));
  const results = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(variants)) {
      timings = [];
      await run(`r${round}_${Object.keys(variants).indexOf(name)}`, makeEvents(EVENTS));
      const perSecond = EVENTS / ((timings[0] as number) / 1000);
      results.set(name, [...(results.get(name) ?? []), perSecond]);
    }
    await cleanup();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const raw = median(results.get('raw pipelined XADD') ?? []);
  for (const [name, rates] of results) {
    const m = median(rates);
    console.log(
      `${name.padEnd(34)} ${Math.round(m).toLocaleString('en-US').padStart(9)} events/s` +
        `  ${((m / raw) * 100).toFixed(0).padStart(3)}% of raw XADD` +
        `  (rounds: ${rates.map((r) => Math.round(r)).join(', ')})`,
    );
  }
} finally {
  await cleanup();
  redis.disconnect();
}
