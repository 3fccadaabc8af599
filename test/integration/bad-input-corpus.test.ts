import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDeadLetterer } from '../../src/consumers/dead-letter.ts';
import { createPgSink } from '../../src/consumers/pg-sink.ts';
import { createPipeline } from '../../src/consumers/pipelines/index.ts';
import { createPaymentsRegistry } from '../../src/consumers/pipelines/payments/events.ts';
import { createWorker, type Worker } from '../../src/consumers/worker.ts';
import { parseConfig } from '../../src/lib/config.ts';
import { decodeDeadLetter } from '../../src/lib/dead-letter-entry.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { createPool, type Pool } from '../../src/lib/pg.ts';
import { createRedis, type RedisClient as Redis } from '../../src/lib/redis/client.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { createProducer } from '../../src/producers/producer.ts';
import { type BadEntry, generateBadEntries, generateSdkBadInputs } from '../helpers/bad-input.ts';
import { uniqueName } from '../helpers/names.ts';
import { diffState, expectedState, generatePaymentEvents, readState } from '../helpers/payments-model.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The bad-input corpus: over 10,000 malformed entries of every kind the generator knows, written with raw
 * XADD and through the SDK where it lets them through, interleaved with good payment events, read by one
 * in-process payments worker (in-process so the test can look at Object.prototype of the process that parsed
 * them). Every bad entry must end in the dead-letter stream exactly once with an expected reason, every good
 * event must be applied, and the worker must keep running.
 */
const RAW_BAD = 10_000;
const SDK_BAD = 900;
const GOOD = 4_000;
const MAX_PAYLOAD_BYTES = 4096;

