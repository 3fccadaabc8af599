import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { contentHash } from '../../src/consumers/content-hash.ts';
import { decodeEntry } from '../../src/lib/envelope.ts';
import { ERROR_CODES, IdempotencyConflictError } from '../../src/lib/errors.ts';
import { createProducerMetrics } from '../../src/lib/metrics.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { createProducer } from '../../src/producers/producer.ts';
import { uniqueName } from '../helpers/names.ts';

/**
 * Id conflicts at the producer (docs/wire-format.md#content-hash): the dedupe marker keeps the content hash
 * the worker's inbox uses, so the same id with other content is refused, loudly, and nothing is written.
 */
const prefix = uniqueName('sspc');
let redis: Redis;

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
});

const event = (id: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'payment.captured',
  data,
  ...extra,
});

describe('idempotent publish with content hashes', () => {
  it('refuses the same id with other data: IdempotencyConflictError naming the first entry, nothing written', async () => {
    const stream = uniqueName('conf');
    const keys = streamKeys(prefix, stream);
    const producer = createProducer({ redis, keyPrefix: prefix });
    const first = await producer.publish(stream, event('pay-1', { amountMinor: 100, currency: 'EUR' }));
    expect(first.status).toBe('added');

    const error = await producer.publish(stream, event('pay-1', { amountMinor: 999, currency: 'EUR' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IdempotencyConflictError);
    expect(error).toMatchObject({
      code: ERROR_CODES.IDEMPOTENCY_CONFLICT,
      retryable: false,
      id: 'pay-1',
      entryId: first.entryId,
    });
    expect(await redis.xlen(keys.stream)).toBe(1);

    // The marker still holds the first content: publishing it again is a duplicate, not a conflict.
    const again = await producer.publish(stream, event('pay-1', { amountMinor: 100, currency: 'EUR' }));
    expect(again).toEqual({ status: 'duplicate', id: 'pay-1', entryId: first.entryId });
    expect(await redis.xlen(keys.stream)).toBe(1);
  });

  it('judges content, not form: other key order, other ts is a duplicate; other type, v or key a conflict', async () => {
    const stream = uniqueName('form');
    const producer = createProducer({ redis, keyPrefix: prefix });
    const base = event('pay-2', { amountMinor: 5, currency: 'EUR', meta: { a: 1, b: [1, 2] } }, { key: 'k' });
    await producer.publish(stream, { ...base, ts: '2026-01-01T00:00:00Z' });
    const reordered = event(
      'pay-2',
      { meta: { b: [1, 2], a: 1 }, currency: 'EUR', amountMinor: 5 },
      { key: 'k' },
    );
    const results = await producer.publishBatch(stream, [
      { ...reordered, ts: '2026-06-01T00:00:00Z' },
      { ...base, type: 'payment.refunded' },
      { ...base, v: 2 },
      { ...base, key: 'other' },
      event('pay-2', { amountMinor: 5, currency: 'EUR', meta: { a: 1, b: [2, 1] } }, { key: 'k' }),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'duplicate',
      'conflict',
      'conflict',
      'conflict',
      'conflict',
    ]);
    expect(await redis.xlen(streamKeys(prefix, stream).stream)).toBe(1);
  });

  it('judges repeats inside one chunk and across chunks alike, and counts conflicts in metrics', async () => {
    const metricsRegistry = new Registry();
    const metrics = createProducerMetrics(metricsRegistry);
    for (const chunkSize of [200, 1]) {
      const stream = uniqueName(`chunk${chunkSize}`);
      const producer = createProducer({ redis, keyPrefix: prefix, chunkSize, metrics });
      const a = event('pay-3', { amountMinor: 1 });
      const b = event('pay-3', { amountMinor: 2 });
      const results = await producer.publishBatch(stream, [a, b, a, b]);
      expect(results.map((r) => r.status)).toEqual(['added', 'conflict', 'duplicate', 'conflict']);
      const firstEntry = (results[0] as { entryId: string }).entryId;
      for (const r of results) expect(r).toMatchObject({ id: 'pay-3', entryId: firstEntry });
      const conflict = results[1];
      if (conflict?.status !== 'conflict') throw new Error('expected a conflict');
      expect(conflict.error).toBeInstanceOf(IdempotencyConflictError);
      expect(conflict.error.contentHash).toBe(
        contentHash({ type: b.type, v: 1, key: 'pay-3', data: b.data }),
      );
      expect(await redis.xlen(streamKeys(prefix, stream).stream)).toBe(1);
      const text = await metricsRegistry.metrics();
      expect(text).toContain(`streamsink_published_total{stream="${stream}",outcome="conflict"} 2`);
    }
  });

  it('keeps the hash the worker computes: over the payload as it reads it back (a Date is its ISO text)', async () => {
    const stream = uniqueName('hash');
    const keys = streamKeys(prefix, stream);
    const producer = createProducer({ redis, keyPrefix: prefix });
    const when = new Date('2026-03-04T05:06:07.000Z');
    await producer.publish(stream, event('pay-4', { at: when, n: -0, s: 'é\u2028' }));
    const [[, fields] = ['', []]] = await redis.xrange(keys.stream, '-', '+');
    const decoded = decodeEntry(fields);
    if (!decoded.ok) throw new Error(decoded.message);
    const marker = await redis.get(keys.dedupe('pay-4'));
    expect(marker?.split(' ')[1]).toBe(contentHash(decoded.envelope));
    // The same content with the date already as text is the same event.
    const again = await producer.publish(
      stream,
      event('pay-4', { at: when.toISOString(), n: 0, s: 'é\u2028' }),
    );
    expect(again.status).toBe('duplicate');
  });

  it('reads an older marker (entry id only) as unknown content: a duplicate whatever the content', async () => {
    const stream = uniqueName('old');
    const keys = streamKeys(prefix, stream);
    await redis.set(keys.dedupe('pay-5'), '1700000000000-0', 'PX', 60_000);
    const producer = createProducer({ redis, keyPrefix: prefix });
    const result = await producer.publish(stream, event('pay-5', { amountMinor: 7 }));
    expect(result).toEqual({ status: 'duplicate', id: 'pay-5', entryId: '1700000000000-0' });
    expect(await redis.get(keys.dedupe('pay-5'))).toBe('1700000000000-0');
    expect(await redis.exists(keys.stream)).toBe(0);
  });
});
