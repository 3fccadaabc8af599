/**
 * Publish throughput: raw pipelined XADD (the floor Redis allows) against the producer's `publishBatch`,
 * non-idempotent and idempotent, measured in the same run on the same server, each run on a fresh stream.
 *
 *   npm run bench:publish -- [--events 100000] [--batch 1000] [--rounds 5] [--chunk 200]
 *   (or BENCH_EVENTS, BENCH_BATCH, BENCH_ROUNDS, BENCH_CHUNK; REDIS_URL, default redis://127.0.0.1:6379)
 *
 * The raw baseline sends field lists encoded before its clock starts, in pipelines of `--chunk` entries (the
 * fastest way ioredis sends them), so it pays for nothing but Redis and the client library; the producer's
 * figures include its validation and encoding. Every variant awaits one batch (`--batch` events) before
 * sending the next. After a warm-up, each round runs the three variants
 * back to back in a rotating order, so a noisy neighbour hurts all of them alike; the ratio is taken within
 * each round and the median over rounds is reported. Every key the bench creates is under its own prefix
 * and deleted at the end.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { type Envelope, encodeEnvelope } from '../src/lib/envelope.ts';
import { streamKeys } from '../src/lib/redis/keys.ts';
import { createProducer } from '../src/producers/producer.ts';
import { createUuidV7 } from '../src/producers/uuidv7.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: process.env.BENCH_EVENTS ?? '100000' },
    batch: { type: 'string', default: process.env.BENCH_BATCH ?? '1000' },
    rounds: { type: 'string', default: process.env.BENCH_ROUNDS ?? '5' },
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
/** Payment-like events of ~250 bytes encoded, every field given (so the producer fills no defaults). */
function makeEvents(n: number): Envelope[] {
  return Array.from({ length: n }, (_, i) => ({
    id: newId(),
    type: 'payment.captured',
    v: 1,
    key: `acct-${i % 1000}`,
    ts: new Date().toISOString(),
    data: { paymentId: `pay_${i}`, amountMinor: 1000 + (i % 5000), currency: 'EUR', merchant: 'm_42' },
  }));
}

const redis = new Redis(REDIS_URL, { enableAutoPipelining: false });
const plain = createProducer({ redis, keyPrefix: prefix, idempotent: false, chunkSize: CHUNK });
const idempotent = createProducer({ redis, keyPrefix: prefix, chunkSize: CHUNK });

/** Publishes `events` onto a fresh stream; returns the elapsed milliseconds. */
type Variant = (stream: string, events: Envelope[]) => Promise<number>;

const RAW = 'raw pipelined XADD';
const variants: Array<[string, Variant]> = [
  [
    RAW,
    async (stream, events) => {
      const key = streamKeys(prefix, stream).stream;
      const encoded = events.map((e) => encodeEnvelope(e));
      const started = performance.now();
      for (let i = 0; i < encoded.length; i += BATCH) {
        // Sent in pipelines of `--chunk` like the producer, so Redis starts on one while the next is written.
        const sends: Promise<unknown>[] = [];
        for (let j = i; j < Math.min(i + BATCH, encoded.length); j += CHUNK) {
          const pipeline = redis.pipeline();
          for (const fields of encoded.slice(j, Math.min(j + CHUNK, i + BATCH)))
            pipeline.xadd(key, '*', ...fields);
          sends.push(pipeline.exec());
        }
        await Promise.all(sends);
      }
      return performance.now() - started;
    },
  ],
  [
    'publishBatch (idempotent: false)',
    async (stream, events) => {
      const started = performance.now();
      for (let i = 0; i < events.length; i += BATCH)
        await plain.publishBatch(stream, events.slice(i, i + BATCH));
      return performance.now() - started;
    },
  ],
  [
    'publishBatch (idempotent)',
    async (stream, events) => {
      const started = performance.now();
      for (let i = 0; i < events.length; i += BATCH)
        await idempotent.publishBatch(stream, events.slice(i, i + BATCH));
      return performance.now() - started;
    },
  ],
];

async function cleanup(): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

try {
  const version = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
  console.log(
    `publish bench: ${fmt(EVENTS)} events per run, batches of ${BATCH}, Lua chunks of ${CHUNK}, ` +
      `${ROUNDS} rounds; Redis ${version} at ${new URL(REDIS_URL).host}, Node ${process.version}`,
  );
  for (const [name, run] of variants)
    await run(`warm_${variants.findIndex(([n]) => n === name)}`, makeEvents(10_000));
  await cleanup();

  const rates = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  const ratios = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const thisRound = new Map<string, number>();
    for (let k = 0; k < variants.length; k++) {
      const [name, run] = variants[(round + k) % variants.length] as [string, Variant];
      const ms = await run(`r${round}_${k}`, makeEvents(EVENTS));
      thisRound.set(name, EVENTS / (ms / 1000));
    }
    const raw = thisRound.get(RAW) as number;
    for (const [name, rate] of thisRound) {
      rates.get(name)?.push(rate);
      ratios.get(name)?.push(rate / raw);
    }
    await cleanup();
  }
  for (const [name] of variants) {
    const r = rates.get(name) ?? [];
    const q = ratios.get(name) ?? [];
    console.log(
      `${name.padEnd(34)} ${fmt(median(r)).padStart(9)} events/s  ${(median(q) * 100).toFixed(0).padStart(3)}% of raw XADD` +
        `   rounds: ${r.map(fmt).join(' / ')} (${q.map((x) => `${(x * 100).toFixed(0)}%`).join(' ')})`,
    );
  }
} finally {
  await cleanup();
  redis.disconnect();
}