describe('bad-input corpus', () => {
  const stream = uniqueName('corpus');
  const group = uniqueName('g');
  const prefix = uniqueName('c');
  // Its own key prefix: nothing of this test lands under the default `streamsink` in a developer's Redis.
  const keyPrefix = uniqueName('sscorpus');
  let schema: TestSchema;
  let redis: Redis;
  let blocking: Redis;
  let producerRedis: Redis;
  let pool: Pool;
  let worker: Worker;
  const logLines: string[] = [];

  beforeAll(async () => {
    schema = await createTestSchema(inject('databaseUrl'), 'corpus');
    const config = parseConfig(
      {
        REDIS_URL: inject('redisUrl'),
        DATABASE_URL: schema.url,
        STREAMSINK_KEY_PREFIX: keyPrefix,
        STREAMSINK_STREAM: stream,
        STREAMSINK_GROUP: group,
        STREAMSINK_CONSUMER: 'corpus-worker',
        STREAMSINK_PIPELINE: 'payments',
        STREAMSINK_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
        LOG_LEVEL: 'warn',
      },
      { hostname: 'corpus' },
    );
    const destination = new Writable({
      write(chunk, _enc, cb) {
        logLines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    const logger = createLogger(config.log, { destination });
    redis = createRedis(config.redis, { name: 'corpus:worker' });
    blocking = createRedis(config.redis, { name: 'corpus:reader' });
    producerRedis = createRedis(config.redis, { name: 'corpus:producer' });
    pool = createPool(config.postgres);
    await migrate(pool);
    const keys = streamKeys(config.redis.keyPrefix, stream);
    const pipeline = createPipeline('payments', { currencies: config.payments.currencies });
    worker = createWorker({
      redis,
      blockingRedis: blocking,
      sink: createPgSink({ pool, pipeline, stream, group }),
      pipeline,
      deadLetterer: createDeadLetterer({
        redis,
        keys,
        group,
        consumer: config.worker.consumer,
        pipelineName: pipeline.name,
        pipelineVersion: pipeline.version,
      }),
      keys,
      config: config.worker,
      logger,
    });
    await worker.start();
  });

  afterAll(async () => {
    await worker?.close();
    // The stream, its dead letters and the checked producer's dedupe keys.
    let cursor = '0';
    do {
      const [next, found] = (await redis?.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 5000)) ?? [
        '0',
        [],
      ];
      if (found.length > 0) await redis?.unlink(...found);
      cursor = next;
    } while (cursor !== '0');
    redis?.disconnect();
    blocking?.disconnect();
    producerRedis?.disconnect();
    await pool?.end();
    await schema?.drop();
  });

  it('dead-letters every bad entry once with a reason, applies every good event, and survives', async () => {
    const keys = streamKeys(keyPrefix, stream);
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const arrayProtoBefore = Object.getOwnPropertyNames(Array.prototype).sort();
    const options = { maxPayloadBytes: MAX_PAYLOAD_BYTES, prefix };
    const raw = generateBadEntries(RAW_BAD, 42, options);
    const sdkBad = generateSdkBadInputs(SDK_BAD, 43, options);
    const good = generatePaymentEvents({ count: GOOD, seed: 44, prefix, accounts: 50 });

    // Good events go through a producer that knows the payments contract; bad ones through one that does
    // not (a foreign or outdated producer), which only checks the envelope and the payload's shape.
    const checked = createProducer({ redis: producerRedis, keyPrefix, registry: createPaymentsRegistry() });
    const unchecked = createProducer({ redis: producerRedis, keyPrefix, idempotent: false });

    // The SDK refuses what it can see is broken before it reaches Redis.
    const refused = await unchecked.publishBatch(stream, [
      { id: `${prefix}-r1`, type: 'payment.captured', data: JSON.parse('{"__proto__":{"polluted":1}}') },
      {
        id: `${prefix}-r2`,
        type: 'payment.captured',
        data: { x: JSON.parse('[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]') },
      },
      { id: 'has space', type: 'payment.captured', data: {} },
      { id: `${prefix}-r4`, type: '__proto__', data: {} },
      { id: `${prefix}-r5`, type: 'payment.captured', data: { amountMinor: 2 ** 53 + 2 } },
      { id: `${prefix}-r6`, type: 'payment.captured', ts: '2026-02-30T10:00:00Z', data: {} },
    ]);
    expect(refused.map((r) => (r.status === 'rejected' ? r.error.message.split(':')[0] : r.status))).toEqual([
      'forbidden_key',
      'payload_too_deep',
      'malformed_envelope',
      'malformed_envelope',
      'imprecise_number',
      'malformed_envelope',
    ]);

    const expectedBad = new Map<
      string,
      { kind: string; reasons: readonly string[]; fields?: BadEntry['fields'] }
    >();
    const started = performance.now();
    const rounds = 20;
    for (let r = 0; r < rounds; r++) {
      const rawSlice = raw.slice((r * RAW_BAD) / rounds, ((r + 1) * RAW_BAD) / rounds);
      const pipe = producerRedis.pipeline();
      for (const e of rawSlice) pipe.xadd(keys.stream, '*', ...e.fields);
      const replies = (await pipe.exec()) ?? [];
      replies.forEach(([error, id], k) => {
        expect(error).toBeNull();
        const e = rawSlice[k] as BadEntry;
        expectedBad.set(String(id), { kind: e.kind, reasons: e.wireReasons ?? e.reasons, fields: e.fields });
      });
      const goodSlice = good.slice((r * GOOD) / rounds, ((r + 1) * GOOD) / rounds);
      for (const result of await checked.publishBatch(stream, goodSlice)) expect(result.status).toBe('added');
      const sdkSlice = sdkBad.slice((r * SDK_BAD) / rounds, ((r + 1) * SDK_BAD) / rounds);
      const results = await unchecked.publishBatch(
        stream,
        sdkSlice.map((s) => s.input),
      );
      results.forEach((result, k) => {
        const s = sdkSlice[k] as (typeof sdkSlice)[number];
        expect(result.status, s.kind).toBe('added');
        if (result.status !== 'rejected')
          expectedBad.set(result.entryId, { kind: s.kind, reasons: s.reasons });
      });
    }
    expect(expectedBad.size).toBe(RAW_BAD + SDK_BAD);

    const db = new pg.Client({ connectionString: schema.url });
    await db.connect();
    try {
      await waitFor(
        async () => {
          const [dlqLen, pending] = await Promise.all([
            redis.xlen(keys.deadLetter),
            redis.xpending(keys.stream, group) as Promise<[number, ...unknown[]]>,
          ]);
          const applied = await db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
          return dlqLen >= expectedBad.size && applied.rows[0].n >= GOOD && pending[0] === 0;
        },
        {
          timeoutMs: 150_000,
          intervalMs: 250,
          describe: async () =>
            `dlq=${await redis.xlen(keys.deadLetter)} of ${expectedBad.size}, pending=${JSON.stringify(
              await redis.xpending(keys.stream, group),
            )}, applied=${(await db.query('SELECT count(*)::int AS n FROM streamsink_inbox')).rows[0].n}`,
        },
      );
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `bad-input corpus: ${expectedBad.size} bad + ${GOOD} good entries drained in ${seconds.toFixed(1)} s ` +
          `(${Math.round((expectedBad.size + GOOD) / seconds)} entries/s, including publishing)`,
      );

      // Each bad entry exactly once, with an expected reason; its original fields kept.
      const dlq = await redis.xrange(keys.deadLetter, '-', '+');
      const seen = new Map<string, number>();
      const wrong: string[] = [];
      const byReason = new Map<string, number>();
      for (const [, fields] of dlq) {
        const decoded = decodeDeadLetter(fields);
        if (!decoded.ok) {
          wrong.push(`undecodable dead letter: ${decoded.message}`);
          continue;
        }
        const { meta, original } = decoded.value;
        seen.set(meta.sourceId, (seen.get(meta.sourceId) ?? 0) + 1);
        byReason.set(meta.reason, (byReason.get(meta.reason) ?? 0) + 1);
        const bad = expectedBad.get(meta.sourceId);
        if (!bad) wrong.push(`${meta.sourceId} dead-lettered but not a bad entry (${meta.reason})`);
        else if (!bad.reasons.includes(meta.reason)) wrong.push(`${bad.kind}: reason ${meta.reason}`);
        else if (
          bad.fields?.every((f) => typeof f === 'string') &&
          JSON.stringify(original) !== JSON.stringify(bad.fields)
        )
          wrong.push(`${bad.kind}: original fields changed`);
      }
      for (const [id, bad] of expectedBad) {
        const n = seen.get(id) ?? 0;
        if (n !== 1) wrong.push(`${bad.kind} ${id} dead-lettered ${n} times`);
      }
      expect(wrong.slice(0, 20)).toEqual([]);
      console.log(`dead letters by reason: ${JSON.stringify(Object.fromEntries(byReason))}`);

      // Good events: the tables equal the independent model, exactly.
      const diff = diffState(expectedState(good), await readState(db));
      expect(diff.examples).toEqual([]);
      const inbox = await db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
      expect(inbox.rows[0].n).toBe(GOOD);
    } finally {
      await db.end();
    }

    // Nothing crashed, nothing was polluted.
    expect(worker.health().shuttingDown).toBe(false);
    expect(logLines.filter((l) => l.includes('"level":"error"') || l.includes('"level":"fatal"'))).toEqual(
      [],
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
    expect(Object.getOwnPropertyNames(Array.prototype).sort()).toEqual(arrayProtoBefore);
  }, 240_000);
});
