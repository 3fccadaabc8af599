import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createPaymentsRegistry } from '../../src/consumers/pipelines/payments/events.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { createPool } from '../../src/lib/pg.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { createProducer } from '../../src/producers/producer.ts';
import { generateBadEntries, rawSize } from '../helpers/bad-input.ts';
import { generatePaymentEvents } from '../helpers/payments-model.ts';
import { startOwnPostgres, startOwnRedis } from '../helpers/servers-own.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Does poison slow the good events down? (`npm run chaos:poison-rate`) One payments worker process drains a
 * preloaded stream of G good events, alone or interleaved with P malformed entries of every corpus kind;
 * the rate of good events is measured from the inbox's own timestamps (first to last commit), so process
 * start-up is not counted. Runs alternate (clean, poisoned, clean, poisoned, ...) to show the noise.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GOOD = Number(process.env.RATE_GOOD ?? 30_000);
const POISON = Number(process.env.RATE_POISON ?? 15_000);
const ROUNDS = Number(process.env.RATE_ROUNDS ?? 2);
const MAX_PAYLOAD_BYTES = 16_384;
/** Leave out poison entries larger than this (bytes), to tell the cost of poison bytes from per-entry cost. */
const POISON_MAX_BYTES = Number(process.env.RATE_POISON_MAX_BYTES ?? Number.POSITIVE_INFINITY);

async function main(): Promise<void> {
  const redisServer = await startOwnRedis();
  const pgServer = await startOwnPostgres();
  const redis = new Redis(redisServer.url);
  try {
    const results: Array<{ scenario: string; goodPerS: number; entriesPerS: number }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const poisoned of [false, true]) {
        const scenario = poisoned ? 'poisoned' : 'clean';
        const name = `rate_${scenario}_${round}`;
        const admin = new pg.Client({ connectionString: pgServer.url });
        await admin.connect();
        await admin.query(`CREATE DATABASE ${name}`);
        await admin.end();
        const dbUrl = pgServer.url.replace(/\/postgres$/, `/${name}`);
        const pool = createPool({ url: dbUrl, poolSize: 1 });
        await migrate(pool);
        await pool.end();

        const keys = streamKeys('streamsink', name);
        const good = generatePaymentEvents({ count: GOOD, seed: round + 1, prefix: name });
        const bad = poisoned
          ? generateBadEntries(POISON, round + 1, {
              maxPayloadBytes: MAX_PAYLOAD_BYTES,
              prefix: name,
            }).filter((e) => rawSize(e.fields) <= POISON_MAX_BYTES)
          : [];
        const badMiB = bad.reduce((n, e) => n + rawSize(e.fields), 0) / 1024 / 1024;
        const producer = createProducer({ redis, registry: createPaymentsRegistry(), idempotent: false });
        const slice = Math.ceil(GOOD / 100);
        for (let i = 0, b = 0; i < GOOD; i += slice) {
          await producer.publishBatch(name, good.slice(i, i + slice));
          const pipe = redis.pipeline();
          const end = Math.round(((i + slice) / GOOD) * bad.length);
          for (; b < Math.min(end, bad.length); b++) pipe.xadd(keys.stream, '*', ...(bad[b]?.fields ?? []));
          await pipe.exec();
        }

        const child = spawn(process.execPath, [path.join(repoRoot, 'src/cli/main.ts'), 'worker'], {
          env: {
            PATH: process.env.PATH,
            REDIS_URL: redisServer.url,
            DATABASE_URL: dbUrl,
            STREAMSINK_STREAM: name,
            STREAMSINK_GROUP: 'rate',
            STREAMSINK_CONSUMER: 'rate-worker',
            STREAMSINK_PIPELINE: 'payments',
            STREAMSINK_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
            METRICS_PORT: '0',
            LOG_LEVEL: 'warn',
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        const db = new pg.Client({ connectionString: dbUrl });
        await db.connect();
        try {
          await waitFor(
            async () => {
              const { rows } = await db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
              return rows[0].n >= GOOD && (await redis.xlen(keys.deadLetter)) >= bad.length;
            },
            { timeoutMs: 300_000, intervalMs: 200 },
          );
          const { rows } = await db.query(
            'SELECT extract(epoch FROM max(processed_at) - min(processed_at))::float8 AS s FROM streamsink_inbox',
          );
          const seconds = Math.max(0.001, rows[0].s as number);
          results.push({
            scenario,
            goodPerS: Math.round(GOOD / seconds),
            entriesPerS: Math.round((GOOD + bad.length) / seconds),
          });
          console.log(
            `${scenario.padEnd(9)} round ${round}: ${GOOD} good + ${bad.length} poison (${badMiB.toFixed(1)} MiB) in ${seconds.toFixed(2)} s: ` +
              `${Math.round(GOOD / seconds)} good events/s (${Math.round((GOOD + bad.length) / seconds)} entries/s)`,
          );
        } finally {
          await db.end();
          child.kill('SIGTERM');
          await new Promise((r) => child.once('exit', r));
        }
      }
    }
    const mean = (s: string) => {
      const xs = results.filter((r) => r.scenario === s).map((r) => r.goodPerS);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    console.log(
      `good events/s: clean ${mean('clean').toFixed(0)}, with poison interleaved ${mean('poisoned').toFixed(0)} ` +
        `(ratio ${(mean('poisoned') / mean('clean')).toFixed(2)})`,
    );
  } finally {
    redis.disconnect();
    await redisServer.stop();
    await pgServer.stop();
  }
}

await main();
